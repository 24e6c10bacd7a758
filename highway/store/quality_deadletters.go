package store

import (
	"context"
	"fmt"
	"time"
)

// DeadLetterTable keeps every dead-lettered record's where, when and why
// (not its bytes, which stay in Kafka), copied from the <feed>.dlq topics
// by highway/quality, for the ledger's reject counts and the
// reconciliation. It is in the restricted database: reasons quote values.
const DeadLetterTable = "highway_dead_letters"

// Stages of a dead letter: where the record was rejected.
const (
	// StageSource is a reject of a connector or a push, before Kafka.
	StageSource = "source"
	// StageProcessor is a reject of a processor, of a message in the topic.
	StageProcessor = "processor"
)

// DeadLetter is one row of DeadLetterTable.
type DeadLetter struct {
	Feed string
	// Partition and Offset are the dead letter's own place in <feed>.dlq;
	// they make the copy exactly-once (see DeadLetterResume).
	Partition  int32
	Offset     int64
	RejectedAt time.Time
	Reason     string
	// Class sorts the reason (range, enum, required, type, unknown_field,
	// malformed, late, other) and Field names the field at fault, or
	// "(record)".
	Class string
	Field string
	Stage string
	// SourcePartition and SourceOffset locate the rejected message in the
	// feed's topic; -1 at StageSource.
	SourcePartition int32
	SourceOffset    int64
}

var deadLetterColumns = []column{
	{"feed", "String"}, {"partition", "Int32"}, {"offset", "Int64"}, {"rejected_at", "DateTime"},
	{"reason", "String"}, {"class", "String"}, {"field", "String"}, {"stage", "String"},
	{"source_partition", "Int32"}, {"source_offset", "Int64"},
}

func (s *Store) deadLetterTable() string {
	return quoteIdent(s.ddl.Layout().Restricted) + "." + quoteIdent(DeadLetterTable)
}

// InsertDeadLetters appends dead letters in one INSERT (one block, so it
// lands whole or not at all).
func (s *Store) InsertDeadLetters(ctx context.Context, dls []DeadLetter) error {
	if len(dls) == 0 {
		return nil
	}
	names := ""
	for i, c := range deadLetterColumns {
		if i > 0 {
			names += ", "
		}
		names += quoteIdent(c.name)
	}
	b, err := s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s (%s)", s.deadLetterTable(), names))
	if err != nil {
		return fmt.Errorf("preparing the dead-letter insert: %w", err)
	}
	for _, d := range dls {
		if err := b.Append(d.Feed, d.Partition, d.Offset, d.RejectedAt.UTC(), d.Reason, d.Class, d.Field, d.Stage, d.SourcePartition, d.SourceOffset); err != nil {
			_ = b.Abort()
			return fmt.Errorf("appending a dead letter of %s: %w", d.Feed, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("inserting %d dead letters: %w", len(dls), err)
	}
	return nil
}

// DeadLetterResume returns the next offset of a feed's DLQ partition to
// copy: one past the highest the table holds; ok is false when it holds
// none.
func (s *Store) DeadLetterResume(ctx context.Context, feed string, partition int) (next int64, ok bool, err error) {
	var n uint64
	var high int64
	q := fmt.Sprintf("SELECT count(), max(offset) FROM %s WHERE feed = %s AND partition = %d", s.deadLetterTable(), quoteString(feed), partition)
	if err := s.conn.QueryRow(ctx, q).Scan(&n, &high); err != nil {
		return 0, false, fmt.Errorf("reading the dead letters copied of %s/%d: %w", feed, partition, err)
	}
	if n == 0 {
		return 0, false, nil
	}
	return high + 1, true, nil
}

// RejectCount is how many of a feed's records were dead-lettered in a time
// range, by reason class, field and stage.
type RejectCount struct {
	Class, Field, Stage string
	Count               uint64
}

// CountDeadLetters counts a feed's dead letters rejected in [from, to).
func (s *Store) CountDeadLetters(ctx context.Context, feed string, from, to time.Time) ([]RejectCount, error) {
	q := fmt.Sprintf("SELECT class, field, stage, uniqExact(partition, offset) FROM %s WHERE feed = %s AND rejected_at >= toDateTime(%d) AND rejected_at < toDateTime(%d) GROUP BY class, field, stage ORDER BY class, field, stage",
		s.deadLetterTable(), quoteString(feed), from.Unix(), to.Unix())
	var out []RejectCount
	err := s.QueryEach(ctx, q, func(scan func(...any) error) error {
		var c RejectCount
		if err := scan(&c.Class, &c.Field, &c.Stage, &c.Count); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("counting the dead letters of %s: %w", feed, err)
	}
	return out, nil
}
