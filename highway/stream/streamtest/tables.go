package streamtest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/highway/stream"
)

var _ stream.Rows = (*Tables)(nil)

// Row is one row of a feed's table: the record's field values and its
// provenance columns.
type Row struct {
	// Values holds each field's value by name: string, int64, float64,
	// bool, or time.Time (UTC, milliseconds kept) for a time field; nil
	// for a null.
	Values map[string]any
	store.RowPart
	Topic         string
	Partition     int32
	IngestedAt    time.Time
	Source, ETag  string
	FetchedAt     int64
	SchemaVersion uint32
}

// Tables is an in-memory stream.Rows: the feeds' tables and the batch
// ledger. Its month partitions (store.RowPart's Month) are computed in
// UTC, as on a ClickHouse server whose time zone is UTC, and event times
// are compared at second precision, as a DateTime column holds them. It is
// safe for concurrent use; the zero value is not usable, call NewTables.
type Tables struct {
	mu     sync.Mutex
	tables map[string]*table      // by feed name
	ledger map[partitionKey]int64 // highest next offset written
	faults faults
}

type partitionKey struct {
	topic     string
	partition int
}

// table is one feed's rows and the sizes of the inserts that wrote them.
type table struct {
	feed    *catalog.Feed
	rows    []Row
	inserts []int
}

// NewTables returns empty Tables.
func NewTables() *Tables {
	return &Tables{tables: map[string]*table{}, ledger: map[partitionKey]int64{}}
}

// EnsureFeedTable creates the feed's table if it is missing.
func (s *Tables) EnsureFeedTable(_ context.Context, feed *catalog.Feed) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tableOf(feed)
	return nil
}

// tableOf returns the feed's table, creating it; s.mu is held.
func (s *Tables) tableOf(feed *catalog.Feed) *table {
	t := s.tables[feed.Name]
	if t == nil {
		t = &table{feed: feed}
		s.tables[feed.Name] = t
	}
	return t
}

// Rows returns a copy of the feed's rows in the order they were inserted.
func (s *Tables) Rows(feed *catalog.Feed) []Row {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[feed.Name]
	if t == nil {
		return nil
	}
	return append([]Row(nil), t.rows...)
}

// Count returns how many rows the feed's table holds and how many distinct
// (partition, offset) pairs among them.
func (s *Tables) Count(feed *catalog.Feed) (rows, distinct int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[feed.Name]
	if t == nil {
		return 0, 0
	}
	type at struct {
		partition int32
		offset    int64
	}
	seen := map[at]bool{}
	for _, r := range t.rows {
		seen[at{r.Partition, r.Offset}] = true
	}
	return len(t.rows), len(seen)
}

// Inserts returns the number of rows of each insert into the feed's table
// that succeeded, in order (an insert that landed in part and failed is
// not among them).
func (s *Tables) Inserts(feed *catalog.Feed) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tables[feed.Name]; t != nil {
		return append([]int(nil), t.inserts...)
	}
	return nil
}

// InsertMissing inserts the rows of rec whose (offset, month) is not in
// landed, as store.Store.InsertMissing does, after any injected fault has
// had its say (see FailInserts and InjectInsertFault). rec is not released.
func (s *Tables) InsertMissing(_ context.Context, feed *catalog.Feed, rec arrow.RecordBatch, prov store.Provenance, landed store.Landed) (inserted, skipped int, err error) {
	rows, err := toRows(feed, rec, prov)
	if err != nil {
		return 0, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tableOf(feed)
	keep := rows[:0:0]
	for _, r := range rows {
		if _, there := landed[r.RowPart]; there {
			skipped++
			continue
		}
		keep = append(keep, r)
	}
	if len(keep) == 0 {
		return 0, skipped, nil
	}
	if land, err := s.faults.take(keep); err != nil {
		for i, r := range keep {
			if i < len(land) && land[i] {
				t.rows = append(t.rows, r)
			}
		}
		return 0, skipped, fmt.Errorf("insert of %d rows into %s: %w", len(keep), feed.Table(), err)
	}
	t.rows = append(t.rows, keep...)
	t.inserts = append(t.inserts, len(keep))
	return len(keep), skipped, nil
}

// toRows converts a batch to rows, checking it fits the feed as
// store.Store.Insert does.
func toRows(feed *catalog.Feed, rec arrow.RecordBatch, prov store.Provenance) ([]Row, error) {
	n := int(rec.NumRows())
	if int(rec.NumCols()) != len(feed.Fields) || len(prov.Offsets) != n || len(prov.Partitions) != n {
		return nil, fmt.Errorf("insert into %s: batch has %d columns and %d rows but %d fields, %d offsets and %d partitions (a bug in the caller)",
			feed.Table(), rec.NumCols(), n, len(feed.Fields), len(prov.Offsets), len(prov.Partitions))
	}
	for _, vals := range []int{len(prov.Sources), len(prov.ETags), len(prov.FetchedAt), len(prov.SchemaVersions)} {
		if vals != 0 && vals != n {
			return nil, fmt.Errorf("insert into %s: provenance has %d values for %d rows (a bug in the caller)", feed.Table(), vals, n)
		}
	}
	rows := make([]Row, n)
	for i := range rows {
		r := &rows[i]
		r.Values = make(map[string]any, len(feed.Fields))
		r.Topic, r.Partition, r.Offset, r.IngestedAt = prov.Topic, prov.Partitions[i], prov.Offsets[i], prov.IngestedAt
		r.SchemaVersion = uint32(feed.Version)
		if prov.Sources != nil {
			r.Source = prov.Sources[i]
		}
		if prov.ETags != nil {
			r.ETag = prov.ETags[i]
		}
		if prov.FetchedAt != nil {
			r.FetchedAt = prov.FetchedAt[i]
		}
		if prov.SchemaVersions != nil {
			r.SchemaVersion = prov.SchemaVersions[i]
		}
	}
	for c, f := range feed.Fields {
		col := rec.Column(c)
		for i := range rows {
			v, err := value(col, i)
			if err != nil {
				return nil, fmt.Errorf("insert into %s: column %s: %w", feed.Table(), f.Name, err)
			}
			rows[i].Values[f.Name] = v
		}
	}
	ev := feed.EventTime
	for i := range rows {
		at, ok := rows[i].Values[ev].(time.Time)
		if !ok {
			return nil, fmt.Errorf("insert into %s: row %d has no event time %s (a bug in the caller)", feed.Table(), i, ev)
		}
		rows[i].Month = MonthOf(at)
	}
	return rows, nil
}

// value is row i of an Arrow column as a Go value (nil for a null).
func value(col arrow.Array, i int) (any, error) {
	if col.IsNull(i) {
		return nil, nil
	}
	switch a := col.(type) {
	case *array.String:
		return a.Value(i), nil
	case *array.Int64:
		return a.Value(i), nil
	case *array.Float64:
		return a.Value(i), nil
	case *array.Boolean:
		return a.Value(i), nil
	case *array.Timestamp:
		return time.UnixMilli(int64(a.Value(i))).UTC(), nil
	}
	return nil, fmt.Errorf("unexpected Arrow type %s", col.DataType())
}

// MonthOf is the table partition (toYYYYMM) of an event time on a server
// in UTC, which is what Tables' Landed and InsertMissing compare.
func MonthOf(t time.Time) uint32 {
	t = t.UTC()
	return uint32(t.Year()*100 + int(t.Month()))
}

// MaxEventTime returns the latest event time (to the second) of the rows
// of topic/partition, or the zero time if there are none.
func (s *Tables) MaxEventTime(_ context.Context, feed *catalog.Feed, topic string, partition int) (time.Time, error) {
	var latest time.Time
	s.each(feed, func(r *Row) {
		if r.Topic == topic && int(r.Partition) == partition {
			if at := eventSecond(feed, r); at.After(latest) {
				latest = at
			}
		}
	})
	return latest, nil
}

// each calls fn with every row of the feed's table, holding s.mu.
func (s *Tables) each(feed *catalog.Feed, fn func(r *Row)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tables[feed.Name]; t != nil {
		for i := range t.rows {
			fn(&t.rows[i])
		}
	}
}

// eventSecond is a row's event time as a DateTime column holds it.
func eventSecond(feed *catalog.Feed, r *Row) time.Time {
	at, _ := r.Values[feed.EventTime].(time.Time)
	return at.Truncate(time.Second)
}
