package store

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestPutFixedColumns: fixed-size columns go out little-endian value by
// value, a null as zero whatever its slot holds, after the null map.
func TestPutFixedColumns(t *testing.T) {
	ints := []int64{7, -1, 1 << 40, 99}
	floats := []float64{1.5, math.Inf(1), -0.25, 3}
	valid := []byte{0b1011} // row 2 is null; its slot holds a value all the same
	tests := []struct {
		name string
		col  arrow.Array
		want func(i int) uint64
	}{
		{"int64", array.NewInt64Data(array.NewData(arrow.PrimitiveTypes.Int64, 4,
			[]*memory.Buffer{memory.NewBufferBytes(valid), memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(ints))}, nil, 1, 0)),
			func(i int) uint64 { return uint64(ints[i]) }},
		{"float64", array.NewFloat64Data(array.NewData(arrow.PrimitiveTypes.Float64, 4,
			[]*memory.Buffer{memory.NewBufferBytes(valid), memory.NewBufferBytes(arrow.Float64Traits.CastToBytes(floats))}, nil, 1, 0)),
			func(i int) uint64 { return math.Float64bits(floats[i]) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b proto.Buffer
			b.Buf = []byte{0xAA} // what went before stays
			if err := putArrowColumn(&b, tt.col, true); err != nil {
				t.Fatal(err)
			}
			want := []byte{0xAA, 0, 0, 1, 0}
			for i := range 4 {
				v := tt.want(i)
				if i == 2 {
					v = 0
				}
				want = binary.LittleEndian.AppendUint64(want, v)
			}
			if !bytes.Equal(b.Buf, want) {
				t.Fatalf("encoded\n% x\nwant\n% x", b.Buf, want)
			}
		})
	}
}

// TestPutIntsAndStrings: provenance columns, little-endian integers and
// strings with their lengths, one value repeated or one per row.
func TestPutIntsAndStrings(t *testing.T) {
	var b proto.Buffer
	putRaw(&b, arrow.Int32Traits.CastToBytes([]int32{1, -2}), 4)
	putRaw(&b, arrow.Int64Traits.CastToBytes([]int64{1 << 33}), 8)
	putStrings(&b, nil, "ab", 3)
	putStrings(&b, []string{"", "xyz"}, "", 2)
	putStrings(&b, nil, "none", 0)
	want := []byte{1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0, 0, 0, 0, 2, 0, 0, 0,
		2, 'a', 'b', 2, 'a', 'b', 2, 'a', 'b', 0, 3, 'x', 'y', 'z'}
	if !bytes.Equal(b.Buf, want) {
		t.Fatalf("encoded\n% x\nwant\n% x", b.Buf, want)
	}
}
