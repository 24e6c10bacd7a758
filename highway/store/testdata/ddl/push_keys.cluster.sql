CREATE TABLE IF NOT EXISTS `db_restricted`.`highway_push_keys_local` ON CLUSTER `highway` (
  `department` String,
  `key` String,
  `body_hash` String,
  `claim` String,
  `state` UInt8,
  `status` UInt16,
  `response` String,
  `at` DateTime DEFAULT now()
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/db_restricted/highway_push_keys', '{replica}')
PARTITION BY toYYYYMMDD(at)
ORDER BY (department, key, at);

CREATE TABLE IF NOT EXISTS `db_restricted`.`highway_push_keys` ON CLUSTER `highway` (
  `department` String,
  `key` String,
  `body_hash` String,
  `claim` String,
  `state` UInt8,
  `status` UInt16,
  `response` String,
  `at` DateTime DEFAULT now()
) ENGINE = Distributed('highway', 'db_restricted', 'highway_push_keys_local', cityHash64(department, key));
