package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/record"
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

// MediaType is the format's IANA media type, without parameters.
func (f Format) MediaType() string {
	switch f {
	case FormatNDJSON:
		return "application/x-ndjson"
	case FormatCSV:
		return "text/csv"
	case FormatArrow:
		return record.ContentTypeArrow
	}
	return record.ContentTypeJSON
}

// ContentType is the Content-Type of an answer in the format: the media
// type, with the charset for CSV.
func (f Format) ContentType() string {
	if f == FormatCSV {
		return f.MediaType() + "; charset=utf-8"
	}
	return f.MediaType()
}

// MediaTypes are the media types of every format, in the order of Formats.
func MediaTypes() []string {
	out := make([]string, len(Formats))
	for i, f := range Formats {
		out[i] = f.MediaType()
	}
	return out
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
	if s.queryVia != nil {
		return QueryStats{}, s.queryVia(ctx, sql, lim.settings())
	}
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
