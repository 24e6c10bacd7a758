package store

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/cityhighway/highway/highway/catalog"
)

// Exactly once, per batch, on any ClickHouse (18.16 included).
//
// A feed table is partitioned by month of event time, and ClickHouse
// splits one INSERT block by partition and commits each part on its own:
// an insert that fails (server killed, connection cut) may have written
// some months of a batch and not others. Each month's part is atomic,
// though, so what landed of a batch is known exactly by the pairs
// (Kafka offset, month) the table holds for the batch's offsets. Two
// things make every offset land once:
//
//   - The batch ledger (table LedgerTable, in the restricted database)
//     records, per topic and partition, the offset before which every
//     record is fully written (rows, and rejects in the dead-letter topic).
//     The processor writes it after a batch has landed, at most once a
//     second and when it gives a partition up. A processor that takes a
//     partition over resumes at the ledger's offset, not at the table's
//     highest offset, which a partly landed batch may have carried past
//     rows that are missing.
//   - Between the ledger's offset and the table's highest one, and on every
//     retry of a failed insert, the processor asks which (offset, month)
//     pairs landed (Landed) and inserts only the rows of the others
//     (InsertMissing).
//
// ClickHouse 18.16 has no insert deduplication token, and a plain MergeTree
// does not deduplicate blocks, so the ledger is ours; in cluster mode the
// replicated tables' block deduplication comes on top.

// LedgerTable is the table of the batch ledger.
const LedgerTable = "highway_batches"

// ledgerColumns are the ledger's columns in table order.
var ledgerColumns = []column{
	{"topic", "String"},
	{"partition", "Int32"},
	{"next_offset", "Int64"},
	{"written_at", "DateTime"},
}

// LedgerTable returns the quoted database.table of the batch ledger.
func (d DDL) LedgerTable() string {
	return quoteIdent(d.Layout().Restricted) + "." + quoteIdent(LedgerTable)
}

// CreateLedgerTable returns the statements that create the batch ledger
// if it is missing: a ReplacingMergeTree keyed by topic and partition that
// keeps the highest next_offset of each (readers take max() and need not
// wait for merges), so it stays one row per partition. In cluster mode a
// partition's entries are on the shard of its rows (sharded by partition,
// see ShardOf).
func (d DDL) CreateLedgerTable() []string {
	return d.create(tableSpec{db: d.Layout().Restricted, name: LedgerTable, columns: ledgerColumns,
		engine: "ReplacingMergeTree", version: "next_offset", order: "topic, partition", shardBy: "partition"})
}

// ensureLedger creates the ledger's database and table once per Store.
func (s *Store) ensureLedger(ctx context.Context) error {
	s.ledgerMu.Lock()
	defer s.ledgerMu.Unlock()
	if s.ledgerReady {
		return nil
	}
	if err := s.conn.Exec(ctx, s.ddl.CreateDatabase(s.ddl.Layout().Restricted)); err != nil {
		return fmt.Errorf("creating database %s for the batch ledger: %w", s.ddl.Layout().Restricted, err)
	}
	if err := s.execAll(ctx, s.ddl.CreateLedgerTable()); err != nil {
		return fmt.Errorf("creating the batch ledger %s: %w", s.ddl.LedgerTable(), err)
	}
	s.ledgerReady = true
	return nil
}

// Resume is where a processor that takes a partition over starts.
type Resume struct {
	// Ledger is the offset before which the batch ledger says every
	// record of the partition is written; HasLedger says it has an entry.
	Ledger    int64
	HasLedger bool
	// TableNext is one past the highest offset of the partition the feed's
	// table holds; HasRows says it holds any. Offsets from the start up to
	// TableNext may already have landed, in part.
	TableNext int64
	HasRows   bool
}

// ResumePoint reads the ledger's and the table's offsets of topic/partition.
// In cluster mode it reads them on the replica the partition's writes go
// to, once it has every part its shard committed (see cluster_route.go).
func (s *Store) ResumePoint(ctx context.Context, feed *catalog.Feed, topic string, partition int) (r Resume, err error) {
	if err := s.ensureLedger(ctx); err != nil {
		return r, err
	}
	pc := s.forPartition(int32(partition))
	defer func() { s.done(pc, err) }()
	ledger, table := s.ddl.writeTable(s.ddl.Layout().Restricted, LedgerTable), s.ddl.writeTable(s.ddl.Layout().FeedDatabase(feed), feed.Table())
	if err := s.synced(ctx, pc, ledger, table); err != nil {
		return r, err
	}
	q := fmt.Sprintf("SELECT count(), max(next_offset) FROM %s WHERE topic = ? AND partition = ?", ledger)
	var n uint64
	if err := pc.conn.QueryRow(ctx, q, topic, int32(partition)).Scan(&n, &r.Ledger); err != nil {
		return r, fmt.Errorf("reading the batch ledger of %s/%d: %w", topic, partition, err)
	}
	r.HasLedger = n > 0
	next, found, err := resumeOffset(ctx, pc.conn, table, feed, topic, partition)
	if err != nil {
		return r, err
	}
	r.TableNext, r.HasRows = next, found
	return r, nil
}

// RecordProgress writes to the batch ledger that every record of
// topic/partition before next is written. Callers write it only after the
// batches before next have landed. In cluster mode the entry goes where
// the partition's rows go.
func (s *Store) RecordProgress(ctx context.Context, topic string, partition int, next int64) (err error) {
	if err := s.ensureLedger(ctx); err != nil {
		return err
	}
	pc := s.forPartition(int32(partition))
	defer func() { s.done(pc, err) }()
	// A prepared batch: 18.16 waits for data blocks after an INSERT even
	// when its VALUES are inline.
	b, err := pc.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s (topic, partition, next_offset, written_at)", s.ddl.writeTable(s.ddl.Layout().Restricted, LedgerTable)))
	if err != nil {
		return fmt.Errorf("writing the batch ledger of %s/%d at %d: %w", topic, partition, next, err)
	}
	defer b.Abort()
	if err := b.Append(topic, int32(partition), next, time.Now().UTC().Truncate(time.Second)); err != nil {
		return fmt.Errorf("writing the batch ledger of %s/%d at %d: %w", topic, partition, next, err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("writing the batch ledger of %s/%d at %d: %w", topic, partition, next, err)
	}
	return nil
}

// RowPart is one (Kafka offset, table partition) pair: the rows of one
// Kafka record that fall in one month of event time, which ClickHouse
// writes together or not at all.
type RowPart struct {
	Offset int64
	Month  uint32 // toYYYYMM of the event time, in the server's time zone
}

// Landed is the set of RowParts of a range of offsets that a feed's table
// already holds.
type Landed map[RowPart]struct{}

// Landed returns the RowParts of topic/partition with an offset in
// [from, to) that the feed's table holds. In cluster mode it reads them on
// the replica the partition's writes go to, once it has every part its
// shard committed.
func (s *Store) Landed(ctx context.Context, feed *catalog.Feed, topic string, partition int, from, to int64) (_ Landed, err error) {
	pc := s.forPartition(int32(partition))
	defer func() { s.done(pc, err) }()
	table := s.ddl.writeTable(s.ddl.Layout().FeedDatabase(feed), feed.Table())
	if err := s.synced(ctx, pc, table); err != nil {
		return nil, err
	}
	q := fmt.Sprintf("SELECT %s, toYYYYMM(%s) AS m FROM %s WHERE %s = ? AND %s = ? AND %s >= ? AND %s < ? GROUP BY %s, m",
		quoteIdent(ColOffset), quoteIdent(feed.EventTime), table, quoteIdent(ColTopic), quoteIdent(ColPartition),
		quoteIdent(ColOffset), quoteIdent(ColOffset), quoteIdent(ColOffset))
	out := Landed{}
	rows, err := pc.conn.Query(ctx, q, topic, int32(partition), from, to)
	if err == nil {
		defer rows.Close()
		for rows.Next() {
			var p RowPart
			if err = rows.Scan(&p.Offset, &p.Month); err != nil {
				break
			}
			out[p] = struct{}{}
		}
		if err == nil {
			err = rows.Err()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("reading which rows of %s/%d offsets %d…%d landed in %s: %w", topic, partition, from, to-1, feed.Table(), err)
	}
	return out, nil
}

// MonthOf is the table partition (toYYYYMM) of an event time given in
// Unix milliseconds, as the server computes it for a DateTime column.
func (s *Store) MonthOf(ms int64) uint32 {
	t := time.Unix(floorDiv(ms, 1000), 0).In(s.zone)
	return uint32(t.Year()*100 + int(t.Month()))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// InsertMissing inserts the rows of rec whose RowPart is not in landed, and
// returns how many it inserted and how many it left out as already there.
// rec is not released.
func (s *Store) InsertMissing(ctx context.Context, feed *catalog.Feed, rec arrow.RecordBatch, prov Provenance, landed Landed) (inserted, skipped int, err error) {
	if err := checkBatch(feed, rec, prov); err != nil {
		return 0, 0, err
	}
	n := int(rec.NumRows())
	insertAll := func() (int, int, error) {
		if err := s.Insert(ctx, feed, rec, prov); err != nil {
			return 0, 0, err
		}
		return n, 0, nil
	}
	if len(landed) == 0 {
		return insertAll()
	}
	times, ok := rec.Column(feed.FieldIndex(feed.EventTime)).(*array.Timestamp)
	if !ok {
		return 0, 0, fmt.Errorf("insert into %s: the event time column is a %s, not a timestamp (a bug in the caller)", feed.Table(), rec.Column(feed.FieldIndex(feed.EventTime)).DataType())
	}
	keep := make([]bool, n)
	for i := range n {
		_, there := landed[RowPart{Offset: prov.Offsets[i], Month: s.MonthOf(int64(times.Value(i)))}]
		keep[i] = !there
		if there {
			skipped++
		}
	}
	if skipped == 0 {
		return insertAll()
	}
	if skipped == n {
		return 0, n, nil
	}
	sub := filterRows(rec, keep)
	defer sub.Release()
	if err := s.Insert(ctx, feed, sub, prov.filter(keep)); err != nil {
		return 0, skipped, err
	}
	return n - skipped, skipped, nil
}

// filterRows returns the rows of rec where keep is true, as a new record
// made of slices of rec's columns.
func filterRows(rec arrow.RecordBatch, keep []bool) arrow.RecordBatch {
	var runs [][2]int64
	for i := 0; i < len(keep); {
		if !keep[i] {
			i++
			continue
		}
		j := i
		for j < len(keep) && keep[j] {
			j++
		}
		runs = append(runs, [2]int64{int64(i), int64(j)})
		i = j
	}
	if len(runs) == 0 {
		return rec.NewSlice(0, 0)
	}
	cols := make([]arrow.Array, rec.NumCols())
	rows := int64(0)
	for _, r := range runs {
		rows += r[1] - r[0]
	}
	for c := range cols {
		parts := make([]arrow.Array, len(runs))
		for k, r := range runs {
			parts[k] = array.NewSlice(rec.Column(c), r[0], r[1])
		}
		col, err := array.Concatenate(parts, memory.DefaultAllocator)
		for _, p := range parts {
			p.Release()
		}
		if err != nil {
			// Concatenating slices of one array of one type cannot fail.
			panic(fmt.Sprintf("store: filtering rows of column %d: %v", c, err))
		}
		cols[c] = col
	}
	out := array.NewRecordBatch(rec.Schema(), cols, rows)
	for _, c := range cols {
		c.Release()
	}
	return out
}

// filter returns the provenance of the rows where keep is true.
func (p Provenance) filter(keep []bool) Provenance {
	out := Provenance{Topic: p.Topic, IngestedAt: p.IngestedAt}
	out.Partitions = pick(p.Partitions, keep)
	out.Offsets = pick(p.Offsets, keep)
	out.Sources = pick(p.Sources, keep)
	out.ETags = pick(p.ETags, keep)
	out.FetchedAt = pick(p.FetchedAt, keep)
	out.SchemaVersions = pick(p.SchemaVersions, keep)
	return out
}

func pick[T any](vals []T, keep []bool) []T {
	if vals == nil {
		return nil
	}
	out := make([]T, 0, len(vals))
	for i, k := range keep {
		if k {
			out = append(out, vals[i])
		}
	}
	return out
}
