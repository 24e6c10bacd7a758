package record

import (
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/cityhighway/highway/highway/catalog"
)

// column is one field's values of the batch under construction, in plain
// Go slices laid out as Arrow lays them out, so that appending a value is an
// append and making the batch hands the slices to Arrow without a copy.
// (Arrow's builders cost an interface call, a capacity check and a bitmap
// update per value; with ~11 fields per record that was 16 % of decoding.)
type column struct {
	kind kind
	typ  arrow.DataType
	// valid is the validity bitmap, nil while no value is null.
	valid []byte
	nulls int
	// ints holds Int64 values and times (milliseconds), floats Float64
	// values, bools a bitmap of Bool values.
	ints   []int64
	floats []float64
	bools  []byte
	// offsets (len rows+1) and data hold String values.
	offsets []int32
	data    []byte
}

// kind is a field type as a small integer for the hot path's switches
// (catalog.FieldType is a string, and a switch on it compares strings).
type kind uint8

const (
	kindString kind = iota
	kindInt64
	kindFloat64
	kindBool
	kindTime
)

var kinds = map[catalog.FieldType]kind{
	catalog.String: kindString, catalog.Int64: kindInt64, catalog.Float64: kindFloat64,
	catalog.Bool: kindBool, catalog.Time: kindTime,
}

// arrowTypes are the Arrow types of the kinds, as ArrowType gives them.
var arrowTypes = [...]arrow.DataType{
	kindString: ArrowType(catalog.String), kindInt64: ArrowType(catalog.Int64),
	kindFloat64: ArrowType(catalog.Float64), kindBool: ArrowType(catalog.Bool), kindTime: ArrowType(catalog.Time),
}

func kindOf(t catalog.FieldType) kind {
	k, ok := kinds[t]
	if !ok {
		panic("record: unknown field type " + string(t) + " (the catalog validates types, so this is a bug)")
	}
	return k
}

func newColumn(k kind) column {
	c := column{kind: k, typ: arrowTypes[k]}
	if k == kindString {
		c.offsets = []int32{0}
	}
	return c
}

// appendNull appends a null at row n (the column's length before).
func (c *column) appendNull(n int) {
	if c.valid == nil {
		c.valid = make([]byte, (n+8)/8, max(n/8+1, 64))
		for i := range n {
			c.valid[i/8] |= 1 << (i % 8)
		}
	}
	c.setValid(n, false)
	c.nulls++
	switch c.kind {
	case kindString:
		c.offsets = append(c.offsets, int32(len(c.data)))
	case kindInt64, kindTime:
		c.ints = append(c.ints, 0)
	case kindFloat64:
		c.floats = append(c.floats, 0)
	case kindBool:
		c.setBool(n, false)
	}
}

// setValid records whether row n holds a value, once the column has a
// bitmap.
func (c *column) setValid(n int, ok bool) {
	if c.valid != nil {
		c.valid = setBit(c.valid, n, ok)
	}
}

// setBool records row n's Bool value.
func (c *column) setBool(n int, v bool) { c.bools = setBit(c.bools, n, v) }

// setBit sets bit n of bits (whose length covers bits 0..n-1) to v, growing
// it by a byte at each multiple of 8.
func setBit(bits []byte, n int, v bool) []byte {
	if n%8 == 0 {
		bits = append(bits[:n/8], 0)
	}
	if v {
		bits[n/8] |= 1 << (n % 8)
	}
	return bits
}

// reserve makes room for n more rows and dataBytes more string bytes.
func (c *column) reserve(rows, n, dataBytes int) {
	switch c.kind {
	case kindString:
		c.offsets = slices.Grow(c.offsets, n)
		c.data = slices.Grow(c.data, dataBytes)
	case kindInt64, kindTime:
		c.ints = slices.Grow(c.ints, n)
	case kindFloat64:
		c.floats = slices.Grow(c.floats, n)
	case kindBool:
		c.bools = slices.Grow(c.bools, max((rows+n)/8+1-len(c.bools), 0))
	}
}

// array hands the column's rows [0, n) to Arrow and starts the column
// afresh.
func (c *column) array(n int) arrow.Array {
	var validity *memory.Buffer
	if c.valid != nil {
		validity = memory.NewBufferBytes(c.valid)
	}
	var buffers []*memory.Buffer
	switch c.kind {
	case kindString:
		buffers = []*memory.Buffer{validity,
			memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(c.offsets)),
			memory.NewBufferBytes(c.data)}
	case kindInt64, kindTime:
		buffers = []*memory.Buffer{validity, memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(c.ints))}
	case kindFloat64:
		buffers = []*memory.Buffer{validity, memory.NewBufferBytes(arrow.Float64Traits.CastToBytes(c.floats))}
	case kindBool:
		bools := c.bools
		if bools == nil {
			bools = []byte{}
		}
		buffers = []*memory.Buffer{validity, memory.NewBufferBytes(bools)}
	}
	data := array.NewData(c.typ, n, buffers, nil, c.nulls, 0)
	defer data.Release()
	*c = newColumn(c.kind)
	return array.MakeFromData(data)
}
