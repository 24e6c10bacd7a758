ALTER TABLE `db`.`td_traffic_test` ADD COLUMN `speed` Nullable(Float64);
