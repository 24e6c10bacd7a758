package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
)

// QualityOffsetsTable keeps, for each ledger run, the end offset of every
// partition of each feed's topic: consecutive runs bound the messages the
// reconciliation checks.
const QualityOffsetsTable = "highway_quality_offsets"

var offsetColumns = []column{
	{"feed", "String"}, {"bucket", "DateTime"}, {"partition", "Int32"}, {"end_offset", "Int64"},
	{"measured_at", "DateTime"}, {ColAttempt, "UInt32"},
}

func (s *Store) offsetsTable() string {
	return quoteIdent(s.ddl.Layout().Restricted) + "." + quoteIdent(QualityOffsetsTable)
}

// TopicEnds are the end offsets of a topic's partitions as measured at a
// time.
type TopicEnds struct {
	At   time.Time
	Ends map[int]int64
}

// WriteTopicEnds records the end offsets measured by the given attempt of
// a ledger bucket.
func (s *Store) WriteTopicEnds(ctx context.Context, feed string, bucket time.Time, ends TopicEnds, attempt int) error {
	if len(ends.Ends) == 0 {
		return nil
	}
	b, err := s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s (feed, bucket, partition, end_offset, measured_at, %s)", s.offsetsTable(), quoteIdent(ColAttempt)))
	if err != nil {
		return fmt.Errorf("preparing the offsets insert: %w", err)
	}
	for p, e := range ends.Ends {
		if err := b.Append(feed, bucket.UTC(), int32(p), e, ends.At.UTC(), uint32(attempt)); err != nil {
			_ = b.Abort()
			return fmt.Errorf("appending the offsets of %s: %w", feed, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("inserting the offsets of %s: %w", feed, err)
	}
	return nil
}

// ReadTopicEnds returns the end offsets recorded for a feed's bucket by its
// highest attempt; ok is false when none were.
func (s *Store) ReadTopicEnds(ctx context.Context, feed string, bucket time.Time) (TopicEnds, bool, error) {
	q := fmt.Sprintf(`SELECT partition, end_offset, measured_at FROM %s WHERE feed = %s AND bucket = toDateTime(%d)
		AND %s = (SELECT max(%s) FROM %s WHERE feed = %s AND bucket = toDateTime(%d))`,
		s.offsetsTable(), quoteString(feed), bucket.Unix(), quoteIdent(ColAttempt), quoteIdent(ColAttempt), s.offsetsTable(), quoteString(feed), bucket.Unix())
	out := TopicEnds{Ends: map[int]int64{}}
	err := s.QueryEach(ctx, q, func(scan func(...any) error) error {
		var p int32
		var e int64
		var at time.Time
		if err := scan(&p, &e, &at); err != nil {
			return err
		}
		out.Ends[int(p)] = e
		out.At = at.UTC()
		return nil
	})
	if err != nil {
		return TopicEnds{}, false, fmt.Errorf("reading the offsets of %s: %w", feed, err)
	}
	return out, len(out.Ends) > 0, nil
}

// OffsetRange is [From, To) of one partition.
type OffsetRange struct {
	Partition int
	From, To  int64
}

// OffsetCounts is what ClickHouse holds of a set of offset ranges of a
// feed's topic.
type OffsetCounts struct {
	// Stored are offsets with rows in the feed's table, DeadLettered those
	// in the processors' dead letters, Explained those in either.
	Stored, DeadLettered, Explained uint64
	// InFlight are offsets beyond the highest either holds, per partition.
	InFlight uint64
}

// CountOffsets checks which offsets of the ranges ClickHouse holds, in the
// feed's table or as processors' dead letters.
func (s *Store) CountOffsets(ctx context.Context, feed *catalog.Feed, ranges []OffsetRange) (OffsetCounts, error) {
	var c OffsetCounts
	if len(ranges) == 0 {
		return c, nil
	}
	sort.Slice(ranges, func(i, j int) bool { return ranges[i].Partition < ranges[j].Partition })
	cond := func(p, o string) string {
		var or []string
		for _, r := range ranges {
			or = append(or, fmt.Sprintf("(%s = %d AND %s >= %d AND %s < %d)", p, r.Partition, o, r.From, o, r.To))
		}
		return "(" + strings.Join(or, " OR ") + ")"
	}
	tbl := s.ddl.FeedTable(feed)
	topic := quoteString(feed.Topic())
	stored := fmt.Sprintf("SELECT %s AS p, %s AS o FROM %s WHERE %s = %s AND %s", quoteIdent(ColPartition), quoteIdent(ColOffset), tbl,
		quoteIdent(ColTopic), topic, cond(quoteIdent(ColPartition), quoteIdent(ColOffset)))
	dead := fmt.Sprintf("SELECT source_partition AS p, source_offset AS o FROM %s WHERE feed = %s AND stage = %s AND %s",
		s.deadLetterTable(), quoteString(feed.Name), quoteString(StageProcessor), cond("source_partition", "source_offset"))
	q := fmt.Sprintf("SELECT (SELECT uniqExact(p, o) FROM (%s)), (SELECT uniqExact(p, o) FROM (%s)), (SELECT uniqExact(p, o) FROM (%s UNION ALL %s))", stored, dead, stored, dead)
	if err := s.conn.QueryRow(ctx, q).Scan(&c.Stored, &c.DeadLettered, &c.Explained); err != nil {
		return c, fmt.Errorf("reconciling the offsets of %s: %w", feed.Name, err)
	}
	high := map[int]int64{}
	hq := fmt.Sprintf("SELECT p, max(o) FROM (SELECT %s AS p, %s AS o FROM %s WHERE %s = %s UNION ALL SELECT source_partition AS p, source_offset AS o FROM %s WHERE feed = %s AND stage = %s) GROUP BY p",
		quoteIdent(ColPartition), quoteIdent(ColOffset), tbl, quoteIdent(ColTopic), topic, s.deadLetterTable(), quoteString(feed.Name), quoteString(StageProcessor))
	err := s.QueryEach(ctx, hq, func(scan func(...any) error) error {
		var p int32
		var o int64
		if err := scan(&p, &o); err != nil {
			return err
		}
		high[int(p)] = o
		return nil
	})
	if err != nil {
		return c, fmt.Errorf("reading how far the processors of %s are: %w", feed.Name, err)
	}
	for _, r := range ranges {
		first := r.From
		if h, ok := high[r.Partition]; ok {
			first = max(first, h+1)
		}
		if first < r.To {
			c.InFlight += uint64(r.To - first)
		}
	}
	return c, nil
}
