package store

import (
	"fmt"
	"math"
	"math/big"
	"strconv"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

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

func (c *boolCol) appendCSV(b []byte, i int) []byte { return c.appendJSON(b, i) }

func (c *boolCol) arrowType() arrow.DataType { return arrow.FixedWidthTypes.Boolean }

func (c *boolCol) appendArrow(b array.Builder, lo, hi int, nulls []uint8) {
	b.(*array.BooleanBuilder).AppendValues(c.v[lo:hi], validity(nulls, lo, hi))
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
		return textOf(&bigIntCol{fixedBytes: fixedBytes{size: 16}, signed: true, scale: scale}), nil
	}
	return textOf(&bigIntCol{fixedBytes: fixedBytes{size: 32}, signed: true, scale: scale}), nil
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

func (c *decimalCol[T, C, PC]) arrowType() arrow.DataType { return arrow.BinaryTypes.String }

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
	fixedBytes
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
