package apitest

import (
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Col is a named column of a test record: a Go slice of time.Time
// (timestamp[s], as DateTime), string, float64, int64, uint64 or uint8, or
// a slice of pointers to them for a nullable column (nil is null).
type Col struct {
	Name   string
	Values any
}

// Record builds a record batch of the columns, which must have equal lengths.
// It panics on a type it does not know: a mistake in the test.
func Record(cols ...Col) arrow.RecordBatch {
	mem := memory.DefaultAllocator
	fields := make([]arrow.Field, len(cols))
	arrays := make([]arrow.Array, len(cols))
	rows := -1
	for i, c := range cols {
		var a arrow.Array
		nullable := false
		switch v := c.Values.(type) {
		case []time.Time:
			b := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"})
			for _, t := range v {
				b.Append(arrow.Timestamp(t.Unix()))
			}
			a = b.NewArray()
		case []string:
			b := array.NewStringBuilder(mem)
			b.AppendValues(v, nil)
			a = b.NewArray()
		case []*string:
			b := array.NewStringBuilder(mem)
			appendOptional(b, v)
			a, nullable = b.NewArray(), true
		case []float64:
			b := array.NewFloat64Builder(mem)
			b.AppendValues(v, nil)
			a = b.NewArray()
		case []*float64:
			b := array.NewFloat64Builder(mem)
			appendOptional(b, v)
			a, nullable = b.NewArray(), true
		case []int64:
			b := array.NewInt64Builder(mem)
			b.AppendValues(v, nil)
			a = b.NewArray()
		case []uint64:
			b := array.NewUint64Builder(mem)
			b.AppendValues(v, nil)
			a = b.NewArray()
		case []uint8:
			b := array.NewUint8Builder(mem)
			b.AppendValues(v, nil)
			a = b.NewArray()
		default:
			panic(fmt.Sprintf("apitest.Record: column %s: unsupported %T", c.Name, c.Values))
		}
		if rows >= 0 && a.Len() != rows {
			panic(fmt.Sprintf("apitest.Record: column %s has %d rows, others %d", c.Name, a.Len(), rows))
		}
		rows = a.Len()
		fields[i] = arrow.Field{Name: c.Name, Type: a.DataType(), Nullable: nullable}
		arrays[i] = a
	}
	if rows < 0 {
		rows = 0
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), arrays, int64(rows))
}

// appendOptional appends v to b, a nil as NULL.
func appendOptional[T any](b interface {
	Append(T)
	AppendNull()
}, v []*T) {
	for _, x := range v {
		if x == nil {
			b.AppendNull()
		} else {
			b.Append(*x)
		}
	}
}
