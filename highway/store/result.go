package store

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// resultColumn is one column of a result block, decoded from ClickHouse's native
// format into typed slices, and written from them by the formats: JSON and
// CSV row by row (a method call per value, no boxing), Arrow a range of rows
// at a time. Values of a block stay valid until the next decode.
//
// How each type is written:
//   - integers of up to 64 bits and floats: numbers (NaN and ±Inf are null
//     in JSON); Bool: true/false; Arrow: the same-width Arrow type.
//   - String, FixedString, Enum: strings; Arrow: utf8.
//   - Date, Date32: "2006-01-02"; Arrow: date32.
//   - DateTime, DateTime64 (any time zone): RFC 3339 in UTC, fractional
//     seconds only when non-zero; Arrow: timestamp[ms, UTC].
//   - Decimal, Int128/256, UInt128/256, UUID, IPv4, IPv6: their text, as
//     JSON strings; Arrow: utf8.
//   - Array, Tuple, Map (as an array of [key, value] pairs): JSON arrays; in
//     CSV and Arrow, that JSON as text.
//   - Nullable(T): T or null (an empty CSV field); LowCardinality(T): T;
//     SimpleAggregateFunction(f, T): T. Nothing: null.
type resultColumn interface {
	// decodeState reads the column's state prefix, sent before its values
	// in every block (only LowCardinality has one).
	decodeState(r *proto.Reader) error
	// decode reads rows values, replacing the previous block's.
	decode(r *proto.Reader, rows int) error
	// appendJSON appends row i as a JSON value.
	appendJSON(b []byte, i int) []byte
	// appendCSV appends row i as a CSV field, quoted where needed.
	appendCSV(b []byte, i int) []byte
	// arrowType is the column's type in Arrow results.
	arrowType() arrow.DataType
	// appendArrow appends rows [lo, hi) to b, a builder of arrowType();
	// nulls, when not nil, marks null rows (non-zero) by row index.
	appendArrow(b array.Builder, lo, hi int, nulls []uint8)
}

// decodeColumn reads a column's values of one block; a block without rows
// carries no values (nor state).
func decodeColumn(r *proto.Reader, c resultColumn, rows int) error {
	if rows == 0 {
		return c.decode(r, 0)
	}
	if err := c.decodeState(r); err != nil {
		return err
	}
	return c.decode(r, rows)
}

// newColumn returns the column of ClickHouse type t, or an error if the
// formats cannot carry that type.
func newColumn(t string) (resultColumn, error) {
	name, args := splitType(t)
	switch name {
	case "Int8":
		return &intCol[int8, proto.ColInt8, *proto.ColInt8]{}, nil
	case "Int16":
		return &intCol[int16, proto.ColInt16, *proto.ColInt16]{}, nil
	case "Int32":
		return &intCol[int32, proto.ColInt32, *proto.ColInt32]{}, nil
	case "Int64":
		return &intCol[int64, proto.ColInt64, *proto.ColInt64]{}, nil
	case "UInt8":
		return &uintCol[uint8, proto.ColUInt8, *proto.ColUInt8]{}, nil
	case "UInt16":
		return &uintCol[uint16, proto.ColUInt16, *proto.ColUInt16]{}, nil
	case "UInt32":
		return &uintCol[uint32, proto.ColUInt32, *proto.ColUInt32]{}, nil
	case "UInt64":
		return &uintCol[uint64, proto.ColUInt64, *proto.ColUInt64]{}, nil
	case "Float32":
		return &floatCol[float32, proto.ColFloat32, *proto.ColFloat32]{bits: 32}, nil
	case "Float64":
		return &floatCol[float64, proto.ColFloat64, *proto.ColFloat64]{bits: 64}, nil
	case "Bool":
		return &boolCol{}, nil
	case "String":
		return &stringCol{}, nil
	case "FixedString":
		n, err := strconv.Atoi(strings.TrimSpace(args))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad FixedString size %q", args)
		}
		return &fixedStringCol{size: n}, nil
	case "Enum8", "Enum16":
		names, err := parseEnum(args)
		if err != nil {
			return nil, err
		}
		if name == "Enum8" {
			return &enumCol[int8, proto.ColInt8, *proto.ColInt8]{names: names}, nil
		}
		return &enumCol[int16, proto.ColInt16, *proto.ColInt16]{names: names}, nil
	case "Date":
		return &dateCol[uint16, proto.ColUInt16, *proto.ColUInt16]{}, nil
	case "Date32":
		return &dateCol[int32, proto.ColInt32, *proto.ColInt32]{}, nil
	case "DateTime":
		return &dateTimeCol{}, nil
	case "DateTime64":
		p, _, _ := strings.Cut(args, ",")
		prec, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || prec < 0 || prec > 9 {
			return nil, fmt.Errorf("bad DateTime64 precision %q", p)
		}
		return &dateTime64Col{prec: prec}, nil
	case "Decimal", "Decimal32", "Decimal64", "Decimal128", "Decimal256":
		return newDecimal(name, args)
	case "Int128", "UInt128", "Int256", "UInt256":
		size := 16
		if strings.HasSuffix(name, "256") {
			size = 32
		}
		return &bigIntCol{fixedStringCol: fixedStringCol{size: size}, signed: name[0] == 'I'}, nil
	case "UUID":
		return &uuidCol{fixedStringCol: fixedStringCol{size: 16}}, nil
	case "IPv4":
		return &ipv4Col{}, nil
	case "IPv6":
		return &ipv6Col{fixedStringCol: fixedStringCol{size: 16}}, nil
	case "Nothing":
		return &nothingCol{}, nil
	case "Nullable":
		inner, err := newColumn(args)
		if err != nil {
			return nil, err
		}
		return &nullableCol{inner: inner}, nil
	case "LowCardinality":
		inner := args
		iname, iargs := splitType(inner)
		nullable := iname == "Nullable"
		if nullable {
			inner = iargs
		}
		dict, err := newColumn(inner)
		if err != nil {
			return nil, err
		}
		return &lowCardinalityCol{dict: dict, nullable: nullable}, nil
	case "Array":
		inner, err := newColumn(args)
		if err != nil {
			return nil, err
		}
		a := &arrayCol{inner: inner}
		a.self = a
		return a, nil
	case "Tuple":
		var elems []resultColumn
		for _, e := range splitArgs(args) {
			c, err := newColumn(e)
			if err != nil {
				// A named element: "name Type".
				if _, typ, ok := strings.Cut(e, " "); ok {
					c, err = newColumn(strings.TrimSpace(typ))
				}
			}
			if err != nil {
				return nil, err
			}
			elems = append(elems, c)
		}
		if len(elems) == 0 {
			return nil, errors.New("a tuple without elements")
		}
		tc := &tupleCol{elems: elems}
		tc.self = tc
		return tc, nil
	case "Map":
		// On the wire, Map(K, V) is Array(Tuple(K, V)).
		kv := splitArgs(args)
		if len(kv) != 2 {
			return nil, fmt.Errorf("bad Map arguments %q", args)
		}
		return newColumn("Array(Tuple(" + kv[0] + ", " + kv[1] + "))")
	case "SimpleAggregateFunction":
		a := splitArgs(args)
		if len(a) < 2 {
			return nil, fmt.Errorf("bad SimpleAggregateFunction arguments %q", args)
		}
		return newColumn(strings.Join(a[1:], ", "))
	}
	return nil, errors.New("no encoding for it")
}

// splitType splits "Name(args)" into Name and args.
func splitType(t string) (name, args string) {
	t = strings.TrimSpace(t)
	open := strings.IndexByte(t, '(')
	if open < 0 || !strings.HasSuffix(t, ")") {
		return t, ""
	}
	return t[:open], t[open+1 : len(t)-1]
}

// splitArgs splits type arguments at the commas outside parentheses and
// quotes.
func splitArgs(s string) []string {
	var out []string
	depth, start, quoted := 0, 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '\'':
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	if rest := strings.TrimSpace(s[start:]); rest != "" {
		out = append(out, rest)
	}
	return out
}

// parseEnum reads "'a' = 1, 'b' = 2".
func parseEnum(args string) (map[int16]string, error) {
	names := map[int16]string{}
	for _, e := range splitArgs(args) {
		eq := strings.LastIndexByte(e, '=')
		if eq < 0 {
			return nil, fmt.Errorf("bad enum element %q", e)
		}
		n, err := strconv.ParseInt(strings.TrimSpace(e[eq+1:]), 10, 16)
		if err != nil {
			return nil, fmt.Errorf("bad enum element %q", e)
		}
		q := strings.TrimSpace(e[:eq])
		if len(q) < 2 || q[0] != '\'' || q[len(q)-1] != '\'' {
			return nil, fmt.Errorf("bad enum element %q", e)
		}
		name := q[1 : len(q)-1]
		if strings.ContainsRune(name, '\\') {
			var b strings.Builder
			for i := 0; i < len(name); i++ {
				if name[i] == '\\' && i+1 < len(name) {
					i++
				}
				b.WriteByte(name[i])
			}
			name = b.String()
		}
		names[int16(n)] = name
	}
	return names, nil
}

// noState is embedded by the columns without a state prefix.
type noState struct{}

func (noState) decodeState(*proto.Reader) error { return nil }

// decoder is a ch-go column type C of fixed-width values.
type decoder[C any] interface {
	*C
	DecodeColumn(r *proto.Reader, rows int) error
}

// fixed holds a ch-go column of fixed-width values (ch-go reads them
// straight into the slice).
type fixed[T any, C ~[]T, PC decoder[C]] struct {
	noState
	v C
}

func (c *fixed[T, C, PC]) decode(r *proto.Reader, rows int) error {
	c.v = c.v[:0]
	return PC(&c.v).DecodeColumn(r, rows)
}

// validity turns a null map into Arrow's validity (nil when there is none).
func validity(nulls []uint8, lo, hi int) []bool {
	if nulls == nil {
		return nil
	}
	valid := make([]bool, hi-lo)
	for i := range valid {
		valid[i] = nulls[lo+i] == 0
	}
	return valid
}

type intCol[T int8 | int16 | int32 | int64, C ~[]T, PC decoder[C]] struct{ fixed[T, C, PC] }

func (c *intCol[T, C, PC]) appendJSON(b []byte, i int) []byte {
	return strconv.AppendInt(b, int64(c.v[i]), 10)
}
func (c *intCol[T, C, PC]) appendCSV(b []byte, i int) []byte { return c.appendJSON(b, i) }
func (c *intCol[T, C, PC]) arrowType() arrow.DataType {
	switch any(c.v).(type) {
	case proto.ColInt8:
		return arrow.PrimitiveTypes.Int8
	case proto.ColInt16:
		return arrow.PrimitiveTypes.Int16
	case proto.ColInt32:
		return arrow.PrimitiveTypes.Int32
	}
	return arrow.PrimitiveTypes.Int64
}
func (c *intCol[T, C, PC]) appendArrow(b array.Builder, lo, hi int, nulls []uint8) {
	valid := validity(nulls, lo, hi)
	switch v := any([]T(c.v[lo:hi])).(type) {
	case []int8:
		b.(*array.Int8Builder).AppendValues(v, valid)
	case []int16:
		b.(*array.Int16Builder).AppendValues(v, valid)
	case []int32:
		b.(*array.Int32Builder).AppendValues(v, valid)
	case []int64:
		b.(*array.Int64Builder).AppendValues(v, valid)
	}
}

type uintCol[T uint8 | uint16 | uint32 | uint64, C ~[]T, PC decoder[C]] struct{ fixed[T, C, PC] }

func (c *uintCol[T, C, PC]) appendJSON(b []byte, i int) []byte {
	return strconv.AppendUint(b, uint64(c.v[i]), 10)
}
func (c *uintCol[T, C, PC]) appendCSV(b []byte, i int) []byte { return c.appendJSON(b, i) }
func (c *uintCol[T, C, PC]) arrowType() arrow.DataType {
	switch any(c.v).(type) {
	case proto.ColUInt8:
		return arrow.PrimitiveTypes.Uint8
	case proto.ColUInt16:
		return arrow.PrimitiveTypes.Uint16
	case proto.ColUInt32:
		return arrow.PrimitiveTypes.Uint32
	}
	return arrow.PrimitiveTypes.Uint64
}
func (c *uintCol[T, C, PC]) appendArrow(b array.Builder, lo, hi int, nulls []uint8) {
	valid := validity(nulls, lo, hi)
	switch v := any([]T(c.v[lo:hi])).(type) {
	case []uint8:
		b.(*array.Uint8Builder).AppendValues(v, valid)
	case []uint16:
		b.(*array.Uint16Builder).AppendValues(v, valid)
	case []uint32:
		b.(*array.Uint32Builder).AppendValues(v, valid)
	case []uint64:
		b.(*array.Uint64Builder).AppendValues(v, valid)
	}
}

type floatCol[T float32 | float64, C ~[]T, PC decoder[C]] struct {
	fixed[T, C, PC]
	bits int
}

func (c *floatCol[T, C, PC]) appendJSON(b []byte, i int) []byte {
	f := float64(c.v[i])
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	return appendFloat(b, f, c.bits)
}
func (c *floatCol[T, C, PC]) appendCSV(b []byte, i int) []byte {
	return appendFloat(b, float64(c.v[i]), c.bits) // NaN, +Inf, -Inf as such
}

// appendFloat appends f as strconv.AppendFloat(b, f, 'g', -1, bits) does,
// with a fast path for the common float64 that is a decimal of at most
// three places between 0.001 and 1e6 (a reading such as 23.5): if m/10^k,
// rounded as IEEE division rounds, is f, the decimal m·10^-k (of at most
// ten significant digits, so no shorter one rounds to f) is the shortest
// that reads back as f, and in that range 'g' writes it without exponent.
func appendFloat(b []byte, f float64, bits int) []byte {
	if a := math.Abs(f); bits == 64 && a >= 1e-3 && a < 1e6 {
		for k := 0; k <= 3; k++ {
			m := math.Round(f * pow10f[k])
			if m/pow10f[k] != f {
				continue
			}
			if m < 0 {
				b = append(b, '-')
				m = -m
			}
			u := uint64(m)
			p := uint64(pow10[k])
			b = strconv.AppendUint(b, u/p, 10)
			if k > 0 {
				b = append(b, '.')
				frac := u % p
				for d := p / 10; d > 0; d /= 10 {
					b = append(b, byte('0'+frac/d%10))
				}
			}
			return b
		}
	}
	return strconv.AppendFloat(b, f, 'g', -1, bits)
}

var pow10f = [...]float64{1, 10, 100, 1000}

func (c *floatCol[T, C, PC]) arrowType() arrow.DataType {
	if c.bits == 32 {
		return arrow.PrimitiveTypes.Float32
	}
	return arrow.PrimitiveTypes.Float64
}
func (c *floatCol[T, C, PC]) appendArrow(b array.Builder, lo, hi int, nulls []uint8) {
	valid := validity(nulls, lo, hi)
	switch v := any([]T(c.v[lo:hi])).(type) {
	case []float32:
		b.(*array.Float32Builder).AppendValues(v, valid)
	case []float64:
		b.(*array.Float64Builder).AppendValues(v, valid)
	}
}

type boolCol struct {
	fixed[bool, proto.ColBool, *proto.ColBool]
}

func (c *boolCol) appendJSON(b []byte, i int) []byte { return strconv.AppendBool(b, c.v[i]) }
func (c *boolCol) appendCSV(b []byte, i int) []byte  { return c.appendJSON(b, i) }
func (c *boolCol) arrowType() arrow.DataType         { return arrow.FixedWidthTypes.Boolean }
func (c *boolCol) appendArrow(b array.Builder, lo, hi int, nulls []uint8) {
	b.(*array.BooleanBuilder).AppendValues(c.v[lo:hi], validity(nulls, lo, hi))
}

// textCol is a column written as text: appendText appends row i's text,
// which JSON and CSV quote and Arrow carries as utf8.
type textCol interface {
	appendText(b []byte, i int) []byte
}

func appendJSONText(b []byte, c textCol, i int, scratch *[]byte) []byte {
	*scratch = c.appendText((*scratch)[:0], i)
	return appendJSONBytes(b, *scratch)
}

func appendCSVText(b []byte, c textCol, i int, scratch *[]byte) []byte {
	*scratch = c.appendText((*scratch)[:0], i)
	return appendCSVField(b, *scratch)
}

func appendArrowText(b array.Builder, c textCol, lo, hi int, nulls []uint8, scratch *[]byte) {
	sb := b.(*array.StringBuilder)
	sb.Reserve(hi - lo)
	for i := lo; i < hi; i++ {
		if nulls != nil && nulls[i] != 0 {
			sb.AppendNull()
			continue
		}
		*scratch = c.appendText((*scratch)[:0], i)
		sb.BinaryBuilder.Append(*scratch)
	}
}

type stringCol struct {
	noState
	v proto.ColStr
}

func (c *stringCol) decode(r *proto.Reader, rows int) error { return c.v.DecodeColumn(r, rows) }
func (c *stringCol) bytes(i int) []byte {
	p := c.v.Pos[i]
	return c.v.Buf[p.Start:p.End]
}
func (c *stringCol) appendJSON(b []byte, i int) []byte { return appendJSONBytes(b, c.bytes(i)) }
func (c *stringCol) appendCSV(b []byte, i int) []byte  { return appendCSVField(b, c.bytes(i)) }
func (c *stringCol) arrowType() arrow.DataType         { return arrow.BinaryTypes.String }
func (c *stringCol) appendArrow(b array.Builder, lo, hi int, nulls []uint8) {
	sb := b.(*array.StringBuilder)
	sb.Reserve(hi - lo)
	if hi > lo {
		sb.ReserveData(c.v.Pos[hi-1].End - c.v.Pos[lo].Start)
	}
	for i := lo; i < hi; i++ {
		if nulls != nil && nulls[i] != 0 {
			sb.AppendNull()
			continue
		}
		sb.BinaryBuilder.Append(c.bytes(i))
	}
}

type fixedStringCol struct {
	noState
	size int
	buf  []byte
}

func (c *fixedStringCol) decode(r *proto.Reader, rows int) error {
	n := rows * c.size
	if cap(c.buf) < n {
		c.buf = make([]byte, n)
	}
	c.buf = c.buf[:n]
	return r.ReadFull(c.buf)
}
func (c *fixedStringCol) bytes(i int) []byte                { return c.buf[i*c.size : (i+1)*c.size] }
func (c *fixedStringCol) appendText(b []byte, i int) []byte { return append(b, c.bytes(i)...) }
func (c *fixedStringCol) appendJSON(b []byte, i int) []byte { return appendJSONBytes(b, c.bytes(i)) }
func (c *fixedStringCol) appendCSV(b []byte, i int) []byte  { return appendCSVField(b, c.bytes(i)) }
func (c *fixedStringCol) arrowType() arrow.DataType         { return arrow.BinaryTypes.String }
func (c *fixedStringCol) appendArrow(b array.Builder, lo, hi int, nulls []uint8) {
	sb := b.(*array.StringBuilder)
	sb.Reserve(hi - lo)
	sb.ReserveData((hi - lo) * c.size)
	for i := lo; i < hi; i++ {
		if nulls != nil && nulls[i] != 0 {
			sb.AppendNull()
			continue
		}
		sb.BinaryBuilder.Append(c.bytes(i))
	}
}

type enumCol[T int8 | int16, C ~[]T, PC decoder[C]] struct {
	fixed[T, C, PC]
	names   map[int16]string
	scratch []byte
}

func (c *enumCol[T, C, PC]) appendText(b []byte, i int) []byte {
	if s, ok := c.names[int16(c.v[i])]; ok {
		return append(b, s...)
	}
	return strconv.AppendInt(b, int64(c.v[i]), 10)
}
func (c *enumCol[T, C, PC]) appendJSON(b []byte, i int) []byte {
	return appendJSONText(b, c, i, &c.scratch)
}
func (c *enumCol[T, C, PC]) appendCSV(b []byte, i int) []byte {
	return appendCSVText(b, c, i, &c.scratch)
}
func (c *enumCol[T, C, PC]) arrowType() arrow.DataType { return arrow.BinaryTypes.String }
func (c *enumCol[T, C, PC]) appendArrow(b array.Builder, lo, hi int, nulls []uint8) {
	appendArrowText(b, c, lo, hi, nulls, &c.scratch)
}

// dateCol is Date (days since 1970 as UInt16) or Date32 (as Int32).
type dateCol[T uint16 | int32, C ~[]T, PC decoder[C]] struct{ fixed[T, C, PC] }

func (c *dateCol[T, C, PC]) appendJSON(b []byte, i int) []byte {
	b = append(b, '"')
	b = appendDate(b, int64(c.v[i]))
	return append(b, '"')
}
func (c *dateCol[T, C, PC]) appendCSV(b []byte, i int) []byte { return appendDate(b, int64(c.v[i])) }
func (c *dateCol[T, C, PC]) arrowType() arrow.DataType        { return arrow.FixedWidthTypes.Date32 }
func (c *dateCol[T, C, PC]) appendArrow(b array.Builder, lo, hi int, nulls []uint8) {
	db := b.(*array.Date32Builder)
	db.Reserve(hi - lo)
	for i := lo; i < hi; i++ {
		if nulls != nil && nulls[i] != 0 {
			db.AppendNull()
		} else {
			db.UnsafeAppend(arrow.Date32(c.v[i]))
		}
	}
}

// dateTimeCol is DateTime: seconds since 1970 as UInt32, whatever its time
// zone (which only says how ClickHouse prints it).
type dateTimeCol struct {
	fixed[uint32, proto.ColUInt32, *proto.ColUInt32]
	days dayCache
}

func (c *dateTimeCol) appendJSON(b []byte, i int) []byte {
	b = append(b, '"')
	b = c.days.appendDateTime(b, int64(c.v[i]), 0)
	return append(b, '"')
}
func (c *dateTimeCol) appendCSV(b []byte, i int) []byte {
	return c.days.appendDateTime(b, int64(c.v[i]), 0)
}
func (c *dateTimeCol) arrowType() arrow.DataType {
	return &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
}
func (c *dateTimeCol) appendArrow(b array.Builder, lo, hi int, nulls []uint8) {
	tb := b.(*array.TimestampBuilder)
	tb.Reserve(hi - lo)
	for i := lo; i < hi; i++ {
		if nulls != nil && nulls[i] != 0 {
			tb.AppendNull()
		} else {
			tb.UnsafeAppend(arrow.Timestamp(int64(c.v[i]) * 1000))
		}
	}
}

// dateTime64Col is DateTime64(prec): ticks of 10^-prec seconds as Int64.
type dateTime64Col struct {
	fixed[int64, proto.ColInt64, *proto.ColInt64]
	prec int
	days dayCache
}

var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

func (c *dateTime64Col) split(i int) (sec, nsec int64) {
	scale := pow10[c.prec]
	t := c.v[i]
	sec, frac := t/scale, t%scale
	if frac < 0 {
		sec, frac = sec-1, frac+scale
	}
	return sec, frac * pow10[9-c.prec]
}
func (c *dateTime64Col) appendJSON(b []byte, i int) []byte {
	b = append(b, '"')
	b = c.appendCSV(b, i)
	return append(b, '"')
}
func (c *dateTime64Col) appendCSV(b []byte, i int) []byte {
	sec, nsec := c.split(i)
	return c.days.appendDateTime(b, sec, nsec)
}
func (c *dateTime64Col) arrowType() arrow.DataType {
	return &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
}
func (c *dateTime64Col) appendArrow(b array.Builder, lo, hi int, nulls []uint8) {
	tb := b.(*array.TimestampBuilder)
	tb.Reserve(hi - lo)
	for i := lo; i < hi; i++ {
		if nulls != nil && nulls[i] != 0 {
			tb.AppendNull()
			continue
		}
		sec, nsec := c.split(i)
		tb.UnsafeAppend(arrow.Timestamp(sec*1000 + nsec/1e6))
	}
}

// newDecimal returns the column of Decimal(P, S) or DecimalN(S).
func newDecimal(name, args string) (resultColumn, error) {
	a := splitArgs(args)
	var prec, scale int
	var err error
	switch {
	case name == "Decimal" && len(a) == 2:
		if prec, err = strconv.Atoi(a[0]); err == nil {
			scale, err = strconv.Atoi(a[1])
		}
	case name != "Decimal" && len(a) == 1:
		prec = map[string]int{"Decimal32": 9, "Decimal64": 18, "Decimal128": 38, "Decimal256": 76}[name]
		scale, err = strconv.Atoi(a[0])
	default:
		err = fmt.Errorf("bad arguments %q", args)
	}
	if err != nil || prec < 1 || prec > 76 || scale < 0 || scale > prec {
		return nil, fmt.Errorf("bad decimal type %s(%s)", name, args)
	}
	switch {
	case prec <= 9:
		return &decimalCol[int32, proto.ColInt32, *proto.ColInt32]{scale: scale}, nil
	case prec <= 18:
		return &decimalCol[int64, proto.ColInt64, *proto.ColInt64]{scale: scale}, nil
	case prec <= 38:
		return &bigIntCol{fixedStringCol: fixedStringCol{size: 16}, signed: true, scale: scale}, nil
	}
	return &bigIntCol{fixedStringCol: fixedStringCol{size: 32}, signed: true, scale: scale}, nil
}

type decimalCol[T int32 | int64, C ~[]T, PC decoder[C]] struct {
	fixed[T, C, PC]
	scale   int
	scratch []byte
}

func (c *decimalCol[T, C, PC]) appendText(b []byte, i int) []byte {
	c.scratch = strconv.AppendInt(c.scratch[:0], int64(c.v[i]), 10)
	return appendScaled(b, c.scratch, c.scale)
}
func (c *decimalCol[T, C, PC]) appendJSON(b []byte, i int) []byte {
	b = append(b, '"')
	b = c.appendText(b, i)
	return append(b, '"')
}
func (c *decimalCol[T, C, PC]) appendCSV(b []byte, i int) []byte { return c.appendText(b, i) }
func (c *decimalCol[T, C, PC]) arrowType() arrow.DataType        { return arrow.BinaryTypes.String }
func (c *decimalCol[T, C, PC]) appendArrow(b array.Builder, lo, hi int, nulls []uint8) {
	var scratch []byte
	appendArrowText(b, c, lo, hi, nulls, &scratch)
}

// appendScaled appends the integer digits (with a leading '-' if any)
// with a decimal point before the last scale digits.
func appendScaled(b, digits []byte, scale int) []byte {
	if scale == 0 {
		return append(b, digits...)
	}
	if len(digits) > 0 && digits[0] == '-' {
		b = append(b, '-')
		digits = digits[1:]
	}
	if len(digits) <= scale {
		b = append(b, '0', '.')
		for range scale - len(digits) {
			b = append(b, '0')
		}
		return append(b, digits...)
	}
	b = append(b, digits[:len(digits)-scale]...)
	b = append(b, '.')
	return append(b, digits[len(digits)-scale:]...)
}

// bigIntCol is a little-endian integer of 128 or 256 bits: Int128,
// UInt256, or the Decimal of that width when scale > 0.
type bigIntCol struct {
	fixedStringCol
	signed  bool
	scale   int
	n       big.Int
	be      []byte
	scratch []byte
}

func (c *bigIntCol) appendText(b []byte, i int) []byte {
	le := c.bytes(i)
	c.be = append(c.be[:0], le...)
	for l, r := 0, len(c.be)-1; l < r; l, r = l+1, r-1 {
		c.be[l], c.be[r] = c.be[r], c.be[l]
	}
	c.n.SetBytes(c.be)
	if c.signed && le[len(le)-1]&0x80 != 0 {
		c.n.Sub(&c.n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(le))))
	}
	c.scratch = c.n.Append(c.scratch[:0], 10)
	return appendScaled(b, c.scratch, c.scale)
}
func (c *bigIntCol) appendJSON(b []byte, i int) []byte {
	b = append(b, '"')
	b = c.appendText(b, i)
	return append(b, '"')
}
func (c *bigIntCol) appendCSV(b []byte, i int) []byte { return c.appendText(b, i) }
func (c *bigIntCol) arrowType() arrow.DataType        { return arrow.BinaryTypes.String }
func (c *bigIntCol) appendArrow(b array.Builder, lo, hi int, nulls []uint8) {
	var scratch []byte
	appendArrowText(b, c, lo, hi, nulls, &scratch)
}

// uuidCol is a UUID: two little-endian 64-bit halves, high half first.
type uuidCol struct {
	fixedStringCol
	scratch []byte
}

func (c *uuidCol) appendText(b []byte, i int) []byte {
	const hex = "0123456789abcdef"
	v := c.bytes(i)
	for j := range 16 {
		// Byte j of the text form is byte 7-j of the first half, or
		// 15-(j-8) of the second.
		var x byte
		if j < 8 {
			x = v[7-j]
		} else {
			x = v[23-j]
		}
		if j == 4 || j == 6 || j == 8 || j == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[x>>4], hex[x&0xf])
	}
	return b
}
func (c *uuidCol) appendJSON(b []byte, i int) []byte {
	b = append(b, '"')
	b = c.appendText(b, i)
	return append(b, '"')
}
func (c *uuidCol) appendCSV(b []byte, i int) []byte { return c.appendText(b, i) }
func (c *uuidCol) arrowType() arrow.DataType        { return arrow.BinaryTypes.String }
func (c *uuidCol) appendArrow(b array.Builder, lo, hi int, nulls []uint8) {
	appendArrowText(b, c, lo, hi, nulls, &c.scratch)
}

type ipv4Col struct {
	fixed[uint32, proto.ColUInt32, *proto.ColUInt32]
	scratch []byte
}

func (c *ipv4Col) appendText(b []byte, i int) []byte {
	v := c.v[i]
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).AppendTo(b)
}
func (c *ipv4Col) appendJSON(b []byte, i int) []byte {
	b = append(b, '"')
	b = c.appendText(b, i)
	return append(b, '"')
}
func (c *ipv4Col) appendCSV(b []byte, i int) []byte { return c.appendText(b, i) }
func (c *ipv4Col) arrowType() arrow.DataType        { return arrow.BinaryTypes.String }
func (c *ipv4Col) appendArrow(b array.Builder, lo, hi int, nulls []uint8) {
	appendArrowText(b, c, lo, hi, nulls, &c.scratch)
}

type ipv6Col struct {
	fixedStringCol
	scratch []byte
}

func (c *ipv6Col) appendText(b []byte, i int) []byte {
	return netip.AddrFrom16([16]byte(c.bytes(i))).Unmap().AppendTo(b)
}
func (c *ipv6Col) appendJSON(b []byte, i int) []byte {
	b = append(b, '"')
	b = c.appendText(b, i)
	return append(b, '"')
}
func (c *ipv6Col) appendCSV(b []byte, i int) []byte { return c.appendText(b, i) }
func (c *ipv6Col) arrowType() arrow.DataType        { return arrow.BinaryTypes.String }
func (c *ipv6Col) appendArrow(b array.Builder, lo, hi int, nulls []uint8) {
	appendArrowText(b, c, lo, hi, nulls, &c.scratch)
}

// nothingCol is Nothing, the type of NULL: a placeholder byte per row.
type nothingCol struct {
	noState
	buf []byte
}

func (c *nothingCol) decode(r *proto.Reader, rows int) error {
	c.buf = append(c.buf[:0], make([]byte, rows)...)
	return r.ReadFull(c.buf)
}
func (c *nothingCol) appendJSON(b []byte, _ int) []byte { return append(b, "null"...) }
func (c *nothingCol) appendCSV(b []byte, _ int) []byte  { return b }
func (c *nothingCol) arrowType() arrow.DataType         { return arrow.BinaryTypes.String }
func (c *nothingCol) appendArrow(b array.Builder, lo, hi int, _ []uint8) {
	b.AppendNulls(hi - lo)
}

// nullableCol is Nullable(T): a null map (one byte a row), then T's values.
type nullableCol struct {
	nulls proto.ColUInt8
	inner resultColumn
}

func (c *nullableCol) decodeState(r *proto.Reader) error { return c.inner.decodeState(r) }
func (c *nullableCol) decode(r *proto.Reader, rows int) error {
	c.nulls = c.nulls[:0]
	if err := c.nulls.DecodeColumn(r, rows); err != nil {
		return fmt.Errorf("null map: %w", err)
	}
	return c.inner.decode(r, rows)
}
func (c *nullableCol) appendJSON(b []byte, i int) []byte {
	if c.nulls[i] != 0 {
		return append(b, "null"...)
	}
	return c.inner.appendJSON(b, i)
}
func (c *nullableCol) appendCSV(b []byte, i int) []byte {
	if c.nulls[i] != 0 {
		return b
	}
	return c.inner.appendCSV(b, i)
}
func (c *nullableCol) arrowType() arrow.DataType { return c.inner.arrowType() }
func (c *nullableCol) appendArrow(b array.Builder, lo, hi int, nulls []uint8) {
	mine := []uint8(c.nulls)
	if nulls != nil {
		mine = make([]uint8, len(c.nulls))
		for i := lo; i < hi; i++ {
			mine[i] = c.nulls[i] | nulls[i]
		}
	}
	c.inner.appendArrow(b, lo, hi, mine)
}

// lowCardinalityCol is LowCardinality(T): per block, a dictionary of T
// (of T's non-Nullable type, entry 0 being NULL when T is Nullable) and
// a key into it for each row.
type lowCardinalityCol struct {
	dict     resultColumn
	nullable bool
	keys     []int
	k8       proto.ColUInt8
	k16      proto.ColUInt16
	k32      proto.ColUInt32
	k64      proto.ColUInt64
}

// The LowCardinality serialization: shared dictionaries with additional
// keys (version 1), and the bits of its per-block header.
const (
	lcKeyVersion        = 1
	lcKeyTypeMask       = 0xff
	lcNeedGlobalDictBit = 1 << 8
)

func (c *lowCardinalityCol) decodeState(r *proto.Reader) error {
	v, err := r.Int64()
	if err != nil {
		return fmt.Errorf("LowCardinality version: %w", err)
	}
	if v != lcKeyVersion {
		return fmt.Errorf("LowCardinality serialization version %d, want %d", v, lcKeyVersion)
	}
	return c.dict.decodeState(r)
}

func (c *lowCardinalityCol) decode(r *proto.Reader, rows int) error {
	c.keys = c.keys[:0]
	if rows == 0 {
		return nil
	}
	meta, err := r.Int64()
	if err != nil {
		return fmt.Errorf("LowCardinality header: %w", err)
	}
	if meta&lcNeedGlobalDictBit != 0 {
		return errors.New("LowCardinality with a global dictionary")
	}
	n, err := r.Int64()
	if err != nil || n < 0 || n > 1<<30 {
		return fmt.Errorf("LowCardinality dictionary size %d: %v", n, err)
	}
	if err := c.dict.decode(r, int(n)); err != nil {
		return fmt.Errorf("LowCardinality dictionary: %w", err)
	}
	nk, err := r.Int64()
	if err != nil || nk != int64(rows) {
		return fmt.Errorf("LowCardinality has %d keys for %d rows: %v", nk, rows, err)
	}
	switch meta & lcKeyTypeMask {
	case 0:
		c.k8 = c.k8[:0]
		err = c.k8.DecodeColumn(r, rows)
		c.keys = widen(c.keys, c.k8)
	case 1:
		c.k16 = c.k16[:0]
		err = c.k16.DecodeColumn(r, rows)
		c.keys = widen(c.keys, c.k16)
	case 2:
		c.k32 = c.k32[:0]
		err = c.k32.DecodeColumn(r, rows)
		c.keys = widen(c.keys, c.k32)
	case 3:
		c.k64 = c.k64[:0]
		err = c.k64.DecodeColumn(r, rows)
		c.keys = widen(c.keys, c.k64)
	default:
		return fmt.Errorf("LowCardinality key type %d", meta&lcKeyTypeMask)
	}
	if err != nil {
		return fmt.Errorf("LowCardinality keys: %w", err)
	}
	for _, k := range c.keys {
		if k < 0 || k >= int(n) {
			return fmt.Errorf("LowCardinality key %d out of a dictionary of %d", k, n)
		}
	}
	return nil
}

func widen[T uint8 | uint16 | uint32 | uint64](dst []int, src []T) []int {
	for _, k := range src {
		dst = append(dst, int(min(uint64(k), math.MaxInt32)))
	}
	return dst
}

func (c *lowCardinalityCol) null(i int) bool { return c.nullable && c.keys[i] == 0 }
func (c *lowCardinalityCol) appendJSON(b []byte, i int) []byte {
	if c.null(i) {
		return append(b, "null"...)
	}
	return c.dict.appendJSON(b, c.keys[i])
}
func (c *lowCardinalityCol) appendCSV(b []byte, i int) []byte {
	if c.null(i) {
		return b
	}
	return c.dict.appendCSV(b, c.keys[i])
}
func (c *lowCardinalityCol) arrowType() arrow.DataType { return c.dict.arrowType() }
func (c *lowCardinalityCol) appendArrow(b array.Builder, lo, hi int, nulls []uint8) {
	for i := lo; i < hi; i++ {
		if c.null(i) || (nulls != nil && nulls[i] != 0) {
			b.AppendNull()
			continue
		}
		c.dict.appendArrow(b, c.keys[i], c.keys[i]+1, nil)
	}
}

// jsonText is embedded by the columns that Arrow and CSV carry as the
// text of their JSON value (arrays, tuples, maps).
type jsonText struct {
	self    interface{ appendJSON([]byte, int) []byte }
	scratch []byte
}

func (j *jsonText) appendText(b []byte, i int) []byte { return j.self.appendJSON(b, i) }
func (j *jsonText) appendCSV(b []byte, i int) []byte  { return appendCSVText(b, j, i, &j.scratch) }
func (j *jsonText) arrowType() arrow.DataType         { return arrow.BinaryTypes.String }
func (j *jsonText) appendArrow(b array.Builder, lo, hi int, nulls []uint8) {
	var scratch []byte
	appendArrowText(b, j, lo, hi, nulls, &scratch)
}

// arrayCol is Array(T): the end offset of each row's elements (UInt64),
// then all the elements as one column of T.
type arrayCol struct {
	jsonText
	offsets proto.ColUInt64
	inner   resultColumn
}

func (c *arrayCol) decodeState(r *proto.Reader) error { return c.inner.decodeState(r) }
func (c *arrayCol) decode(r *proto.Reader, rows int) error {
	c.offsets = c.offsets[:0]
	if err := c.offsets.DecodeColumn(r, rows); err != nil {
		return fmt.Errorf("array offsets: %w", err)
	}
	var n uint64
	for _, o := range c.offsets {
		if o < n || o > 1<<31 {
			return fmt.Errorf("array offset %d after %d", o, n)
		}
		n = o
	}
	return c.inner.decode(r, int(n))
}
func (c *arrayCol) appendJSON(b []byte, i int) []byte {
	var start uint64
	if i > 0 {
		start = c.offsets[i-1]
	}
	b = append(b, '[')
	for j := start; j < c.offsets[i]; j++ {
		if j > start {
			b = append(b, ',')
		}
		b = c.inner.appendJSON(b, int(j))
	}
	return append(b, ']')
}

// tupleCol is Tuple(T1, T2, ...): each element's column in turn.
type tupleCol struct {
	jsonText
	elems []resultColumn
}

func (c *tupleCol) decodeState(r *proto.Reader) error {
	for _, e := range c.elems {
		if err := e.decodeState(r); err != nil {
			return err
		}
	}
	return nil
}
func (c *tupleCol) decode(r *proto.Reader, rows int) error {
	for i, e := range c.elems {
		if err := e.decode(r, rows); err != nil {
			return fmt.Errorf("tuple element %d: %w", i+1, err)
		}
	}
	return nil
}
func (c *tupleCol) appendJSON(b []byte, i int) []byte {
	b = append(b, '[')
	for j, e := range c.elems {
		if j > 0 {
			b = append(b, ',')
		}
		b = e.appendJSON(b, i)
	}
	return append(b, ']')
}

// appendDate appends days since 1970-01-01 as 2006-01-02.
func appendDate(b []byte, days int64) []byte {
	y, m, d := civil(days)
	if y < 0 || y > 9999 {
		return time.Unix(days*86400, 0).UTC().AppendFormat(b, time.DateOnly)
	}
	return append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10))
}

// dayCache keeps the date text of the last day written: the rows of a
// column mostly fall on few days.
type dayCache struct {
	day  int64
	text []byte // "" when day is out of the range written here
	set  bool
}

// appendDateTime appends a time as RFC 3339 in UTC, with fractional
// seconds (trailing zeros dropped) only when nsec is not zero.
func (dc *dayCache) appendDateTime(b []byte, sec, nsec int64) []byte {
	days := sec / 86400
	if sec%86400 < 0 {
		days--
	}
	if !dc.set || days != dc.day {
		dc.day, dc.set, dc.text = days, true, dc.text[:0]
		if y, _, _ := civil(days); y >= 1000 && y <= 9999 {
			dc.text = appendDate(dc.text, days)
		}
	}
	if len(dc.text) == 0 {
		return time.Unix(sec, nsec).UTC().AppendFormat(b, time.RFC3339Nano)
	}
	b = append(b, dc.text...)
	s := sec - days*86400
	h, mi, se := s/3600, s/60%60, s%60
	b = append(b, 'T', byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+se/10), byte('0'+se%10))
	if nsec != 0 {
		var frac [10]byte
		frac[0] = '.'
		n := nsec
		for i := 9; i >= 1; i-- {
			frac[i] = byte('0' + n%10)
			n /= 10
		}
		end := 10
		for frac[end-1] == '0' {
			end--
		}
		b = append(b, frac[:end]...)
	}
	return append(b, 'Z')
}

// civil returns the proleptic Gregorian date of a day number (days since
// 1970-01-01), by Howard Hinnant's days-to-civil algorithm.
func civil(days int64) (y, m, d int64) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	y = yoe + era*400
	if m <= 2 {
		y++
	}
	return y, m, d
}
