package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/cityhighway/highway/highway/catalog"
)

// Format is how Query writes its result.
type Format string

// The result formats. A query can fail after the first rows were written
// (a limit reached, a runtime error such as throwIf); each format ends
// such a result as it can, so that it never passes for a complete one.
const (
	// FormatJSON is one object: {"meta":[{"name","type"}],"data":[{...}],"rows":N},
	// with "error" added when the query fails after rows were written.
	FormatJSON Format = "json"
	// FormatNDJSON is one JSON object per row, one per line; a query that
	// fails after rows were written ends with a line {"error": "..."}.
	FormatNDJSON Format = "ndjson"
	// FormatCSV is RFC 4180 CSV with a header row; NULL is an empty field.
	// It has no place for a late failure: the rows so far are written and
	// the caller must make the failure visible (the API cuts the response
	// off).
	FormatCSV Format = "csv"
	// FormatArrow is an Apache Arrow IPC stream, so data stays columnar
	// (ClickHouse 18.16 has no Arrow output, so the store builds it). After
	// a late failure the batches so far are written without the stream's
	// end marker, and the caller must make the failure visible, as for CSV.
	FormatArrow Format = "arrow"
)

// Formats lists the result formats.
var Formats = []Format{FormatJSON, FormatNDJSON, FormatCSV, FormatArrow}

// ParseFormat returns the format called s ("" is JSON).
func ParseFormat(s string) (Format, error) {
	if s == "" {
		return FormatJSON, nil
	}
	for _, f := range Formats {
		if string(f) == strings.ToLower(s) {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown format %q; use json, ndjson, csv or arrow", s)
}

// ContentType is the media type of the format.
func (f Format) ContentType() string {
	switch f {
	case FormatNDJSON:
		return "application/x-ndjson"
	case FormatCSV:
		return "text/csv; charset=utf-8"
	case FormatArrow:
		return "application/vnd.apache.arrow.stream"
	}
	return "application/json"
}

// Limits are ClickHouse's own limits on one query, sent as settings with
// it. Every query also runs with readonly=1, which ClickHouse enforces
// itself: no writes, no DDL, no SET, no table functions. Zero leaves a
// limit at the server's default (none, for most).
type Limits struct {
	// MaxExecutionTime is max_execution_time (whole seconds).
	MaxExecutionTime time.Duration
	// MaxResultRows is max_result_rows; going over fails the query
	// (result_overflow_mode stays at its default, throw).
	MaxResultRows uint64
	// MaxResultBytes is max_result_bytes (uncompressed).
	MaxResultBytes uint64
	// MaxMemory is max_memory_usage, in bytes.
	MaxMemory uint64
	// MaxRowsToRead is max_rows_to_read.
	MaxRowsToRead uint64
}

// settings turns the limits into query settings. ClickHouse 18.16 speaks a
// protocol revision where settings travel as integers, so only integer
// settings are sent (string ones such as result_overflow_mode would break
// the connection).
func (l Limits) settings() []setting {
	s := []setting{{"readonly", 1}}
	if l.MaxExecutionTime > 0 {
		s = append(s, setting{"max_execution_time", uint64(math.Ceil(l.MaxExecutionTime.Seconds()))})
	}
	for name, v := range map[string]uint64{
		"max_result_rows": l.MaxResultRows, "max_result_bytes": l.MaxResultBytes,
		"max_memory_usage": l.MaxMemory, "max_rows_to_read": l.MaxRowsToRead,
	} {
		if v > 0 {
			s = append(s, setting{name, min(v, math.MaxInt64)})
		}
	}
	slices.SortFunc(s[1:], func(a, b setting) int { return strings.Compare(a.name, b.name) })
	return s
}

// QueryError is ClickHouse refusing or failing a query because of the query
// itself (unknown column, syntax, a limit exceeded, readonly): the caller's
// fault, with ClickHouse's own message.
type QueryError struct {
	Code    int32
	Message string
}

// Error returns ClickHouse's message with its code.
func (e *QueryError) Error() string { return fmt.Sprintf("ClickHouse error %d: %s", e.Code, e.Message) }

// QueryStats describe a query's result.
type QueryStats struct {
	// Rows and Columns of the result.
	Rows    uint64
	Columns int
	// Written counts the bytes written to the writer.
	Written int64
}

// Query runs a read-only statement with readonly=1 and the limits, and
// streams its result to w in format f: rows are written as ClickHouse sends
// its blocks, one block in memory at a time (see resultColumn for how
// each ClickHouse type is written). Nothing is written to w unless the
// query starts well (the first block, or the end of an empty result,
// arrived), so an error with QueryStats.Written == 0 can still be answered
// as an error. A failure of the query itself is a *QueryError; a result
// column of a type the formats cannot carry fails with an error wrapping
// ErrUnsupportedType before anything is written. Cancelling ctx cancels
// the query in ClickHouse.
//
// sql must already be vetted (see highway/api/sqlguard); readonly=1 is the
// second defence, not the only one. Query is safe for concurrent use.
func (s *Store) Query(ctx context.Context, sql string, lim Limits, f Format, w io.Writer) (QueryStats, error) {
	return runQuery(ctx, s.reader, sql, lim, f, w)
}

// QueryFeed streams the given columns of a feed's rows whose event time is
// in [from, to), at most limit rows (0: all), as Query does. Rows come in
// storage order, not sorted, so that a long range streams without a sort in
// ClickHouse's memory.
func (s *Store) QueryFeed(ctx context.Context, feed *catalog.Feed, columns []string, from, to time.Time, limit uint64, lim Limits, f Format, w io.Writer) (QueryStats, error) {
	if len(columns) == 0 {
		return QueryStats{}, fmt.Errorf("query of %s: no columns", feed.Name)
	}
	cols := make([]string, len(columns))
	for i, c := range columns {
		cols[i] = quoteIdent(c)
	}
	q := fmt.Sprintf("SELECT %s FROM %s WHERE %s >= toDateTime(%d) AND %s < toDateTime(%d)",
		strings.Join(cols, ", "), s.ddl.FeedTable(feed),
		quoteIdent(feed.EventTime), from.Unix(), quoteIdent(feed.EventTime), to.Unix())
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	return s.Query(ctx, q, lim, f, w)
}

// runQuery is Query on a pool of native connections.
func runQuery(ctx context.Context, pool *nativePool, sql string, lim Limits, f Format, w io.Writer) (st QueryStats, err error) {
	cw := &countingWriter{w: w}
	defer func() { st.Written = cw.n }()
	conn, err := pool.get(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return st, err
		}
		return st, fmt.Errorf("clickhouse: %w", err)
	}
	defer pool.put(conn)
	var res resultSet
	out := newResultWriter(f, cw)
	started := false
	// Nothing is written before the first rows (or the end of an empty
	// result): until then a failure can still be answered as an error.
	begin := func() error {
		started = true
		st.Columns = len(res.cols)
		if err := out.begin(&res); err != nil {
			return &writeError{err}
		}
		return nil
	}
	err = conn.query(ctx, sql, lim.settings(), &res, func() error {
		if !started {
			if err := begin(); err != nil {
				return err
			}
		}
		if err := out.block(); err != nil {
			return &writeError{err}
		}
		st.Rows += uint64(res.rows)
		return nil
	})
	var we *writeError
	switch {
	case errors.As(err, &we):
		return st, fmt.Errorf("writing result: %w", we.err)
	case err != nil:
		if !errors.As(err, new(*QueryError)) && !errors.Is(err, ErrUnsupportedType) && ctx.Err() == nil {
			err = fmt.Errorf("clickhouse: %w", err)
		}
		if started {
			// Too late for an error status: end the result as the
			// format can (see Format).
			_ = out.fail(err)
		}
		return st, err
	}
	if !started {
		if err := begin(); err != nil {
			return st, fmt.Errorf("writing result: %w", err)
		}
	}
	if err := out.end(); err != nil {
		return st, fmt.Errorf("writing result: %w", err)
	}
	return st, nil
}

// writeError is a failure to write the result (the reader went away),
// told apart from the query's own failures.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// resultWriter writes a result in one format, a block at a time.
type resultWriter interface {
	// begin starts the result of res's columns.
	begin(res *resultSet) error
	// block writes the rows of res's current block.
	block() error
	// end finishes a complete result.
	end() error
	// fail ends a result whose query failed after begin, as the format
	// can (see Format).
	fail(err error) error
}

// flushAt is the size at which the text formats hand their buffer to the
// writer.
const flushAt = 64 << 10

func newResultWriter(f Format, w io.Writer) resultWriter {
	switch f {
	case FormatCSV:
		return &csvWriter{w: w}
	case FormatNDJSON:
		return &jsonWriter{w: w, lines: true}
	case FormatArrow:
		return &arrowWriter{w: bufio.NewWriterSize(w, flushAt)}
	}
	return &jsonWriter{w: w}
}

// jsonWriter writes FormatJSON, or FormatNDJSON when lines is set.
type jsonWriter struct {
	w     io.Writer
	lines bool
	res   *resultSet
	keys  [][]byte
	buf   []byte
	n     uint64
}

func (j *jsonWriter) begin(res *resultSet) error {
	j.res = res
	j.keys = make([][]byte, len(res.names))
	for i, name := range res.names {
		j.keys[i] = append(appendJSONBytes(nil, name), ':')
	}
	if j.lines {
		return nil
	}
	b := append(j.buf[:0], `{"meta":[`...)
	for i := range res.names {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendJSONBytes(b, res.names[i])
		b = append(b, `,"type":`...)
		b = appendJSONBytes(b, res.types[i])
		b = append(b, '}')
	}
	j.buf = append(b, "],\n\"data\":["...)
	return nil
}

func (j *jsonWriter) block() error {
	b := j.buf
	cols := j.res.cols
	for i := range j.res.rows {
		if !j.lines {
			if j.n > 0 {
				b = append(b, ',')
			}
			b = append(b, '\n')
		}
		b = append(b, '{')
		for c, col := range cols {
			if c > 0 {
				b = append(b, ',')
			}
			b = append(b, j.keys[c]...)
			b = col.appendJSON(b, i)
		}
		b = append(b, '}')
		if j.lines {
			b = append(b, '\n')
		}
		j.n++
		if len(b) >= flushAt {
			if _, err := j.w.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	j.buf = b
	return nil
}

func (j *jsonWriter) end() error { return j.finish(nil) }

func (j *jsonWriter) fail(qerr error) error { return j.finish(qerr) }

func (j *jsonWriter) finish(qerr error) error {
	b := j.buf
	if j.lines {
		if qerr != nil {
			b = append(b, `{"error":`...)
			b = appendJSONBytes(b, qerr.Error())
			b = append(b, "}\n"...)
		}
	} else {
		b = fmt.Appendf(b, "\n],\n\"rows\":%d", j.n)
		if qerr != nil {
			b = append(b, `,"error":`...)
			b = appendJSONBytes(b, qerr.Error())
		}
		b = append(b, "}\n"...)
	}
	j.buf = b[:0]
	_, err := j.w.Write(b)
	return err
}

// appendJSONBytes appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONBytes[S string | []byte](b []byte, s S) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0 // s[start:i] is still to be copied
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		var r rune
		var size int
		switch v := any(s[i:]).(type) {
		case string:
			r, size = utf8.DecodeRuneInString(v)
		case []byte:
			r, size = utf8.DecodeRune(v)
		}
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jsonSafe marks the ASCII bytes that JSON strings carry as they are (not
// quotes, backslashes, controls, or <, >, & which HTML would read).
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// csvWriter writes FormatCSV.
type csvWriter struct {
	w   io.Writer
	res *resultSet
	buf []byte
}

func (c *csvWriter) begin(res *resultSet) error {
	c.res = res
	b := c.buf[:0]
	for i, name := range res.names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCSVField(b, name)
	}
	c.buf = append(b, '\r', '\n')
	return nil
}

func (c *csvWriter) block() error {
	b := c.buf
	cols := c.res.cols
	for i := range c.res.rows {
		for j, col := range cols {
			if j > 0 {
				b = append(b, ',')
			}
			b = col.appendCSV(b, i)
		}
		b = append(b, '\r', '\n')
		if len(b) >= flushAt {
			if _, err := c.w.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	c.buf = b
	return nil
}

func (c *csvWriter) end() error {
	_, err := c.w.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}

// fail writes the rows so far; CSV has no place for an error, so the
// caller must make the failure visible (the API aborts the response).
func (c *csvWriter) fail(error) error { return c.end() }

// appendCSVField quotes s if it needs it (RFC 4180).
func appendCSVField[S string | []byte](b []byte, s S) []byte {
	quote := len(s) > 0 && (s[0] == ' ' || s[0] == '\t')
	for i := 0; i < len(s) && !quote; i++ {
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n'
	}
	if !quote {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// arrowBatchRows is how many rows go in one Arrow record batch.
const arrowBatchRows = 8192

// arrowWriter writes FormatArrow: the result's schema, then record batches
// of up to arrowBatchRows rows, appended to the builders a column at a
// time. ClickHouse types map to Arrow as column's doc says: DateTime is a
// millisecond timestamp in UTC, as in the feed schemas (record.ArrowType).
type arrowWriter struct {
	w       *bufio.Writer
	res     *resultSet
	builder *array.RecordBuilder
	ipc     *ipc.Writer
	n       int
}

// ArrowMetaType is the field metadata key that carries a column's
// ClickHouse type in Arrow results.
const ArrowMetaType = "clickhouse.type"

func (a *arrowWriter) begin(res *resultSet) error {
	a.res = res
	fields := make([]arrow.Field, len(res.cols))
	for i, c := range res.cols {
		md := arrow.NewMetadata([]string{ArrowMetaType}, []string{res.types[i]})
		fields[i] = arrow.Field{Name: res.names[i], Type: c.arrowType(), Nullable: true, Metadata: md}
	}
	schema := arrow.NewSchema(fields, nil)
	mem := memory.NewGoAllocator()
	a.builder = array.NewRecordBuilder(mem, schema)
	a.ipc = ipc.NewWriter(a.w, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	return nil
}

func (a *arrowWriter) block() error {
	rows := a.res.rows
	for lo := 0; lo < rows; {
		hi := min(rows, lo+arrowBatchRows-a.n)
		for i, c := range a.res.cols {
			c.appendArrow(a.builder.Field(i), lo, hi, nil)
		}
		a.n += hi - lo
		lo = hi
		if a.n >= arrowBatchRows {
			if err := a.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *arrowWriter) flush() error {
	rec := a.builder.NewRecordBatch()
	defer rec.Release()
	a.n = 0
	if rec.NumRows() == 0 {
		return nil
	}
	if err := a.ipc.Write(rec); err != nil {
		return fmt.Errorf("writing Arrow batch: %w", err)
	}
	return nil
}

func (a *arrowWriter) end() error {
	defer a.builder.Release()
	if err := a.flush(); err != nil {
		return err
	}
	if err := a.ipc.Close(); err != nil {
		return fmt.Errorf("closing Arrow stream: %w", err)
	}
	return a.w.Flush()
}

// fail writes the batches so far without the end-of-stream marker, so that
// a reader of the whole stream cannot take it for a complete result; the
// caller must still make the failure visible (the API aborts the
// response, as a reader that stops at a batch boundary sees a clean end).
func (a *arrowWriter) fail(error) error {
	a.builder.Release()
	return a.w.Flush()
}
