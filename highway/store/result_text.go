package store

import (
	"net/netip"
	"strconv"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/cityhighway/highway/internal/jsonstr"
)

// textCol is a column written as text: appendText appends row i's text,
// which JSON and CSV quote and Arrow carries as utf8.
type textCol interface {
	appendText(b []byte, i int) []byte
}

func appendJSONText(b []byte, c textCol, i int, scratch *[]byte) []byte {
	*scratch = c.appendText((*scratch)[:0], i)
	return jsonstr.AppendHTMLSafe(b, *scratch)
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

func (c *stringCol) appendJSON(b []byte, i int) []byte { return jsonstr.AppendHTMLSafe(b, c.bytes(i)) }

func (c *stringCol) appendCSV(b []byte, i int) []byte { return appendCSVField(b, c.bytes(i)) }

func (c *stringCol) arrowType() arrow.DataType { return arrow.BinaryTypes.String }

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

// fixedBytes holds values of size bytes each (FixedString, UUID, IPv6,
// 128- and 256-bit integers), read straight into one buffer.
type fixedBytes struct {
	noState
	size int
	buf  []byte
}

func (c *fixedBytes) decode(r *proto.Reader, rows int) error {
	n := rows * c.size
	if cap(c.buf) < n {
		c.buf = make([]byte, n)
	}
	c.buf = c.buf[:n]
	return r.ReadFull(c.buf)
}

func (c *fixedBytes) bytes(i int) []byte { return c.buf[i*c.size : (i+1)*c.size] }

type fixedStringCol struct{ fixedBytes }

func (c *fixedStringCol) appendText(b []byte, i int) []byte { return append(b, c.bytes(i)...) }

func (c *fixedStringCol) appendJSON(b []byte, i int) []byte {
	return jsonstr.AppendHTMLSafe(b, c.bytes(i))
}

func (c *fixedStringCol) appendCSV(b []byte, i int) []byte { return appendCSVField(b, c.bytes(i)) }

func (c *fixedStringCol) arrowType() arrow.DataType { return arrow.BinaryTypes.String }

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

// textValues is a column's values with a text that needs no escaping.
type textValues interface {
	decodeState(r *proto.Reader) error
	decode(r *proto.Reader, rows int) error
	textCol
}

// plainText writes the values of C by their text, which needs no escaping
// (UUID, IPv4, IPv6, 128- and 256-bit integers and decimals): a JSON string,
// the CSV field as it is, Arrow utf8.
type plainText[C textValues] struct {
	values  C
	scratch []byte
}

// textOf is the column of values written by their text.
func textOf[C textValues](values C) *plainText[C] { return &plainText[C]{values: values} }

func (c *plainText[C]) decodeState(r *proto.Reader) error { return c.values.decodeState(r) }

func (c *plainText[C]) decode(r *proto.Reader, rows int) error { return c.values.decode(r, rows) }

func (c *plainText[C]) appendJSON(b []byte, i int) []byte {
	b = append(b, '"')
	b = c.values.appendText(b, i)
	return append(b, '"')
}

func (c *plainText[C]) appendCSV(b []byte, i int) []byte { return c.values.appendText(b, i) }

func (c *plainText[C]) arrowType() arrow.DataType { return arrow.BinaryTypes.String }

func (c *plainText[C]) appendArrow(b array.Builder, lo, hi int, nulls []uint8) {
	appendArrowText(b, c.values, lo, hi, nulls, &c.scratch)
}

// uuidCol is a UUID: two little-endian 64-bit halves, high half first.
type uuidCol struct{ fixedBytes }

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

type ipv4Col struct {
	fixed[uint32, proto.ColUInt32, *proto.ColUInt32]
}

func (c *ipv4Col) appendText(b []byte, i int) []byte {
	v := c.v[i]
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).AppendTo(b)
}

type ipv6Col struct{ fixedBytes }

func (c *ipv6Col) appendText(b []byte, i int) []byte {
	return netip.AddrFrom16([16]byte(c.bytes(i))).Unmap().AppendTo(b)
}

// jsonText is embedded by the columns that Arrow and CSV carry as the
// text of their JSON value (arrays, tuples, maps).
type jsonText struct {
	self    interface{ appendJSON([]byte, int) []byte }
	scratch []byte
}

func (j *jsonText) appendText(b []byte, i int) []byte { return j.self.appendJSON(b, i) }

func (j *jsonText) appendCSV(b []byte, i int) []byte { return appendCSVText(b, j, i, &j.scratch) }

func (j *jsonText) arrowType() arrow.DataType { return arrow.BinaryTypes.String }

func (j *jsonText) appendArrow(b array.Builder, lo, hi int, nulls []uint8) {
	var scratch []byte
	appendArrowText(b, j, lo, hi, nulls, &scratch)
}
