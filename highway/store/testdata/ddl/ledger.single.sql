CREATE TABLE IF NOT EXISTS `db_restricted`.`highway_batches` (
  `topic` String,
  `partition` Int32,
  `next_offset` Int64,
  `written_at` DateTime
) ENGINE = ReplacingMergeTree(next_offset)
ORDER BY (topic, partition);
