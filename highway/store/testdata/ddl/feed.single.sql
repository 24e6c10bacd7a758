CREATE TABLE IF NOT EXISTS `db`.`td_traffic_test` (
  `detector_id` String,
  `lane` Int64,
  `speed` Nullable(Float64),
  `valid` UInt8,
  `seen` Nullable(DateTime),
  `at` DateTime,
  `_topic` String,
  `_partition` Int32,
  `_offset` Int64,
  `_ingested_at` DateTime,
  `_source` String,
  `_etag` String,
  `_fetched_at` DateTime,
  `_schema_version` UInt32
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(`at`)
ORDER BY (`detector_id`, `lane`, `at`);
