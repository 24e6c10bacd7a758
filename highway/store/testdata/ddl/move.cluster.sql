RENAME TABLE `db`.`t_local` TO `db_restricted`.`t_local` ON CLUSTER `highway`;

DROP TABLE IF EXISTS `db`.`t` ON CLUSTER `highway`;
