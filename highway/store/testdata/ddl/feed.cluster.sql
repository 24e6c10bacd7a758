CREATE TABLE IF NOT EXISTS `db`.`td_traffic_test_local` ON CLUSTER `highway` (
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
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/db/td_traffic_test', '{replica}')
PARTITION BY toYYYYMM(`at`)
ORDER BY (`detector_id`, `lane`, `at`);

CREATE TABLE IF NOT EXISTS `db`.`td_traffic_test` ON CLUSTER `highway` (
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
) ENGINE = Distributed('highway', 'db', 'td_traffic_test_local', `_partition`);
