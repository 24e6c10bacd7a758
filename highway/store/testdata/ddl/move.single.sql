RENAME TABLE `db`.`t` TO `db_restricted`.`t`;
