CREATE TABLE IF NOT EXISTS `db_restricted`.`highway_push_keys` (
  `department` String,
  `key` String,
  `body_hash` String,
  `claim` String,
  `state` UInt8,
  `status` UInt16,
  `response` String,
  `at` DateTime DEFAULT now()
) ENGINE = MergeTree()
PARTITION BY toYYYYMMDD(at)
ORDER BY (department, key, at);
