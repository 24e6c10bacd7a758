package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/cityhighway/highway/highway/catalog"
)

// Format is how Query writes its result.
type Format string

// The result formats.
const (
	// FormatJSON is one object: {"meta":[{"name","type"}],"data":[{...}],"rows":N},
	// with "error" added when the query fails after rows were written.
	FormatJSON Format = "json"
	// FormatNDJSON is one JSON object per row, one per line.
	FormatNDJSON Format = "ndjson"
	// FormatCSV is RFC 4180 CSV with a header row; NULL is an empty field.
	FormatCSV Format = "csv"
	// FormatArrow is an Apache Arrow IPC stream, so data stays columnar
	// (ClickHouse 18.16 has no Arrow output, so the store builds it).
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
func (l Limits) settings() clickhouse.Settings {
	s := clickhouse.Settings{"readonly": 1}
	if l.MaxExecutionTime > 0 {
		s["max_execution_time"] = int(math.Ceil(l.MaxExecutionTime.Seconds()))
	}
	for name, v := range map[string]uint64{
		"max_result_rows": l.MaxResultRows, "max_result_bytes": l.MaxResultBytes,
		"max_memory_usage": l.MaxMemory, "max_rows_to_read": l.MaxRowsToRead,
	} {
		if v > 0 {
			s[name] = int(min(v, math.MaxInt64))
		}
	}
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
// its blocks, never gathered in memory. Nothing is written to w unless the
// query starts well (the first block, or the end of an empty result,
// arrived), so an error with QueryStats.Written == 0 can still be answered
// as an error. A failure of the query itself is a *QueryError.
//
// sql must already be vetted (see highway/api/sqlguard); readonly=1 is the
// second defence, not the only one. Query is safe for concurrent use.
func (s *Store) Query(ctx context.Context, sql string, lim Limits, f Format, w io.Writer) (QueryStats, error) {
	return runQuery(ctx, s.conn, sql, lim, f, w)
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

// runQuery is Query on any connection (the benchmark uses it directly).
func runQuery(ctx context.Context, conn driver.Conn, sql string, lim Limits, f Format, w io.Writer) (st QueryStats, err error) {
	cw := &countingWriter{w: w}
	defer func() { st.Written = cw.n }()
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(lim.settings()))
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return QueryStats{}, classify(err)
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	cols := make([]resultColumn, len(types))
	dest := make([]any, len(types))
	for i, t := range types {
		cols[i] = newResultColumn(t.Name(), t.DatabaseTypeName())
		st := t.ScanType()
		if st == nil {
			st = reflect.TypeOf((*any)(nil)).Elem()
		}
		dest[i] = reflect.New(st).Interface()
	}
	st.Columns = len(cols)
	// Wait for the first block (or the end) before writing anything.
	more := rows.Next()
	if !more {
		if err := rows.Err(); err != nil {
			return st, classify(err)
		}
	}
	out := newResultWriter(f, cw)
	// fail ends the result after a failure: with the error in the body
	// when some of it has gone out, else not at all, so that the caller
	// can still answer with an error.
	fail := func(err error) error {
		if cw.n > 0 {
			_ = out.end(err)
		}
		return err
	}
	if err := out.begin(cols); err != nil {
		return st, fmt.Errorf("writing result: %w", err)
	}
	vals := make([]value, len(cols))
	for ; more; more = rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return st, fail(fmt.Errorf("reading row %d: %w", st.Rows+1, err))
		}
		for i := range dest {
			readValue(dest[i], &vals[i])
		}
		if err := out.row(vals); err != nil {
			return st, fmt.Errorf("writing result: %w", err)
		}
		st.Rows++
	}
	if err := rows.Err(); err != nil {
		return st, fail(classify(err))
	}
	if err := out.end(nil); err != nil {
		return st, fmt.Errorf("writing result: %w", err)
	}
	return st, nil
}

// classify turns a ClickHouse exception into a *QueryError.
func classify(err error) error {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		return &QueryError{Code: ex.Code, Message: ex.Message}
	}
	return fmt.Errorf("clickhouse: %w", err)
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// valueKind is how a column's values are written.
type valueKind int

const (
	kindOther valueKind = iota
	kindInt
	kindUint
	kindFloat
	kindBool
	kindString
	kindDate
	kindTime
)

// resultColumn is a column of a result with what its ClickHouse type means
// for the writers.
type resultColumn struct {
	name     string
	chType   string
	kind     valueKind
	bits     int
	nullable bool
}

func newResultColumn(name, chType string) resultColumn {
	c := resultColumn{name: name, chType: chType}
	t := chType
	for {
		switch {
		case strings.HasPrefix(t, "Nullable(") && strings.HasSuffix(t, ")"):
			c.nullable = true
			t = t[len("Nullable(") : len(t)-1]
			continue
		case strings.HasPrefix(t, "LowCardinality(") && strings.HasSuffix(t, ")"):
			t = t[len("LowCardinality(") : len(t)-1]
			continue
		}
		break
	}
	switch {
	case strings.HasPrefix(t, "UInt"):
		c.kind, c.bits = kindUint, atoiOr(t[4:], 64)
	case strings.HasPrefix(t, "Int"):
		c.kind, c.bits = kindInt, atoiOr(t[3:], 64)
	case t == "Float32" || t == "Float64":
		c.kind, c.bits = kindFloat, atoiOr(t[5:], 64)
	case t == "Bool":
		c.kind = kindBool
	case t == "String", strings.HasPrefix(t, "FixedString"), strings.HasPrefix(t, "Enum"),
		t == "UUID", t == "IPv4", t == "IPv6", strings.HasPrefix(t, "Decimal"):
		c.kind = kindString
	case t == "Date" || t == "Date32":
		c.kind = kindDate
	case strings.HasPrefix(t, "DateTime"):
		c.kind = kindTime
	}
	if c.kind == kindInt || c.kind == kindUint {
		if c.bits != 8 && c.bits != 16 && c.bits != 32 && c.bits != 64 {
			c.kind = kindString // Int128, UInt256: as text
		}
	}
	return c
}

func atoiOr(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}

// value is one scanned value, unboxed so that rows cost no allocations for
// the common types.
type value struct {
	k vkind
	i int64
	u uint64
	f float64
	b bool
	s string
	t time.Time
	// x holds values of other types (arrays, maps, ...), normalized.
	x any
}

type vkind uint8

const (
	vNull vkind = iota
	vInt
	vUint
	vFloat
	vBool
	vString
	vTime
	vOther
)

// readValue reads the scan target dest into v: directly for the types
// clickhouse-go scans most, by reflection for the rest.
func readValue(dest any, v *value) {
	switch p := dest.(type) {
	case *string:
		v.k, v.s = vString, *p
	case **string:
		if *p == nil {
			v.k = vNull
		} else {
			v.k, v.s = vString, **p
		}
	case *int64:
		v.k, v.i = vInt, *p
	case **int64:
		if *p == nil {
			v.k = vNull
		} else {
			v.k, v.i = vInt, **p
		}
	case *int32:
		v.k, v.i = vInt, int64(*p)
	case *int16:
		v.k, v.i = vInt, int64(*p)
	case *int8:
		v.k, v.i = vInt, int64(*p)
	case *uint64:
		v.k, v.u = vUint, *p
	case **uint64:
		if *p == nil {
			v.k = vNull
		} else {
			v.k, v.u = vUint, **p
		}
	case *uint32:
		v.k, v.u = vUint, uint64(*p)
	case *uint16:
		v.k, v.u = vUint, uint64(*p)
	case *uint8:
		v.k, v.u = vUint, uint64(*p)
	case **uint8:
		if *p == nil {
			v.k = vNull
		} else {
			v.k, v.u = vUint, uint64(**p)
		}
	case *float64:
		v.k, v.f = vFloat, *p
	case **float64:
		if *p == nil {
			v.k = vNull
		} else {
			v.k, v.f = vFloat, **p
		}
	case *float32:
		v.k, v.f = vFloat, float64(*p)
	case *bool:
		v.k, v.b = vBool, *p
	case *time.Time:
		v.k, v.t = vTime, *p
	case **time.Time:
		if *p == nil {
			v.k = vNull
		} else {
			v.k, v.t = vTime, **p
		}
	default:
		v.fromAny(normalize(reflect.ValueOf(dest)))
	}
}

// fromAny sets v from a normalized value.
func (v *value) fromAny(x any) {
	switch x := x.(type) {
	case nil:
		v.k = vNull
	case int64:
		v.k, v.i = vInt, x
	case uint64:
		v.k, v.u = vUint, x
	case float64:
		v.k, v.f = vFloat, x
	case bool:
		v.k, v.b = vBool, x
	case string:
		v.k, v.s = vString, x
	case time.Time:
		v.k, v.t = vTime, x
	default:
		v.k, v.x = vOther, x
	}
}

// normalize turns a scanned value into nil, int64, uint64, float64, bool,
// string, time.Time or []any.
func normalize(v reflect.Value) any {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if !v.IsValid() {
		return nil
	}
	switch x := v.Interface().(type) {
	case time.Time:
		return x
	case string:
		return x
	case []byte:
		return string(x)
	case fmt.Stringer:
		if v.Kind() != reflect.Slice && v.Kind() != reflect.Array || v.Type().Elem().Kind() == reflect.Uint8 {
			return x.String() // net.IP, UUID, decimal
		}
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint()
	case reflect.Float32, reflect.Float64:
		return v.Float()
	case reflect.Bool:
		return v.Bool()
	case reflect.String:
		return v.String()
	case reflect.Slice, reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = normalize(v.Index(i))
		}
		return out
	case reflect.Map:
		out := make([]any, 0, v.Len())
		it := v.MapRange()
		for it.Next() {
			out = append(out, []any{normalize(it.Key()), normalize(it.Value())})
		}
		return out
	}
	return fmt.Sprint(v.Interface())
}

// resultWriter writes a result in one format.
type resultWriter interface {
	begin(cols []resultColumn) error
	row(vals []value) error
	// end finishes the result; err is the query's failure, if any, which
	// formats that can carry it write.
	end(err error) error
}

func newResultWriter(f Format, w io.Writer) resultWriter {
	bw := bufio.NewWriterSize(w, 64<<10)
	switch f {
	case FormatCSV:
		return &csvWriter{w: bw}
	case FormatNDJSON:
		return &jsonWriter{w: bw, lines: true}
	case FormatArrow:
		return &arrowWriter{w: bw}
	}
	return &jsonWriter{w: bw}
}

// jsonWriter writes FormatJSON, or FormatNDJSON when lines is set.
type jsonWriter struct {
	w     *bufio.Writer
	lines bool
	cols  []resultColumn
	keys  [][]byte
	buf   []byte
	n     uint64
}

func (j *jsonWriter) begin(cols []resultColumn) error {
	j.cols = cols
	j.keys = make([][]byte, len(cols))
	for i, c := range cols {
		j.keys[i] = append(appendJSONString(nil, c.name), ':')
	}
	if j.lines {
		return nil
	}
	b := []byte(`{"meta":[`)
	for i, c := range cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendJSONString(b, c.name)
		b = append(b, `,"type":`...)
		b = appendJSONString(b, c.chType)
		b = append(b, '}')
	}
	b = append(b, "],\n\"data\":["...)
	_, err := j.w.Write(b)
	return err
}

func (j *jsonWriter) row(vals []value) error {
	b := j.buf[:0]
	if !j.lines && j.n > 0 {
		b = append(b, ',')
	}
	if !j.lines {
		b = append(b, '\n')
	}
	b = append(b, '{')
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, j.keys[i]...)
		b = v.appendJSON(b, j.cols[i].kind)
	}
	b = append(b, '}')
	if j.lines {
		b = append(b, '\n')
	}
	j.buf = b
	j.n++
	_, err := j.w.Write(b)
	return err
}

func (j *jsonWriter) end(qerr error) error {
	if !j.lines {
		b := fmt.Appendf(nil, "\n],\n\"rows\":%d", j.n)
		if qerr != nil {
			b = append(b, `,"error":`...)
			b = appendJSONString(b, qerr.Error())
		}
		b = append(b, "}\n"...)
		if _, err := j.w.Write(b); err != nil {
			return err
		}
	}
	return j.w.Flush()
}

// appendJSON appends v as JSON.
func (v *value) appendJSON(b []byte, k valueKind) []byte {
	switch v.k {
	case vNull:
		return append(b, "null"...)
	case vInt:
		return strconv.AppendInt(b, v.i, 10)
	case vUint:
		return strconv.AppendUint(b, v.u, 10)
	case vFloat:
		if math.IsNaN(v.f) || math.IsInf(v.f, 0) {
			return append(b, "null"...)
		}
		return strconv.AppendFloat(b, v.f, 'g', -1, 64)
	case vBool:
		return strconv.AppendBool(b, v.b)
	case vString:
		return appendJSONString(b, v.s)
	case vTime:
		b = append(b, '"')
		b = appendTime(b, v.t, k)
		return append(b, '"')
	}
	return appendJSONValue(b, v.x, k)
}

func appendJSONValue(b []byte, v any, k valueKind) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case uint64:
		return strconv.AppendUint(b, x, 10)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(b, "null"...)
		}
		return strconv.AppendFloat(b, x, 'g', -1, 64)
	case bool:
		return strconv.AppendBool(b, x)
	case string:
		return appendJSONString(b, x)
	case time.Time:
		b = append(b, '"')
		b = appendTime(b, x, k)
		return append(b, '"')
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONValue(b, e, kindOther)
		}
		return append(b, ']')
	}
	return appendJSONString(b, fmt.Sprint(v))
}

func appendTime(b []byte, t time.Time, k valueKind) []byte {
	t = t.UTC()
	if k == kindDate {
		return t.AppendFormat(b, time.DateOnly)
	}
	if t.Nanosecond() != 0 || t.Year() < 1000 || t.Year() > 9999 {
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	// The common case, whole seconds, without the layout interpreter.
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(mo)/10), byte('0'+int(mo)%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+sec/10), byte('0'+sec%10), 'Z')
	return b
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// csvWriter writes FormatCSV.
type csvWriter struct {
	w    *bufio.Writer
	cols []resultColumn
	buf  []byte
}

func (c *csvWriter) begin(cols []resultColumn) error {
	c.cols = cols
	b := c.buf[:0]
	for i, col := range cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCSVField(b, col.name)
	}
	b = append(b, '\r', '\n')
	c.buf = b
	_, err := c.w.Write(b)
	return err
}

func (c *csvWriter) row(vals []value) error {
	b := c.buf[:0]
	for i := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		v := &vals[i]
		switch v.k {
		case vNull:
		case vString:
			b = appendCSVField(b, v.s)
		case vTime:
			b = appendTime(b, v.t, c.cols[i].kind)
		case vOther:
			b = appendCSVField(b, string(appendJSONValue(nil, v.x, kindOther)))
		default:
			b = v.appendJSON(b, c.cols[i].kind)
		}
	}
	b = append(b, '\r', '\n')
	c.buf = b
	_, err := c.w.Write(b)
	return err
}

func (c *csvWriter) end(error) error { return c.w.Flush() }

// appendCSVField quotes s if it needs it (RFC 4180).
func appendCSVField(b []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\r\n") && (s == "" || (s[0] != ' ' && s[0] != '\t')) {
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
// of up to arrowBatchRows rows. ClickHouse types map to Arrow as the feed
// schemas do (record.ArrowType): DateTime is a millisecond timestamp in UTC.
type arrowWriter struct {
	w       *bufio.Writer
	cols    []resultColumn
	builder *array.RecordBuilder
	ipc     *ipc.Writer
	n       int
}

// ArrowMetaType is the field metadata key that carries a column's
// ClickHouse type in Arrow results.
const ArrowMetaType = "clickhouse.type"

func arrowType(c resultColumn) arrow.DataType {
	switch c.kind {
	case kindInt:
		switch c.bits {
		case 8:
			return arrow.PrimitiveTypes.Int8
		case 16:
			return arrow.PrimitiveTypes.Int16
		case 32:
			return arrow.PrimitiveTypes.Int32
		}
		return arrow.PrimitiveTypes.Int64
	case kindUint:
		switch c.bits {
		case 8:
			return arrow.PrimitiveTypes.Uint8
		case 16:
			return arrow.PrimitiveTypes.Uint16
		case 32:
			return arrow.PrimitiveTypes.Uint32
		}
		return arrow.PrimitiveTypes.Uint64
	case kindFloat:
		if c.bits == 32 {
			return arrow.PrimitiveTypes.Float32
		}
		return arrow.PrimitiveTypes.Float64
	case kindBool:
		return arrow.FixedWidthTypes.Boolean
	case kindDate:
		return arrow.FixedWidthTypes.Date32
	case kindTime:
		return &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
	}
	return arrow.BinaryTypes.String
}

func (a *arrowWriter) begin(cols []resultColumn) error {
	a.cols = cols
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		md := arrow.NewMetadata([]string{ArrowMetaType}, []string{c.chType})
		fields[i] = arrow.Field{Name: c.name, Type: arrowType(c), Nullable: true, Metadata: md}
	}
	schema := arrow.NewSchema(fields, nil)
	mem := memory.NewGoAllocator()
	a.builder = array.NewRecordBuilder(mem, schema)
	a.ipc = ipc.NewWriter(a.w, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	return nil
}

func (a *arrowWriter) row(vals []value) error {
	for i := range vals {
		appendArrow(a.builder.Field(i), &vals[i], a.cols[i])
	}
	a.n++
	if a.n >= arrowBatchRows {
		return a.flush()
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

func (a *arrowWriter) end(qerr error) error {
	defer a.builder.Release()
	if qerr == nil {
		if err := a.flush(); err != nil {
			return err
		}
	}
	// A failed query ends without its last batch; the stream is still
	// closed properly so readers see the rows before the failure.
	if err := a.ipc.Close(); err != nil {
		return fmt.Errorf("closing Arrow stream: %w", err)
	}
	return a.w.Flush()
}

func appendArrow(b array.Builder, v *value, c resultColumn) {
	if v.k == vNull {
		b.AppendNull()
		return
	}
	switch bb := b.(type) {
	case *array.Int8Builder:
		bb.Append(int8(v.toInt()))
	case *array.Int16Builder:
		bb.Append(int16(v.toInt()))
	case *array.Int32Builder:
		bb.Append(int32(v.toInt()))
	case *array.Int64Builder:
		bb.Append(v.toInt())
	case *array.Uint8Builder:
		bb.Append(uint8(v.toInt()))
	case *array.Uint16Builder:
		bb.Append(uint16(v.toInt()))
	case *array.Uint32Builder:
		bb.Append(uint32(v.toInt()))
	case *array.Uint64Builder:
		if v.k == vUint {
			bb.Append(v.u)
		} else {
			bb.Append(uint64(v.toInt()))
		}
	case *array.Float32Builder:
		bb.Append(float32(v.f))
	case *array.Float64Builder:
		bb.Append(v.f)
	case *array.BooleanBuilder:
		bb.Append(v.b || v.toInt() != 0)
	case *array.Date32Builder:
		bb.Append(arrow.Date32FromTime(v.t))
	case *array.TimestampBuilder:
		bb.Append(arrow.Timestamp(v.t.UnixMilli()))
	case *array.StringBuilder:
		switch v.k {
		case vString:
			bb.Append(v.s)
		case vTime:
			bb.Append(string(appendTime(nil, v.t, c.kind)))
		default:
			bb.Append(string(v.appendJSON(nil, c.kind)))
		}
	default:
		b.AppendNull()
	}
}

// toInt returns an integer value as int64 (uint64 wraps).
func (v *value) toInt() int64 {
	switch v.k {
	case vInt:
		return v.i
	case vUint:
		return int64(v.u)
	case vBool:
		if v.b {
			return 1
		}
	}
	return 0
}
