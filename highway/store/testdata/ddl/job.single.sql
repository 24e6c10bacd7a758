CREATE TABLE IF NOT EXISTS `db`.`job_counts` (
  `_slot` DateTime,
  `_attempt` UInt32,
  `_node` String,
  `_written_at` DateTime,
  `n` UInt64
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(`_slot`)
ORDER BY (`_slot`, `_attempt`);

CREATE VIEW IF NOT EXISTS `db`.`job_counts_latest` AS SELECT * FROM `db`.`job_counts` WHERE (`_slot`, `_attempt`) IN (SELECT `_slot`, max(`_attempt`) FROM `db`.`job_counts` GROUP BY `_slot`);
