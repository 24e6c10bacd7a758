CREATE TABLE IF NOT EXISTS `db`.`td_traffic_test_speed_5m_local` ON CLUSTER `highway` (
  `window_start` DateTime,
  `window_end` DateTime,
  `detector_id` String,
  `rows` UInt64,
  `speed_count` UInt64,
  `speed_sum` Nullable(Float64),
  `speed_avg` Nullable(Float64),
  `_version` UInt64,
  `_computed_at` DateTime
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/td_traffic_test_speed_5m', '{replica}', `_version`)
PARTITION BY toYYYYMM(`window_start`)
ORDER BY (`window_start`, `detector_id`);

CREATE TABLE IF NOT EXISTS `db`.`td_traffic_test_speed_5m` ON CLUSTER `highway` (
  `window_start` DateTime,
  `window_end` DateTime,
  `detector_id` String,
  `rows` UInt64,
  `speed_count` UInt64,
  `speed_sum` Nullable(Float64),
  `speed_avg` Nullable(Float64),
  `_version` UInt64,
  `_computed_at` DateTime
) ENGINE = Distributed('highway', 'db', 'td_traffic_test_speed_5m_local', cityHash64(`window_start`, `detector_id`));
