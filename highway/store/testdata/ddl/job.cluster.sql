CREATE TABLE IF NOT EXISTS `db`.`job_counts_local` ON CLUSTER `highway` (
  `_slot` DateTime,
  `_attempt` UInt32,
  `_node` String,
  `_written_at` DateTime,
  `n` UInt64
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/db/job_counts', '{replica}')
PARTITION BY toYYYYMM(`_slot`)
ORDER BY (`_slot`, `_attempt`);

CREATE TABLE IF NOT EXISTS `db`.`job_counts` ON CLUSTER `highway` (
  `_slot` DateTime,
  `_attempt` UInt32,
  `_node` String,
  `_written_at` DateTime,
  `n` UInt64
) ENGINE = Distributed('highway', 'db', 'job_counts_local', cityHash64(`_slot`));

CREATE VIEW IF NOT EXISTS `db`.`job_counts_latest` ON CLUSTER `highway` AS SELECT * FROM `db`.`job_counts` WHERE (`_slot`, `_attempt`) GLOBAL IN (SELECT `_slot`, max(`_attempt`) FROM `db`.`job_counts` GROUP BY `_slot`);
