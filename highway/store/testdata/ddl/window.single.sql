CREATE TABLE IF NOT EXISTS `db`.`td_traffic_test_speed_5m` (
  `window_start` DateTime,
  `window_end` DateTime,
  `detector_id` String,
  `rows` UInt64,
  `speed_count` UInt64,
  `speed_sum` Nullable(Float64),
  `speed_avg` Nullable(Float64),
  `_version` UInt64,
  `_computed_at` DateTime
) ENGINE = ReplacingMergeTree(`_version`)
PARTITION BY toYYYYMM(`window_start`)
ORDER BY (`window_start`, `detector_id`);
