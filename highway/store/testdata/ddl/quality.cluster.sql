CREATE TABLE IF NOT EXISTS `db`.`highway_quality_local` ON CLUSTER `highway` (
  `feed` String,
  `bucket` DateTime,
  `bucket_seconds` UInt32
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/db/highway_quality', '{replica}')
PARTITION BY toYYYYMM(bucket)
ORDER BY (feed, bucket);

CREATE TABLE IF NOT EXISTS `db`.`highway_quality` ON CLUSTER `highway` (
  `feed` String,
  `bucket` DateTime,
  `bucket_seconds` UInt32
) ENGINE = Distributed('highway', 'db', 'highway_quality_local', cityHash64(feed));
