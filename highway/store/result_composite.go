package store

import (
	"errors"
	"fmt"
	"math"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

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

func (c *nothingCol) appendCSV(b []byte, _ int) []byte { return b }

func (c *nothingCol) arrowType() arrow.DataType { return arrow.BinaryTypes.String }

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
