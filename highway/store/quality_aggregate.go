package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
)

// FieldAggregate is what ClickHouse counts of one field in a bucket.
type FieldAggregate struct {
	Name  string
	Nulls uint64
	// Values counts the non-null values; Min, Max and Sum are over them
	// (numeric fields only, nil otherwise or without values).
	Values        uint64
	Min, Max, Sum *float64
}

// BucketAggregate is what ClickHouse holds of a feed's rows whose event
// time is in one bucket: the raw counts highway/quality makes its figures
// from.
type BucketAggregate struct {
	Rows uint64
	// Distinct counts distinct rows over every field; Identities distinct
	// (key, event time) pairs; Keys distinct keys.
	Distinct, Identities, Keys uint64
	// Intervals counts the intervals (of the given length, aligned to the
	// Unix epoch) that had at least one row.
	Intervals uint64
	// MaxDelay is the longest wait between an event and its row landing
	// (_ingested_at − event time); Late counts rows that waited longer than
	// the lateness given.
	MaxDelay time.Duration
	Late     uint64
	// Latest is the latest event time before the bucket's end, in the
	// whole table (zero when there is none).
	Latest time.Time
	Fields []FieldAggregate
	// MissingKeys are keys (their fields joined by "/") that had rows in
	// the bucket before and none in this one, at most 20.
	MissingKeys []string
}

// AggregateBucket counts a feed's rows with event time in [from, to).
// interval cuts the bucket into the intervals counted in Intervals;
// lateness is the delay beyond which a row is Late.
func (s *Store) AggregateBucket(ctx context.Context, feed *catalog.Feed, from, to time.Time, interval, lateness time.Duration) (BucketAggregate, error) {
	tbl := s.ddl.FeedTable(feed)
	ev := quoteIdent(feed.EventTime)
	inRange := func(a, b time.Time) string {
		return fmt.Sprintf("%s >= toDateTime(%d) AND %s < toDateTime(%d)", ev, a.Unix(), ev, b.Unix())
	}
	var keys, all []string
	for _, k := range feed.Key {
		keys = append(keys, quoteIdent(k))
	}
	for _, f := range feed.Fields {
		c := "toString(" + quoteIdent(f.Name) + ")"
		if !f.Required {
			c = "ifNull(" + c + ", '\\0')"
		}
		all = append(all, c)
	}
	secs := max(int64(interval/time.Second), 1)
	exprs := []string{
		"count()",
		"uniqExact(" + strings.Join(all, ", ") + ")",
		"uniqExact(" + strings.Join(append(append([]string{}, keys...), ev), ", ") + ")",
		"uniqExact(" + strings.Join(keys, ", ") + ")",
		fmt.Sprintf("uniqExact(intDiv(toUInt32(%s), %d))", ev, secs),
		fmt.Sprintf("toInt64(ifNull(max(toInt64(%s) - toInt64(%s)), 0))", quoteIdent(ColIngestedAt), ev),
		fmt.Sprintf("countIf(toInt64(%s) - toInt64(%s) > %d)", quoteIdent(ColIngestedAt), ev, int64(lateness/time.Second)),
	}
	for _, f := range feed.Fields {
		c := quoteIdent(f.Name)
		if f.Required {
			exprs = append(exprs, "toUInt64(0)")
		} else {
			exprs = append(exprs, "countIf(isNull("+c+"))")
		}
		if f.Type.Numeric() {
			exprs = append(exprs, "count("+c+")", "min(toFloat64("+c+"))", "max(toFloat64("+c+"))", "sum(toFloat64("+c+"))")
		}
	}
	q := fmt.Sprintf("SELECT %s FROM %s WHERE %s", strings.Join(exprs, ", "), tbl, inRange(from, to))
	rows, err := s.QueryRows(ctx, q)
	if err != nil {
		return BucketAggregate{}, fmt.Errorf("aggregating %s for the ledger: %w", feed.Name, err)
	}
	if len(rows) != 1 {
		return BucketAggregate{}, fmt.Errorf("aggregating %s for the ledger: %d rows", feed.Name, len(rows))
	}
	r := rows[0]
	a := BucketAggregate{
		Rows: r[0].(uint64), Distinct: r[1].(uint64), Identities: r[2].(uint64), Keys: r[3].(uint64),
		Intervals: r[4].(uint64), MaxDelay: time.Duration(r[5].(int64)) * time.Second, Late: r[6].(uint64),
	}
	i := 7
	for _, f := range feed.Fields {
		fa := FieldAggregate{Name: f.Name, Nulls: r[i].(uint64)}
		i++
		if f.Type.Numeric() {
			fa.Values = r[i].(uint64)
			if fa.Values > 0 {
				fa.Min, fa.Max, fa.Sum = float(r[i+1]), float(r[i+2]), float(r[i+3])
			}
			i += 4
		}
		a.Fields = append(a.Fields, fa)
	}
	if a.Rows == 0 {
		a.MaxDelay = 0
	}

	var n uint64
	var latest time.Time
	if err := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT count(), max(%s) FROM %s WHERE %s < toDateTime(%d)", ev, tbl, ev, to.Unix())).Scan(&n, &latest); err != nil {
		return BucketAggregate{}, fmt.Errorf("reading the latest event of %s: %w", feed.Name, err)
	}
	if n > 0 {
		a.Latest = latest.UTC()
	}

	prev := from.Add(-to.Sub(from))
	kt := "(" + strings.Join(keys, ", ") + ")"
	mq := fmt.Sprintf("SELECT DISTINCT %s FROM %s WHERE %s AND %s %s (SELECT %s FROM %s WHERE %s) ORDER BY %s LIMIT 20",
		strings.Join(asStrings(keys), ", "), tbl, inRange(prev, from), kt, s.ddl.in("NOT IN"), strings.Join(keys, ", "), tbl, inRange(from, to), strings.Join(keys, ", "))
	missing, err := s.QueryRows(ctx, mq)
	if err != nil {
		return BucketAggregate{}, fmt.Errorf("finding the keys of %s that did not report: %w", feed.Name, err)
	}
	for _, m := range missing {
		parts := make([]string, len(m))
		for j, v := range m {
			parts[j] = v.(string)
		}
		a.MissingKeys = append(a.MissingKeys, strings.Join(parts, "/"))
	}
	return a, nil
}

// asStrings renders each column as a string.
func asStrings(cols []string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		// Not aliased as the column itself: on ClickHouse 18.16 such an
		// alias replaces the column in WHERE too.
		out[i] = fmt.Sprintf("toString(%s) AS _k%d", c, i)
	}
	return out
}

func float(v any) *float64 {
	switch x := v.(type) {
	case float64:
		return &x
	case *float64:
		return x
	}
	return nil
}
