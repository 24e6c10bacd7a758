//go:build integration

package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/cityhighway/highway/internal/chdb"
)

// chdbConn is the part of clickhouse-go's driver.Conn that the store uses,
// answered by a chdb session, so that the store's own code paths run their
// statements on current ClickHouse. Arguments are bound client-side as
// clickhouse-go does for the native protocol. Every statement is recorded.
type chdbConn struct {
	driver.Conn // the methods the store does not call; calling one panics
	s           *chdb.Session
	mu          sync.Mutex
	statements  []string
}

func (c *chdbConn) bound(query string, args []any) (string, error) {
	q, err := bindArgs(query, args)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	c.statements = append(c.statements, q)
	c.mu.Unlock()
	return q, nil
}

func (c *chdbConn) Exec(_ context.Context, query string, args ...any) error {
	q, err := c.bound(query, args)
	if err != nil {
		return err
	}
	return c.s.Exec(q)
}

func (c *chdbConn) Query(_ context.Context, query string, args ...any) (driver.Rows, error) {
	q, err := c.bound(query, args)
	if err != nil {
		return nil, err
	}
	res, err := c.s.Query(q)
	if err != nil {
		return nil, err
	}
	return &chdbRows{res: res, i: -1}, nil
}

func (c *chdbConn) QueryRow(ctx context.Context, query string, args ...any) driver.Row {
	rows, err := c.Query(ctx, query, args...)
	if err != nil {
		return &chdbRow{err: err}
	}
	return &chdbRow{rows: rows.(*chdbRows)}
}

func (c *chdbConn) PrepareBatch(_ context.Context, query string, _ ...driver.PrepareBatchOption) (driver.Batch, error) {
	return &chdbBatch{c: c, query: query}, nil
}

func (c *chdbConn) Ping(context.Context) error { return nil }
func (c *chdbConn) Close() error               { return nil }

// chdbBatch sends its rows as one INSERT ... VALUES.
type chdbBatch struct {
	driver.Batch
	c     *chdbConn
	query string
	rows  []string
	sent  bool
}

func (b *chdbBatch) Append(v ...any) error {
	vals := make([]string, len(v))
	for i, x := range v {
		s, err := literal(x)
		if err != nil {
			return err
		}
		vals[i] = s
	}
	b.rows = append(b.rows, "("+strings.Join(vals, ", ")+")")
	return nil
}

func (b *chdbBatch) Send() error {
	b.sent = true
	if len(b.rows) == 0 {
		return nil
	}
	return b.c.Exec(context.Background(), b.query+" VALUES "+strings.Join(b.rows, ", "))
}

func (b *chdbBatch) Abort() error { b.sent = true; return nil }
func (b *chdbBatch) Close() error { b.sent = true; return nil }
func (b *chdbBatch) IsSent() bool { return b.sent }

type chdbRow struct {
	driver.Row
	rows *chdbRows
	err  error
}

func (r *chdbRow) Err() error { return r.err }

func (r *chdbRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	if !r.rows.Next() {
		return errors.New("sql: no rows in result set")
	}
	return r.rows.Scan(dest...)
}

type chdbRows struct {
	driver.Rows
	res *chdb.Result
	i   int
}

func (r *chdbRows) Next() bool    { r.i++; return r.i < len(r.res.Rows) }
func (r *chdbRows) Close() error  { return nil }
func (r *chdbRows) Err() error    { return nil }
func (r *chdbRows) HasData() bool { return len(r.res.Rows) > 0 }
func (r *chdbRows) Columns() []string {
	return r.res.Names
}

func (r *chdbRows) ColumnTypes() []driver.ColumnType {
	out := make([]driver.ColumnType, len(r.res.Types))
	for i, typ := range r.res.Types {
		out[i] = chdbColumn{name: r.res.Names[i], typ: typ}
	}
	return out
}

// chdbColumn says what Go type a column scans into, as clickhouse-go's
// column types do for the types the store reads.
type chdbColumn struct {
	driver.ColumnType
	name, typ string
}

func (c chdbColumn) Name() string             { return c.name }
func (c chdbColumn) DatabaseTypeName() string { return c.typ }
func (c chdbColumn) ScanType() reflect.Type   { return scanType(c.typ) }

var scanTypes = map[string]reflect.Type{
	"String": reflect.TypeOf(""), "UInt8": reflect.TypeOf(uint8(0)), "UInt16": reflect.TypeOf(uint16(0)),
	"UInt32": reflect.TypeOf(uint32(0)), "UInt64": reflect.TypeOf(uint64(0)), "Int8": reflect.TypeOf(int8(0)),
	"Int16": reflect.TypeOf(int16(0)), "Int32": reflect.TypeOf(int32(0)), "Int64": reflect.TypeOf(int64(0)),
	"Float32": reflect.TypeOf(float32(0)), "Float64": reflect.TypeOf(float64(0)), "Bool": reflect.TypeOf(false),
}

func scanType(typ string) reflect.Type {
	inner := func(prefix string) (string, bool) {
		if strings.HasPrefix(typ, prefix+"(") && strings.HasSuffix(typ, ")") {
			return typ[len(prefix)+1 : len(typ)-1], true
		}
		return "", false
	}
	if t, ok := inner("Nullable"); ok {
		return reflect.PointerTo(scanType(t))
	}
	if t, ok := inner("LowCardinality"); ok {
		return scanType(t)
	}
	if t, ok := inner("Array"); ok {
		return reflect.SliceOf(scanType(t))
	}
	if strings.HasPrefix(typ, "DateTime") || strings.HasPrefix(typ, "Date") {
		return timeType
	}
	if t, ok := scanTypes[typ]; ok {
		return t
	}
	return reflect.TypeOf("")
}

func (r *chdbRows) Scan(dest ...any) error {
	row := r.res.Rows[r.i]
	if len(dest) != len(row) {
		return fmt.Errorf("scan: %d destinations for %d columns", len(dest), len(row))
	}
	for i, d := range dest {
		if err := scanJSON(row[i], reflect.ValueOf(d).Elem()); err != nil {
			return fmt.Errorf("scan column %s (%s) into %T: %w", r.res.Names[i], r.res.Types[i], d, err)
		}
	}
	return nil
}

var timeType = reflect.TypeOf(time.Time{})

// scanJSON stores a value of ClickHouse's JSONCompact output in v.
func scanJSON(raw json.RawMessage, v reflect.Value) error {
	if v.Kind() == reflect.Pointer {
		if string(raw) == "null" {
			v.SetZero()
			return nil
		}
		v.Set(reflect.New(v.Type().Elem()))
		return scanJSON(raw, v.Elem())
	}
	var s string
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
	} else {
		s = string(raw)
	}
	switch {
	case v.Type() == timeType:
		for _, layout := range []string{"2006-01-02 15:04:05.999999999", "2006-01-02"} {
			if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
				v.Set(reflect.ValueOf(t))
				return nil
			}
		}
		return fmt.Errorf("not a time: %q", s)
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		v.SetBool(s == "true" || s == "1")
	case v.CanInt():
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return err
		}
		v.SetInt(n)
	case v.CanUint():
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return err
		}
		v.SetUint(n)
	case v.CanFloat():
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return err
		}
		v.SetFloat(n)
	case v.Kind() == reflect.Slice:
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return err
		}
		out := reflect.MakeSlice(v.Type(), len(elems), len(elems))
		for i, e := range elems {
			if err := scanJSON(e, out.Index(i)); err != nil {
				return err
			}
		}
		v.Set(out)
	default:
		return fmt.Errorf("cannot scan into %s", v.Type())
	}
	return nil
}

// bindArgs replaces each ? outside quotes with its argument as a literal.
func bindArgs(query string, args []any) (string, error) {
	if len(args) == 0 {
		return query, nil
	}
	var b strings.Builder
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == '\\' && i+1 < len(query) {
				b.WriteByte(c)
				i++
				c = query[i]
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '`' || c == '"':
			quote = c
		case c == '?':
			if n >= len(args) {
				return "", fmt.Errorf("bind: more ? than the %d arguments in %q", len(args), query)
			}
			s, err := literal(args[n])
			if err != nil {
				return "", err
			}
			n++
			b.WriteString(s)
			continue
		}
		b.WriteByte(c)
	}
	if n != len(args) {
		return "", fmt.Errorf("bind: %d arguments for %d ? in %q", len(args), n, query)
	}
	return b.String(), nil
}

// literal writes a Go value as a ClickHouse literal.
func literal(x any) (string, error) {
	switch v := x.(type) {
	case nil:
		return "NULL", nil
	case string:
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'", nil
	case []byte:
		return literal(string(v))
	case time.Time:
		if v.Nanosecond() != 0 {
			return fmt.Sprintf("toDateTime64(%d.%09d, 9, 'UTC')", v.Unix(), v.Nanosecond()), nil
		}
		return fmt.Sprintf("toDateTime(%d, 'UTC')", v.Unix()), nil
	case bool:
		if v {
			return "1", nil
		}
		return "0", nil
	case fmt.Stringer:
		return literal(v.String())
	}
	rv := reflect.ValueOf(x)
	switch {
	case rv.Kind() == reflect.Pointer:
		if rv.IsNil() {
			return "NULL", nil
		}
		return literal(rv.Elem().Interface())
	case rv.CanInt():
		return strconv.FormatInt(rv.Int(), 10), nil
	case rv.CanUint():
		return strconv.FormatUint(rv.Uint(), 10), nil
	case rv.CanFloat():
		return strconv.FormatFloat(rv.Float(), 'g', -1, 64), nil
	case rv.Kind() == reflect.Slice:
		parts := make([]string, rv.Len())
		for i := range parts {
			s, err := literal(rv.Index(i).Interface())
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	}
	return "", fmt.Errorf("bind: no literal for %T", x)
}
