CREATE TABLE IF NOT EXISTS `db`.`highway_quality` (
  `feed` String,
  `bucket` DateTime,
  `bucket_seconds` UInt32
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(bucket)
ORDER BY (feed, bucket);
