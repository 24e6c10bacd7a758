package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
)

// Window tables hold one row per window and group: window_start,
// window_end, the group-by fields, rows (records in the window), and per
// aggregated field <field>_count plus <field>_<func> for each function asked
// for (avg is kept as <field>_sum and <field>_count too, so windows can be
// merged). A window is recomputed from the feed's raw rows whenever it fires
// or is corrected; ReplacingMergeTree keeps the row of the highest _version,
// so a recomputation replaces the earlier one — query with FINAL (through a
// Distributed table on 18.16: FROM (SELECT * FROM <table> FINAL), README).
const (
	ColWindowStart = "window_start"
	ColWindowEnd   = "window_end"
	ColWindowRows  = "rows"
	ColVersion     = "_version"
	ColComputedAt  = "_computed_at"
)

// windowColumn is one output column of a window table with the SQL that
// computes it from the raw rows.
type windowColumn struct {
	column
	expr string
}

func groupColumnType(f catalog.Field) (typ, expr string) {
	t := strings.TrimSuffix(strings.TrimPrefix(ColumnType(catalog.Field{Type: f.Type, Required: true}), "Nullable("), ")")
	if f.Required {
		return t, quoteIdent(f.Name)
	}
	zero := "''"
	if f.Type != catalog.String {
		zero = "0"
	}
	// Key columns cannot be Nullable: a missing value groups as '' or 0.
	return t, fmt.Sprintf("ifNull(%s, %s)", quoteIdent(f.Name), zero)
}

// windowColumns lists the columns of a window table after window_start and
// window_end, with the aggregate expressions that fill them.
func windowColumns(feed *catalog.Feed, w catalog.Window) []windowColumn {
	var cols []windowColumn
	for _, g := range w.GroupBy {
		typ, expr := groupColumnType(*feed.Field(g))
		cols = append(cols, windowColumn{column{g, typ}, expr})
	}
	cols = append(cols, windowColumn{column{ColWindowRows, "UInt64"}, "count()"})
	for _, a := range w.Aggregates {
		f := quoteIdent(a.Field)
		want := map[string]bool{}
		for _, fn := range a.Funcs {
			want[fn] = true
			if fn == "avg" {
				want["sum"] = true
			}
		}
		cols = append(cols, windowColumn{column{a.Field + "_count", "UInt64"}, "count(" + f + ")"})
		for _, fn := range catalog.AggregateFuncs {
			if !want[fn] || fn == "count" {
				continue
			}
			var expr string
			switch fn {
			case "sum", "min", "max", "avg":
				expr = fmt.Sprintf("toFloat64(%s(%s))", fn, f)
			case "p50", "p90", "p99":
				expr = fmt.Sprintf("toFloat64(quantileExact(0.%s)(%s))", fn[1:], f)
			}
			cols = append(cols, windowColumn{column{a.Field + "_" + fn, "Nullable(Float64)"}, expr})
		}
	}
	return cols
}

// CreateWindowTable returns the statements that create the table of a
// window's results if it is missing. In cluster mode a window's row and its
// recomputations go to one shard (sharded by a hash of the ORDER BY key),
// where ReplacingMergeTree replaces them.
func (d DDL) CreateWindowTable(feed *catalog.Feed, w catalog.Window) []string {
	cols := []column{{ColWindowStart, "DateTime"}, {ColWindowEnd, "DateTime"}}
	for i, c := range windowColumns(feed, w) {
		if i < len(w.GroupBy) {
			c.typ = d.Features().lowCardinality(c.typ)
		}
		cols = append(cols, c.column)
	}
	cols = append(cols, column{ColVersion, "UInt64"}, column{ColComputedAt, "DateTime"})
	order := []string{quoteIdent(ColWindowStart)}
	for _, g := range w.GroupBy {
		order = append(order, quoteIdent(g))
	}
	return d.create(tableSpec{db: d.Layout().FeedDatabase(feed), name: catalog.WindowTable(feed, w), columns: cols,
		engine: "ReplacingMergeTree", version: quoteIdent(ColVersion), partition: "toYYYYMM(" + quoteIdent(ColWindowStart) + ")",
		order: strings.Join(order, ", "), shardBy: "cityHash64(" + strings.Join(order, ", ") + ")"})
}

// AggregateWindows returns the INSERT ... SELECT that computes, from the
// feed's raw rows, every window of w whose start is in [from, to), with the
// given version. Starts are multiples of the hop; a hopping window's rows
// are spread over the size/hop windows that contain them with arrayJoin.
func (d DDL) AggregateWindows(feed *catalog.Feed, w catalog.Window, from, to time.Time, version uint64) string {
	size, hop := int64(w.Size/time.Second), int64(w.Hop/time.Second)
	ev := quoteIdent(feed.EventTime)
	cols := windowColumns(feed, w)
	names := []string{quoteIdent(ColWindowStart), quoteIdent(ColWindowEnd)}
	exprs := []string{"toDateTime(ws)", fmt.Sprintf("toDateTime(ws + %d)", size)}
	var groups []string
	for i, c := range cols {
		names = append(names, quoteIdent(c.name))
		if i < len(w.GroupBy) {
			exprs = append(exprs, "g"+fmt.Sprint(i))
			groups = append(groups, "g"+fmt.Sprint(i))
			continue
		}
		exprs = append(exprs, c.expr)
	}
	names = append(names, quoteIdent(ColVersion), quoteIdent(ColComputedAt))
	exprs = append(exprs, fmt.Sprintf("toUInt64(%d)", version), "now()")
	if d.Cluster != "" {
		// 18.16's synchronous insert into a Distributed table finds the
		// columns of the SELECT by name, not position.
		for i := range exprs {
			exprs[i] += " AS " + names[i]
		}
	}

	inner := []string{fmt.Sprintf("arrayJoin(arrayMap(i -> toInt64(intDiv(toUInt32(%s), %d) * %d) - toInt64(i) * %d, range(%d))) AS ws", ev, hop, hop, hop, size/hop)}
	for i, g := range w.GroupBy {
		_, expr := groupColumnType(*feed.Field(g))
		inner = append(inner, fmt.Sprintf("%s AS g%d", expr, i))
	}
	for _, a := range w.Aggregates {
		inner = append(inner, quoteIdent(a.Field))
	}
	lo, hi := from.Unix(), to.Unix()
	return fmt.Sprintf("INSERT INTO %s (%s)\nSELECT %s\nFROM (\n  SELECT %s\n  FROM %s\n  WHERE %s >= toDateTime(%d) AND %s < toDateTime(%d)\n)\nWHERE ws >= %d AND ws < %d\nGROUP BY %s%s",
		d.WindowTable(feed, w), strings.Join(names, ", "),
		strings.Join(exprs, ", "),
		strings.Join(inner, ", "),
		d.FeedTable(feed),
		ev, lo, ev, hi-hop+size,
		lo, hi,
		strings.Join(append([]string{"ws"}, groups...), ", "), d.readFresh())
}

// EnsureWindowTable creates the table of window w if it is missing, in the
// database of its feed (see Layout), moving it there first if an earlier
// version of highway or an earlier access level left it in the other one.
func (s *Store) EnsureWindowTable(ctx context.Context, feed *catalog.Feed, w catalog.Window) error {
	if err := s.placeTable(ctx, s.ddl.Layout().FeedDatabase(feed), catalog.WindowTable(feed, w)); err != nil {
		return fmt.Errorf("window %s of feed %s: %w", w.Name, feed.Name, err)
	}
	if err := s.execAll(ctx, s.ddl.CreateWindowTable(feed, w)); err != nil {
		return fmt.Errorf("creating window table %s: %w", catalog.WindowTable(feed, w), err)
	}
	return nil
}

// AggregateWindows (re)computes the windows of w that start in [from, to)
// from the feed's raw rows. Calling it again for the same windows replaces
// their rows, so it is safe to repeat after a crash or a late record.
func (s *Store) AggregateWindows(ctx context.Context, feed *catalog.Feed, w catalog.Window, from, to time.Time) error {
	if !to.After(from) {
		return nil
	}
	version := uint64(time.Now().UnixNano())
	if err := s.conn.Exec(ctx, s.ddl.AggregateWindows(feed, w, from, to, version)); err != nil {
		return fmt.Errorf("aggregating window %s from %s to %s: %w", w.Name, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), err)
	}
	return nil
}

// LastWindowEnd returns the end of the latest window of w that was computed,
// or the zero time if none was.
func (s *Store) LastWindowEnd(ctx context.Context, feed *catalog.Feed, w catalog.Window) (time.Time, error) {
	var (
		n   uint64
		end time.Time
	)
	q := fmt.Sprintf("SELECT count(), max(%s) FROM %s", quoteIdent(ColWindowEnd), s.ddl.WindowTable(feed, w))
	if err := s.conn.QueryRow(ctx, q).Scan(&n, &end); err != nil {
		return time.Time{}, fmt.Errorf("reading the last window of %s: %w", w.Name, err)
	}
	if n == 0 {
		return time.Time{}, nil
	}
	return end, nil
}

// MaxEventTime returns the latest event time the feed's table holds for
// topic/partition, or the zero time if it holds none.
func (s *Store) MaxEventTime(ctx context.Context, feed *catalog.Feed, topic string, partition int) (time.Time, error) {
	q := fmt.Sprintf("SELECT count(), max(%s) FROM %s WHERE %s = ? AND %s = ?",
		quoteIdent(feed.EventTime), s.ddl.FeedTable(feed), quoteIdent(ColTopic), quoteIdent(ColPartition))
	var (
		n  uint64
		at time.Time
	)
	if err := s.conn.QueryRow(ctx, q, topic, int32(partition)).Scan(&n, &at); err != nil {
		return time.Time{}, fmt.Errorf("reading the latest event of %s/%d: %w", topic, partition, err)
	}
	if n == 0 {
		return time.Time{}, nil
	}
	return at, nil
}
