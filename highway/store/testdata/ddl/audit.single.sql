CREATE TABLE IF NOT EXISTS `db_restricted`.`highway_audit` (
  `at` DateTime,
  `at_ms` UInt64,
  `department` String,
  `token_id` String,
  `client` String,
  `action` String,
  `route` String,
  `feed` String,
  `detail` String,
  `status` UInt16,
  `rows` UInt64,
  `bytes` UInt64,
  `duration_ms` UInt32,
  `error` String,
  `chain` String,
  `seq` UInt64,
  `prev_hash` String,
  `hash` String,
  `signer` String,
  `signature` String
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(at)
ORDER BY (at, department);
