package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/envelope"
)

// Provenance says where each row of a batch came from: its Kafka topic,
// partition and offset (the basis of exactly-once resume), and, from the
// record's envelope (envelope.Provenance), the source it was fetched from;
// Add appends a row of both. The per-row slices have
// one entry per row; Sources, ETags, FetchedAt and SchemaVersions may be
// nil when no row has them.
type Provenance struct {
	Topic      string
	Partitions []int32
	Offsets    []int64
	IngestedAt time.Time
	// Sources are the URLs the records were fetched from ("" for pushed ones).
	Sources []string
	// ETags are the ETag or Last-Modified of the fetched payloads.
	ETags []string
	// FetchedAt are the fetch times, in Unix seconds (0 when unknown).
	FetchedAt []int64
	// SchemaVersions are the feed versions the records were made for.
	SchemaVersions []uint32
}

// Add appends one row: its place in Kafka and what its envelope says of
// where it came from, which become the columns ColSource, ColETag,
// ColFetchedAt (to the second; 0 when unknown) and ColSchemaVersion (the
// feed's version, feedVersion, when unknown). The per-row provenance
// slices stay nil until a row has any (most batches of a feed come from
// one connector, or none).
func (p *Provenance) Add(partition int32, offset int64, src *envelope.Provenance, feedVersion int) {
	p.Partitions = append(p.Partitions, partition)
	p.Offsets = append(p.Offsets, offset)
	row := len(p.Offsets) - 1
	if p.Sources == nil {
		if src.Source == "" && src.ETag == "" && src.FetchedAt.IsZero() && src.SchemaVersion == 0 {
			return
		}
		p.Sources, p.ETags = make([]string, row, cap(p.Offsets)), make([]string, row, cap(p.Offsets))
		p.FetchedAt, p.SchemaVersions = make([]int64, row, cap(p.Offsets)), make([]uint32, row, cap(p.Offsets))
		for i := range p.SchemaVersions {
			p.SchemaVersions[i] = uint32(feedVersion)
		}
	}
	var at int64
	if !src.FetchedAt.IsZero() {
		at = src.FetchedAt.Unix()
	}
	v := uint32(feedVersion)
	if src.SchemaVersion != 0 {
		v = uint32(src.SchemaVersion)
	}
	p.Sources = append(p.Sources, src.Source)
	p.ETags = append(p.ETags, src.ETag)
	p.FetchedAt = append(p.FetchedAt, at)
	p.SchemaVersions = append(p.SchemaVersions, v)
}

// Columns is a batch of rows of a feed's table converted to the column
// slices clickhouse-go appends, in table order (fields, then provenance).
// Insert prepares and sends one; the ingest benchmark (ops/bench/ingest)
// prepares them ahead of time to measure what ClickHouse takes when no
// per-row work is left.
type Columns struct {
	feed *catalog.Feed
	rows int
	vals []any
}

// Rows is the number of rows in the batch.
func (c *Columns) Rows() int { return c.rows }

// Insert appends the rows of rec (whose columns follow the feed's fields in
// order, as record.Schema derives them) to the feed's table in one native
// insert, encoding the Arrow columns straight into the block it sends
// (native_insert.go). ClickHouse writes the insert atomically per partition
// of the table (one month of event time).
func (s *Store) Insert(ctx context.Context, feed *catalog.Feed, rec arrow.RecordBatch, prov Provenance) error {
	if err := checkBatch(feed, rec, prov); err != nil {
		return err
	}
	if faulted, err := s.injectedFault(ctx, feed, rec, prov); faulted {
		return fmt.Errorf("insert of %d rows into %s: %w", rec.NumRows(), feed.Table(), err)
	}
	return s.insert(ctx, feed, rec, prov)
}

// insert sends rec in one native insert: in cluster mode to the local
// table of the replica its partition's rows go to (cluster_route.go).
func (s *Store) insert(ctx context.Context, feed *catalog.Feed, rec arrow.RecordBatch, prov Provenance) (err error) {
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	cols := tableColumns(feed)
	names, types := make([]string, len(cols)), make([]string, len(cols))
	quoted := make([]string, len(cols))
	for i, col := range cols {
		names[i], types[i], quoted[i] = col.name, col.typ, quoteIdent(col.name)
	}
	// 18.16 needs the explicit column list.
	pc := s.forPartition(prov.Partitions[0])
	defer func() { s.done(pc, err) }()
	q := fmt.Sprintf("INSERT INTO %s (%s) VALUES", s.ddl.writeTable(s.ddl.Layout().FeedDatabase(feed), feed.Table()), strings.Join(quoted, ", "))
	var encErr error
	encode := func(b *proto.Buffer, version int) {
		encErr = encodeRows(b, version, feed, cols, rec, prov)
	}
	c, err := pc.native.get(ctx)
	if err != nil {
		return fmt.Errorf("insert of %d rows into %s: %w", n, feed.Table(), err)
	}
	err = c.insert(ctx, q, names, types, n, encode)
	if encErr != nil {
		c.broken = true // the block sent is not what the server expects
		err = encErr
	}
	pc.native.put(c)
	if err != nil {
		return fmt.Errorf("insert of %d rows into %s: %w", n, feed.Table(), err)
	}
	return nil
}

// checkBatch says whether rec and prov fit the feed's table.
func checkBatch(feed *catalog.Feed, rec arrow.RecordBatch, prov Provenance) error {
	n := int(rec.NumRows())
	if int(rec.NumCols()) != len(feed.Fields) || len(prov.Offsets) != n || len(prov.Partitions) != n {
		return fmt.Errorf("insert into %s: batch has %d columns and %d rows but %d fields, %d offsets and %d partitions (a bug in the caller)",
			feed.Table(), rec.NumCols(), n, len(feed.Fields), len(prov.Offsets), len(prov.Partitions))
	}
	for _, vals := range []int{len(prov.Sources), len(prov.ETags), len(prov.FetchedAt), len(prov.SchemaVersions)} {
		if vals != 0 && vals != n {
			return fmt.Errorf("insert into %s: provenance has %d values for %d rows (a bug in the caller)", feed.Table(), vals, n)
		}
	}
	return nil
}

// encodeRows writes the columns of a block of rec's rows with their
// provenance, in table order.
func encodeRows(b *proto.Buffer, version int, feed *catalog.Feed, cols []column, rec arrow.RecordBatch, prov Provenance) error {
	n := int(rec.NumRows())
	for i, f := range feed.Fields {
		putColumnStart(b, version, cols[i].name, cols[i].typ)
		if err := putArrowColumn(b, rec.Column(i), !f.Required); err != nil {
			return fmt.Errorf("column %s: %w", f.Name, err)
		}
	}
	for _, col := range cols[len(feed.Fields):] {
		putColumnStart(b, version, col.name, col.typ)
		switch col.name {
		case ColTopic:
			putStrings(b, nil, prov.Topic, n)
		case ColPartition:
			putRaw(b, arrow.Int32Traits.CastToBytes(prov.Partitions), 4)
		case ColOffset:
			putRaw(b, arrow.Int64Traits.CastToBytes(prov.Offsets), 8)
		case ColIngestedAt:
			at := dateTime(prov.IngestedAt.Unix())
			for range n {
				b.PutUInt32(at)
			}
		case ColSource:
			putStrings(b, prov.Sources, "", n)
		case ColETag:
			putStrings(b, prov.ETags, "", n)
		case ColFetchedAt:
			for i := range n {
				var secs int64
				if prov.FetchedAt != nil {
					secs = prov.FetchedAt[i]
				}
				b.PutUInt32(dateTime(secs))
			}
		case ColSchemaVersion:
			for i := range n {
				v := uint32(feed.Version)
				if prov.SchemaVersions != nil {
					v = prov.SchemaVersions[i]
				}
				b.PutUInt32(v)
			}
		default:
			return fmt.Errorf("provenance column %s has no encoder (a bug in highway/store)", col.name)
		}
	}
	return nil
}

// PrepareColumns converts rec and prov into the column values Insert sends.
// rec must stay unreleased until the insert: string columns refer to its
// buffers.
func PrepareColumns(feed *catalog.Feed, rec arrow.RecordBatch, prov Provenance) (*Columns, error) {
	n := int(rec.NumRows())
	if err := checkBatch(feed, rec, prov); err != nil {
		return nil, err
	}
	c := &Columns{feed: feed, rows: n, vals: make([]any, 0, len(feed.Fields)+len(metaColumns))}
	for i, f := range feed.Fields {
		vals, err := columnValues(rec.Column(i), f)
		if err != nil {
			return nil, fmt.Errorf("insert into %s: %w", feed.Table(), err)
		}
		c.vals = append(c.vals, vals)
	}
	topics := make([]string, n)
	ingested := make([]int64, n)
	at := prov.IngestedAt.Unix()
	for i := range topics {
		topics[i] = prov.Topic
		ingested[i] = at
	}
	versions := prov.SchemaVersions
	if versions == nil {
		versions = make([]uint32, n)
		for i := range versions {
			versions[i] = uint32(feed.Version)
		}
	}
	c.vals = append(c.vals, topics, prov.Partitions, prov.Offsets, ingested,
		orEmpty(prov.Sources, n), orEmpty(prov.ETags, n), orEmpty(prov.FetchedAt, n), versions)
	return c, nil
}

// orEmpty returns vals, or n zero values when vals is nil.
func orEmpty[T any](vals []T, n int) []T {
	if vals == nil {
		return make([]T, n)
	}
	return vals
}

// InsertColumns sends a prepared batch to the feed's table in one native
// insert. A Columns may be sent more than once (the benchmark does).
func (s *Store) InsertColumns(ctx context.Context, feed *catalog.Feed, c *Columns) error {
	if c.rows == 0 {
		return nil
	}
	cols := tableColumns(feed)
	if len(c.vals) != len(cols) {
		return fmt.Errorf("insert into %s: prepared batch has %d columns but the table has %d (prepared for feed %s)", feed.Table(), len(c.vals), len(cols), c.feed.Name)
	}
	names := make([]string, len(cols))
	for i, col := range cols {
		names[i] = quoteIdent(col.name)
	}
	// 18.16 needs the explicit column list.
	q := fmt.Sprintf("INSERT INTO %s (%s)", s.ddl.FeedTable(feed), strings.Join(names, ", "))
	batch, err := s.conn.PrepareBatch(ctx, q)
	if err != nil {
		return fmt.Errorf("preparing insert into %s: %w", feed.Table(), err)
	}
	defer batch.Abort()
	for i, vals := range c.vals {
		if err := batch.Column(i).Append(vals); err != nil {
			return fmt.Errorf("insert into %s: column %s: %w", feed.Table(), cols[i].name, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert of %d rows into %s: %w", c.rows, feed.Table(), err)
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
