// Package frames turns the API's answers into Grafana data frames: an Arrow
// IPC stream into one frame whose fields keep the columns' types (the data
// stays columnar from ClickHouse to the panel), and a frame of records of a
// feed for live streams.
package frames

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// ErrUnsupportedType is returned for an Arrow column type that has no
// Grafana field type; the message names the column, so the user can cast it
// in SQL (toString, toFloat64).
var ErrUnsupportedType = errors.New("unsupported column type")

// FromArrowStream reads a whole Arrow IPC stream and returns its rows as
// one frame named name. Every record batch must have the stream's schema.
// Timestamps of any unit become time.Time in UTC; nullable columns become
// nullable fields. An empty stream (schema, no batches) gives a frame with
// the schema's fields and no rows.
func FromArrowStream(r io.Reader, name string) (*data.Frame, error) {
	rd, err := ipc.NewReader(r, ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		return nil, fmt.Errorf("reading Arrow stream: %w", err)
	}
	defer rd.Release()
	schema := rd.Schema()
	cols := make([]column, len(schema.Fields()))
	for i, f := range schema.Fields() {
		c, err := newColumn(f)
		if err != nil {
			return nil, err
		}
		cols[i] = c
	}
	for rd.Next() {
		rec := rd.RecordBatch()
		for i := range cols {
			if err := cols[i].add(rec.Column(i)); err != nil {
				return nil, fmt.Errorf("column %q: %w", schema.Field(i).Name, err)
			}
		}
	}
	if err := rd.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading Arrow stream: %w", err)
	}
	frame := data.NewFrame(name)
	for i := range cols {
		frame.Fields = append(frame.Fields, data.NewField(schema.Field(i).Name, nil, cols[i].values()))
	}
	return frame, nil
}

// column accumulates one Arrow column as a typed Go slice that
// data.NewField accepts ([]T or []*T).
type column struct {
	add    func(arrow.Array) error
	values func() any
}

// newColumn picks the accumulator of an Arrow field by its type.
func newColumn(f arrow.Field) (column, error) {
	n := f.Nullable
	switch t := f.Type.(type) {
	case *arrow.StringType:
		return typed(n, func(a *array.String, i int) string { return a.Value(i) }), nil
	case *arrow.LargeStringType:
		return typed(n, func(a *array.LargeString, i int) string { return a.Value(i) }), nil
	case *arrow.BinaryType:
		return typed(n, func(a *array.Binary, i int) string { return string(a.Value(i)) }), nil
	case *arrow.FixedSizeBinaryType:
		return typed(n, func(a *array.FixedSizeBinary, i int) string { return string(a.Value(i)) }), nil
	case *arrow.BooleanType:
		return typed(n, func(a *array.Boolean, i int) bool { return a.Value(i) }), nil
	case *arrow.Int8Type:
		return typed(n, func(a *array.Int8, i int) int8 { return a.Value(i) }), nil
	case *arrow.Int16Type:
		return typed(n, func(a *array.Int16, i int) int16 { return a.Value(i) }), nil
	case *arrow.Int32Type:
		return typed(n, func(a *array.Int32, i int) int32 { return a.Value(i) }), nil
	case *arrow.Int64Type:
		return typed(n, func(a *array.Int64, i int) int64 { return a.Value(i) }), nil
	case *arrow.Uint8Type:
		return typed(n, func(a *array.Uint8, i int) uint8 { return a.Value(i) }), nil
	case *arrow.Uint16Type:
		return typed(n, func(a *array.Uint16, i int) uint16 { return a.Value(i) }), nil
	case *arrow.Uint32Type:
		return typed(n, func(a *array.Uint32, i int) uint32 { return a.Value(i) }), nil
	case *arrow.Uint64Type:
		return typed(n, func(a *array.Uint64, i int) uint64 { return a.Value(i) }), nil
	case *arrow.Float32Type:
		return typed(n, func(a *array.Float32, i int) float32 { return a.Value(i) }), nil
	case *arrow.Float64Type:
		return typed(n, func(a *array.Float64, i int) float64 { return a.Value(i) }), nil
	case *arrow.TimestampType:
		unit := t.Unit
		return typed(n, func(a *array.Timestamp, i int) time.Time { return a.Value(i).ToTime(unit).UTC() }), nil
	case *arrow.Date32Type:
		return typed(n, func(a *array.Date32, i int) time.Time { return a.Value(i).ToTime().UTC() }), nil
	case *arrow.Date64Type:
		return typed(n, func(a *array.Date64, i int) time.Time { return a.Value(i).ToTime().UTC() }), nil
	case *arrow.DictionaryType:
		if arrow.IsBaseBinary(t.ValueType.ID()) {
			return typed(n, func(a *array.Dictionary, i int) string {
				return dictString(a.Dictionary(), a.GetValueIndex(i))
			}), nil
		}
	}
	return column{}, fmt.Errorf("%w: column %q is %s; cast it in SQL, e.g. toString(%s) or toFloat64(%s)",
		ErrUnsupportedType, f.Name, f.Type, f.Name, f.Name)
}

func dictString(d arrow.Array, i int) string {
	switch v := d.(type) {
	case *array.String:
		return v.Value(i)
	case *array.LargeString:
		return v.Value(i)
	case *array.Binary:
		return string(v.Value(i))
	}
	return ""
}

// typed accumulates values read by get from arrays of type A, as []T or,
// when nullable, []*T with nil for nulls.
func typed[A arrow.Array, T any](nullable bool, get func(A, int) T) column {
	var vals []T
	var ptrs []*T
	return column{
		add: func(arr arrow.Array) error {
			a, ok := arr.(A)
			if !ok {
				return fmt.Errorf("record batch column is %s, not the schema's type", arr.DataType())
			}
			n := a.Len()
			if nullable {
				ptrs = append(ptrs, make([]*T, n)...)
				base := len(ptrs) - n
				for i := 0; i < n; i++ {
					if a.IsValid(i) {
						v := get(a, i)
						ptrs[base+i] = &v
					}
				}
				return nil
			}
			for i := 0; i < n; i++ {
				vals = append(vals, get(a, i))
			}
			return nil
		},
		values: func() any {
			if nullable {
				if ptrs == nil {
					return []*T{}
				}
				return ptrs
			}
			if vals == nil {
				return []T{}
			}
			return vals
		},
	}
}
