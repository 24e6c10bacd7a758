ALTER TABLE `db`.`td_traffic_test_local` ON CLUSTER `highway` ADD COLUMN `speed` Nullable(Float64);

ALTER TABLE `db`.`td_traffic_test` ADD COLUMN `speed` Nullable(Float64);
