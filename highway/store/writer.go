package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/cityhighway/highway/highway/catalog"
)

// Provenance says where each row of a batch came from in Kafka. Partitions
// and Offsets have one entry per row.
type Provenance struct {
	Topic      string
	Partitions []int32
	Offsets    []int64
	IngestedAt time.Time
}

// Insert appends the rows of rec (whose columns follow the feed's fields in
// order, as record.Schema derives them) to the feed's table in one native
// insert, column by column. ClickHouse writes the insert atomically per
// partition of the table (one month of event time).
func (s *Store) Insert(ctx context.Context, feed *catalog.Feed, rec arrow.RecordBatch, prov Provenance) error {
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	if int(rec.NumCols()) != len(feed.Fields) || len(prov.Offsets) != n || len(prov.Partitions) != n {
		return fmt.Errorf("insert into %s: batch has %d columns and %d rows but %d fields, %d offsets and %d partitions (a bug in the caller)",
			feed.Table(), rec.NumCols(), n, len(feed.Fields), len(prov.Offsets), len(prov.Partitions))
	}
	cols := tableColumns(feed)
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = quoteIdent(c.name)
	}
	// 18.16 needs the explicit column list.
	q := fmt.Sprintf("INSERT INTO %s.%s (%s)", quoteIdent(s.database), quoteIdent(feed.Table()), strings.Join(names, ", "))
	batch, err := s.conn.PrepareBatch(ctx, q)
	if err != nil {
		return fmt.Errorf("preparing insert into %s: %w", feed.Table(), err)
	}
	defer batch.Abort()
	for i, f := range feed.Fields {
		vals, err := columnValues(rec.Column(i), f)
		if err != nil {
			return fmt.Errorf("insert into %s: %w", feed.Table(), err)
		}
		if err := batch.Column(i).Append(vals); err != nil {
			return fmt.Errorf("insert into %s: column %s: %w", feed.Table(), f.Name, err)
		}
	}
	topics := make([]string, n)
	ingested := make([]int64, n)
	at := prov.IngestedAt.Unix()
	for i := range topics {
		topics[i] = prov.Topic
		ingested[i] = at
	}
	base := len(feed.Fields)
	for i, vals := range []any{topics, prov.Partitions, prov.Offsets, ingested} {
		if err := batch.Column(base + i).Append(vals); err != nil {
			return fmt.Errorf("insert into %s: column %s: %w", feed.Table(), cols[base+i].name, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert of %d rows into %s: %w", n, feed.Table(), err)
	}
	return nil
}

// columnValues converts an Arrow column to the slice clickhouse-go appends
// to a column of the field's type: plain values for required fields, and
// pointers into one backing slice (nil for null) for Nullable ones.
func columnValues(col arrow.Array, f catalog.Field) (any, error) {
	n := col.Len()
	switch a := col.(type) {
	case *array.String:
		vals := make([]string, n)
		for i := range vals {
			vals[i] = a.Value(i)
		}
		return nullable(vals, a, f.Required), nil
	case *array.Int64:
		return nullable(append([]int64(nil), a.Int64Values()...), a, f.Required), nil
	case *array.Float64:
		return nullable(append([]float64(nil), a.Float64Values()...), a, f.Required), nil
	case *array.Boolean:
		vals := make([]uint8, n)
		for i := range vals {
			if a.Value(i) {
				vals[i] = 1
			}
		}
		return nullable(vals, a, f.Required), nil
	case *array.Timestamp:
		vals := make([]int64, n)
		for i, ms := range a.TimestampValues() {
			vals[i] = int64(ms) / 1000
		}
		return nullable(vals, a, f.Required), nil
	}
	return nil, fmt.Errorf("column %s: unexpected Arrow type %s", f.Name, col.DataType())
}

// nullable returns vals as they are for a required field, else as pointers
// with nil where the Arrow column is null.
func nullable[T any](vals []T, a arrow.Array, required bool) any {
	if required {
		return vals
	}
	ptrs := make([]*T, len(vals))
	for i := range vals {
		if a.IsValid(i) {
			ptrs[i] = &vals[i]
		}
	}
	return ptrs
}
