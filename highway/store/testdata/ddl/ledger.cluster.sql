CREATE TABLE IF NOT EXISTS `db_restricted`.`highway_batches_local` ON CLUSTER `highway` (
  `topic` String,
  `partition` Int32,
  `next_offset` Int64,
  `written_at` DateTime
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db_restricted/highway_batches', '{replica}', next_offset)
ORDER BY (topic, partition);

CREATE TABLE IF NOT EXISTS `db_restricted`.`highway_batches` ON CLUSTER `highway` (
  `topic` String,
  `partition` Int32,
  `next_offset` Int64,
  `written_at` DateTime
) ENGINE = Distributed('highway', 'db_restricted', 'highway_batches_local', partition);
