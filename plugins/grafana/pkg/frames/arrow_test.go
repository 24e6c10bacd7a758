package frames

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// stream writes the records as one Arrow IPC stream.
func stream(t *testing.T, schema *arrow.Schema, recs ...arrow.RecordBatch) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema))
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

func TestFromArrowStreamTypes(t *testing.T) {
	mem := memory.DefaultAllocator
	t0 := time.Date(2026, 11, 26, 8, 30, 0, 0, time.UTC)
	tests := []struct {
		name  string
		field arrow.Field
		build func() arrow.Array
		want  any
	}{
		{"timestamp seconds", arrow.Field{Name: "t", Type: &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}}, func() arrow.Array {
			b := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"})
			b.Append(arrow.Timestamp(t0.Unix()))
			return b.NewArray()
		}, []time.Time{t0}},
		{"timestamp ms", arrow.Field{Name: "t", Type: &arrow.TimestampType{Unit: arrow.Millisecond}}, func() arrow.Array {
			b := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Millisecond})
			b.Append(arrow.Timestamp(t0.UnixMilli() + 250))
			return b.NewArray()
		}, []time.Time{t0.Add(250 * time.Millisecond)}},
		{"nullable float", arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true}, func() arrow.Array {
			b := array.NewFloat64Builder(mem)
			b.Append(1.5)
			b.AppendNull()
			return b.NewArray()
		}, []*float64{ptr(1.5), nil}},
		{"uint64 count", arrow.Field{Name: "n", Type: arrow.PrimitiveTypes.Uint64}, func() arrow.Array {
			b := array.NewUint64Builder(mem)
			b.Append(7)
			return b.NewArray()
		}, []uint64{7}},
		{"uint8 bool column", arrow.Field{Name: "valid", Type: arrow.PrimitiveTypes.Uint8}, func() arrow.Array {
			b := array.NewUint8Builder(mem)
			b.Append(1)
			return b.NewArray()
		}, []uint8{1}},
		{"string", arrow.Field{Name: "s", Type: arrow.BinaryTypes.String}, func() arrow.Array {
			b := array.NewStringBuilder(mem)
			b.Append("Sha Tin")
			return b.NewArray()
		}, []string{"Sha Tin"}},
		{"binary as string", arrow.Field{Name: "s", Type: arrow.BinaryTypes.Binary}, func() arrow.Array {
			b := array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary)
			b.Append([]byte("Central"))
			return b.NewArray()
		}, []string{"Central"}},
		{"date32", arrow.Field{Name: "d", Type: arrow.FixedWidthTypes.Date32}, func() arrow.Array {
			b := array.NewDate32Builder(mem)
			b.Append(arrow.Date32FromTime(t0))
			return b.NewArray()
		}, []time.Time{time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)}},
		{"dictionary string", arrow.Field{Name: "district", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}}, func() arrow.Array {
			b := array.NewDictionaryBuilder(mem, &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}).(*array.BinaryDictionaryBuilder)
			_ = b.AppendString("ST")
			_ = b.AppendString("CW")
			_ = b.AppendString("ST")
			return b.NewArray()
		}, []string{"ST", "CW", "ST"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.build()
			schema := arrow.NewSchema([]arrow.Field{tc.field}, nil)
			rec := array.NewRecordBatch(schema, []arrow.Array{a}, int64(a.Len()))
			frame, err := FromArrowStream(stream(t, schema, rec), "A")
			if err != nil {
				t.Fatal(err)
			}
			want := data.NewFrame("A", data.NewField(tc.field.Name, nil, tc.want))
			if got, exp := frameString(t, frame), frameString(t, want); got != exp {
				t.Errorf("frame\n%s\nwant\n%s", got, exp)
			}
		})
	}
}

func TestFromArrowStreamBatchesAndEmpty(t *testing.T) {
	mem := memory.DefaultAllocator
	schema := arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	mk := func(vals ...int64) arrow.RecordBatch {
		b := array.NewInt64Builder(mem)
		b.AppendValues(vals, nil)
		return array.NewRecordBatch(schema, []arrow.Array{b.NewArray()}, int64(len(vals)))
	}
	frame, err := FromArrowStream(stream(t, schema, mk(1, 2), mk(3)), "A")
	if err != nil {
		t.Fatal(err)
	}
	if frame.Rows() != 3 || frame.Fields[0].At(2).(int64) != 3 {
		t.Errorf("two batches: got %d rows", frame.Rows())
	}
	empty, err := FromArrowStream(stream(t, schema), "A")
	if err != nil {
		t.Fatal(err)
	}
	if len(empty.Fields) != 1 || empty.Rows() != 0 || empty.Fields[0].Name != "v" {
		t.Errorf("empty stream: got %d fields, %d rows", len(empty.Fields), empty.Rows())
	}
}

func TestFromArrowStreamErrors(t *testing.T) {
	if _, err := FromArrowStream(bytes.NewReader([]byte("not arrow")), "A"); err == nil {
		t.Error("garbage: no error")
	}
	mem := memory.DefaultAllocator
	lt := arrow.ListOf(arrow.PrimitiveTypes.Int64)
	schema := arrow.NewSchema([]arrow.Field{{Name: "arr", Type: lt}}, nil)
	b := array.NewListBuilder(mem, arrow.PrimitiveTypes.Int64)
	b.Append(true)
	rec := array.NewRecordBatch(schema, []arrow.Array{b.NewArray()}, 1)
	_, err := FromArrowStream(stream(t, schema, rec), "A")
	if !errors.Is(err, ErrUnsupportedType) {
		t.Fatalf("list column: got %v, want ErrUnsupportedType", err)
	}
	if want := `column "arr"`; !bytes.Contains([]byte(err.Error()), []byte(want)) {
		t.Errorf("error %q does not name the column", err)
	}
}

func frameString(t *testing.T, f *data.Frame) string {
	t.Helper()
	s, err := f.StringTable(-1, -1)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ptr[T any](v T) *T { return &v }
