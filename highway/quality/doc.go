// Package quality keeps the quality and freshness ledger of every feed: one
// row per feed and time bucket (an hour by default) in ClickHouse
// (store.QualityTable), written by a built-in scheduled job
// (analytics/jobs runs Ledger.Run for each slot), and the score made of it.
//
// # How the ledger is made, and why it is exactly-once
//
// The ledger is computed from what ClickHouse holds, not counted on the
// way: the raw feed tables (which hold every record exactly once, see the
// README's "Exactly once"), the dead letters copied from the <feed>.dlq
// topics into store.DeadLetterTable by DeadLetterCopier (exactly-once the
// same way: each copy resumes after the highest DLQ offset ClickHouse
// holds), and the end offsets of each feed's topic measured at each run.
// The scheduler runs each slot once (raft) and keys the rows by slot and
// attempt, reads take a bucket's highest attempt, and a bucket is never
// recomputed once it succeeded: a restart of any process changes no past
// figure, and the processors pay nothing for the ledger.
//
// # The figures of a bucket [start, end)
//
// Rows are those whose event time is in the bucket; dead letters those
// rejected in it (by the connectors, a push or a processor).
//
//   - rows: rows in ClickHouse; duplicates: rows identical in every field to
//     another; corrections: rows with the key and event time of another but
//     other values (a re-publication).
//   - dead_lettered: every dead letter; late: rows that landed more than two
//     intervals after their event, plus the dead letters of reason "late";
//     rejected: dead letters that are not late. Rejects are counted by
//     reason (range, enum, required, type, unknown_field, malformed, late,
//     other) and by field.
//   - per field: the share of nulls among the rows, the share of records
//     rejected for being out of the spec's range or enum (over rows plus
//     rejected), and min, max and mean of a numeric field.
//   - completeness against the cadence: the bucket is cut into intervals
//     of the feed (interval / speed in highway dev), aligned to the Unix
//     epoch; intervals_present are those with a row, gaps the others
//     (intervals_expected − present). keys_reporting are the distinct keys
//     with a row; keys_expected is the spec's expected.keys or else the
//     most keys seen in one of the 24 buckets before; keys_missing the
//     difference, and missing_keys names (up to 20) the keys that reported
//     in the bucket before and not in this one.
//   - drift: a field's mean and share of nulls against its baseline, the
//     mean over the ledger's buckets at the same time of day in the 7 days
//     before (or, when there are none, the 7 buckets just before). A mean
//     further than expected.drift_mean (default 0.5) times max(|baseline|,
//     1) from it, or a share of nulls further than expected.drift_nulls
//     (default 0.2), flags the field.
//   - freshness: max_delay_seconds is the longest wait between an event and
//     its row landing; freshness is the latest event before the bucket's end
//     judged at the end: fresh within two intervals, late within five, stale
//     beyond, empty without any row. A feed whose spec says expected.events
//     (it publishes only when something happens) has no intervals or keys
//     expected, and is "quiet" where it would be stale or empty.
//   - reconciliation: the messages that reached the feed's topic between
//     the two runs before this one (offsets [ends two runs ago, ends one run
//     ago)), so that a bucket has passed for them to settle. Messages held
//     by Kafka are compared with those ClickHouse holds as rows or as
//     processors' dead letters; the ones beyond the processors' reach are in
//     flight; of a feed whose pipeline de-duplicates, the missing ones are
//     counted as possibly deduped (processors do not record which records
//     dedupe dropped); any other missing message is unexplained, a
//     reconciliation error. source adds the records the connectors and
//     pushes rejected before Kafka in that time.
//
// # The score
//
// Each bucket scores 0 to 100, the weighted sum of six parts, each 0 to 1:
//
//	score = 100 × (0.30 completeness + 0.25 validity + 0.20 timeliness
//	             + 0.10 uniqueness + 0.10 stability + 0.05 consistency)
//
//	completeness = min(1, intervals_present / intervals_expected)
//	             × min(1, keys_reporting / keys_expected)   (1 when nothing is expected)
//	validity     = rows / (rows + rejected)                  (1 without either)
//	timeliness   = 1 fresh or quiet, 0.5 late, 0 stale or empty
//	uniqueness   = 1 − duplicates / rows                     (1 without rows)
//	stability    = 1 − drifted fields / fields with a baseline
//	consistency  = 1 − unexplained / messages                (1 without reconciliation)
//
// A feed's score in the catalogue is the mean over its last 24 buckets, and
// so are its parts (Summary).
package quality
