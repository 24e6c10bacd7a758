package store

import (
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
