package store

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/uuid"
)

// typed gives a ch-go column another ClickHouse type name, for the types
// whose wire encoding is another's (an Enum8 is Int8, a Decimal64 Int64, a
// Map an array of tuples) or whose arguments ch-go's column does not print.
type typed struct {
	proto.ColInput
	t proto.ColumnType
}

func (c typed) Type() proto.ColumnType { return c.t }

// encodeColumn is a column's values in a block as a server sends them:
// its state prefix (LowCardinality's), then its data, by ch-go's encoder.
func encodeColumn(t *testing.T, col proto.ColInput) []byte {
	t.Helper()
	var b proto.Buffer
	if p, ok := col.(proto.Preparable); ok {
		if err := p.Prepare(); err != nil {
			t.Fatal(err)
		}
	}
	if s, ok := col.(proto.StateEncoder); ok {
		s.EncodeState(&b)
	}
	col.EncodeColumn(&b)
	return b.Buf
}

func nullableOf[T any](inner proto.ColumnOf[T], vals ...*T) *proto.ColNullable[T] {
	c := proto.NewColNullable(inner)
	for _, v := range vals {
		if v == nil {
			c.Append(proto.Null[T]())
		} else {
			c.Append(proto.NewNullable(*v))
		}
	}
	return c
}

func ptr[T any](v T) *T { return &v }

func lowCardinality[T comparable](inner proto.ColumnOf[T], vals ...T) *proto.ColLowCardinality[T] {
	c := proto.NewLowCardinality(inner)
	for _, v := range vals {
		c.Append(v)
	}
	return c
}

func arrayOf[T any](inner proto.ColumnOf[T], vals ...[]T) *proto.ColArr[T] {
	c := proto.NewArray(inner)
	for _, v := range vals {
		c.Append(v)
	}
	return c
}

func fixedStr(size int, vals ...string) *proto.ColFixedStr {
	c := &proto.ColFixedStr{Size: size}
	for _, v := range vals {
		c.Append([]byte(v))
	}
	return c
}

func strs(vals ...string) *proto.ColStr {
	c := &proto.ColStr{}
	for _, v := range vals {
		c.Append(v)
	}
	return c
}

// le128 is the 16 little-endian bytes of v (two's complement).
func le128(v int64) proto.Int128 {
	return proto.Int128{Low: uint64(v), High: uint64(v >> 63)}
}

// TestResultColumns decodes a column of each type that ch-go encodes as a
// server sends it, and checks what each format makes of its rows: the JSON
// value, the CSV field and the Arrow value (as arrow-go's JSON of the
// array). The expectations for the types that TestQueryTypes reads from a
// real server are the ones it found there.
func TestResultColumns(t *testing.T) {
	// A Nullable Decimal: the null map, then the Int64 values.
	dec := proto.NewColNullable[proto.Decimal64](&proto.ColDecimal64{})
	dec.Append(proto.Null[proto.Decimal64]())
	dec.Append(proto.NewNullable(proto.Decimal64(-150)))
	jan1HK := proto.DateTime(1767196800) // 2026-01-01 00:00:00 in Hong Kong
	u := uuid.MustParse("61f0c404-5cb3-11e7-907b-a6006ad3dba0")
	ip6 := proto.IPv6{0x20, 0x01, 0x0d, 0xb8, 15: 1}
	mapped := proto.IPv6{10: 0xff, 11: 0xff, 12: 1, 13: 2, 14: 3, 15: 4} // ::ffff:1.2.3.4 is written 1.2.3.4
	cases := []struct {
		col   proto.ColInput
		json  []string
		csv   []string
		arrow arrow.DataType
		arrJS string
	}{
		{&proto.ColInt8{-3, 127}, []string{"-3", "127"}, []string{"-3", "127"}, arrow.PrimitiveTypes.Int8, `[-3,127]`},
		{&proto.ColInt16{-300, 0}, []string{"-300", "0"}, []string{"-300", "0"}, arrow.PrimitiveTypes.Int16, `[-300,0]`},
		{&proto.ColInt32{math.MinInt32, 1}, []string{"-2147483648", "1"}, []string{"-2147483648", "1"}, arrow.PrimitiveTypes.Int32, `[-2147483648,1]`},
		{&proto.ColInt64{math.MinInt64, 5}, []string{"-9223372036854775808", "5"}, []string{"-9223372036854775808", "5"}, arrow.PrimitiveTypes.Int64, `[-9223372036854775808,5]`},
		{&proto.ColUInt8{255, 0}, []string{"255", "0"}, []string{"255", "0"}, arrow.PrimitiveTypes.Uint8, `[255,0]`},
		{&proto.ColUInt16{65535, 1}, []string{"65535", "1"}, []string{"65535", "1"}, arrow.PrimitiveTypes.Uint16, `[65535,1]`},
		{&proto.ColUInt32{4294967295, 2}, []string{"4294967295", "2"}, []string{"4294967295", "2"}, arrow.PrimitiveTypes.Uint32, `[4294967295,2]`},
		{&proto.ColUInt64{math.MaxUint64, 3}, []string{"18446744073709551615", "3"}, []string{"18446744073709551615", "3"}, arrow.PrimitiveTypes.Uint64, `[18446744073709551615,3]`},
		{&proto.ColFloat32{0.1, float32(math.Inf(-1))}, []string{"0.1", "null"}, []string{"0.1", "-Inf"}, arrow.PrimitiveTypes.Float32, `[0.1,"-Inf"]`},
		{&proto.ColFloat64{math.NaN(), 1e-7}, []string{"null", "1e-07"}, []string{"NaN", "1e-07"}, arrow.PrimitiveTypes.Float64, `["NaN",1e-7]`},
		{&proto.ColBool{true, false}, []string{"true", "false"}, []string{"true", "false"}, arrow.FixedWidthTypes.Boolean, `[true,false]`},
		{strs(`quote"comma,`, "line\nbreak"), []string{`"quote\"comma,"`, `"line\nbreak"`}, []string{`"quote""comma,"`, "\"line\nbreak\""}, arrow.BinaryTypes.String, `["quote\"comma,","line\nbreak"]`},
		{fixedStr(3, "ab\x00", "xyz"), []string{`"ab\u0000"`, `"xyz"`}, []string{"ab\x00", "xyz"}, arrow.BinaryTypes.String, `["ab\u0000","xyz"]`},
		{typed{&proto.ColInt8{1, -2}, "Enum8('a' = 1, 'it\\'s' = -2)"}, []string{`"a"`, `"it's"`}, []string{"a", "it's"}, arrow.BinaryTypes.String, `["a","it's"]`},
		{typed{&proto.ColInt16{1000, 1}, "Enum16('big' = 1000, 'small' = 1)"}, []string{`"big"`, `"small"`}, []string{"big", "small"}, arrow.BinaryTypes.String, `["big","small"]`},
		{&proto.ColDate{proto.Date(20418), 0}, []string{`"2025-11-26"`, `"1970-01-01"`}, []string{"2025-11-26", "1970-01-01"}, arrow.FixedWidthTypes.Date32, `["2025-11-26","1970-01-01"]`},
		{&proto.ColDate32{-1, 20418}, []string{`"1969-12-31"`, `"2025-11-26"`}, []string{"1969-12-31", "2025-11-26"}, arrow.FixedWidthTypes.Date32, `["1969-12-31","2025-11-26"]`},
		{typed{&proto.ColDateTime{Data: []proto.DateTime{jan1HK, 0}}, "DateTime('Asia/Hong_Kong')"}, []string{`"2025-12-31T16:00:00Z"`, `"1970-01-01T00:00:00Z"`},
			[]string{"2025-12-31T16:00:00Z", "1970-01-01T00:00:00Z"}, &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, `["2025-12-31T16:00:00Z","1970-01-01T00:00:00Z"]`},
		{typed{(&proto.ColDateTime64{Data: []proto.DateTime64{1767196800123, -1}}).WithPrecision(proto.PrecisionMilli), "DateTime64(3, 'UTC')"},
			[]string{`"2025-12-31T16:00:00.123Z"`, `"1969-12-31T23:59:59.999Z"`}, []string{"2025-12-31T16:00:00.123Z", "1969-12-31T23:59:59.999Z"},
			&arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, `["2025-12-31T16:00:00.123Z","1969-12-31T23:59:59.999Z"]`},
		{typed{(&proto.ColDateTime64{Data: []proto.DateTime64{1767196800123456789}}).WithPrecision(proto.PrecisionNano), "DateTime64(9)"},
			[]string{`"2025-12-31T16:00:00.123456789Z"`}, []string{"2025-12-31T16:00:00.123456789Z"},
			&arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, `["2025-12-31T16:00:00.123Z"]`},
		{typed{&proto.ColDecimal32{150, -5}, "Decimal(9, 2)"}, []string{`"1.50"`, `"-0.05"`}, []string{"1.50", "-0.05"}, arrow.BinaryTypes.String, `["1.50","-0.05"]`},
		{typed{&proto.ColDecimal64{150, 7}, "Decimal64(2)"}, []string{`"1.50"`, `"0.07"`}, []string{"1.50", "0.07"}, arrow.BinaryTypes.String, `["1.50","0.07"]`},
		{typed{&proto.ColDecimal128{proto.Decimal128(le128(-50)), proto.Decimal128(le128(123456))}, "Decimal128(3)"}, []string{`"-0.050"`, `"123.456"`}, []string{"-0.050", "123.456"}, arrow.BinaryTypes.String, `["-0.050","123.456"]`},
		{typed{&proto.ColDecimal256{proto.Decimal256{Low: proto.UInt128{Low: 12345}}}, "Decimal(76, 4)"}, []string{`"1.2345"`}, []string{"1.2345"}, arrow.BinaryTypes.String, `["1.2345"]`},
		{&proto.ColInt128{le128(-1), {Low: 0, High: 1}}, []string{`"-1"`, `"18446744073709551616"`}, []string{"-1", "18446744073709551616"}, arrow.BinaryTypes.String, `["-1","18446744073709551616"]`},
		{&proto.ColUInt128{{Low: math.MaxUint64, High: math.MaxUint64}}, []string{`"340282366920938463463374607431768211455"`}, []string{"340282366920938463463374607431768211455"}, arrow.BinaryTypes.String, `["340282366920938463463374607431768211455"]`},
		{&proto.ColInt256{{Low: proto.UInt128{Low: math.MaxUint64, High: math.MaxUint64}, High: proto.UInt128{Low: math.MaxUint64, High: math.MaxUint64}}}, []string{`"-1"`}, []string{"-1"}, arrow.BinaryTypes.String, `["-1"]`},
		{&proto.ColUInt256{{Low: proto.UInt128{Low: 7}}}, []string{`"7"`}, []string{"7"}, arrow.BinaryTypes.String, `["7"]`},
		{&proto.ColUUID{u}, []string{`"61f0c404-5cb3-11e7-907b-a6006ad3dba0"`}, []string{"61f0c404-5cb3-11e7-907b-a6006ad3dba0"}, arrow.BinaryTypes.String, `["61f0c404-5cb3-11e7-907b-a6006ad3dba0"]`},
		{&proto.ColIPv4{0x7f000001, 0xc0a80101}, []string{`"127.0.0.1"`, `"192.168.1.1"`}, []string{"127.0.0.1", "192.168.1.1"}, arrow.BinaryTypes.String, `["127.0.0.1","192.168.1.1"]`},
		{&proto.ColIPv6{ip6, mapped}, []string{`"2001:db8::1"`, `"1.2.3.4"`}, []string{"2001:db8::1", "1.2.3.4"}, arrow.BinaryTypes.String, `["2001:db8::1","1.2.3.4"]`},
		{proto.ColNothing(2), []string{"null", "null"}, []string{"", ""}, arrow.BinaryTypes.String, `[null,null]`},
		{nullableOf[uint64](&proto.ColUInt64{}, nil, ptr(uint64(1))), []string{"null", "1"}, []string{"", "1"}, arrow.PrimitiveTypes.Uint64, `[null,1]`},
		{nullableOf[string](&proto.ColStr{}, ptr("x,y"), nil), []string{`"x,y"`, "null"}, []string{`"x,y"`, ""}, arrow.BinaryTypes.String, `["x,y",null]`},
		{typed{dec, "Nullable(Decimal(18, 2))"}, []string{"null", `"-1.50"`}, []string{"", "-1.50"}, arrow.BinaryTypes.String, `[null,"-1.50"]`},
		{lowCardinality[string](&proto.ColStr{}, "lc", "other", "lc"), []string{`"lc"`, `"other"`, `"lc"`}, []string{"lc", "other", "lc"}, arrow.BinaryTypes.String, `["lc","other","lc"]`},
		{arrayOf[proto.Nullable[string]](proto.NewColNullable[string](&proto.ColStr{}), []proto.Nullable[string]{proto.Null[string](), proto.NewNullable("x")}),
			[]string{`[null,"x"]`}, []string{`"[null,""x""]"`}, arrow.BinaryTypes.String, `["[null,\"x\"]"]`},
		{arrayOf[[]uint8](arrayOf[uint8](&proto.ColUInt8{}), [][]uint8{{1}, {}, {2, 3}}),
			[]string{`[[1],[],[2,3]]`}, []string{`"[[1],[],[2,3]]"`}, arrow.BinaryTypes.String, `["[[1],[],[2,3]]"]`},
		{nullableOf[proto.Nothing](new(proto.ColNothing), nil, nil), []string{"null", "null"}, []string{"", ""}, arrow.BinaryTypes.String, `[null,null]`},
		{arrayOf[uint8](&proto.ColUInt8{}, []uint8{1, 2}, nil), []string{"[1,2]", "[]"}, []string{`"[1,2]"`, "[]"}, arrow.BinaryTypes.String, `["[1,2]","[]"]`},
		{arrayOf[string](&proto.ColStr{}, []string{`"q"`}, []string{"a", "b"}), []string{`["\"q\""]`, `["a","b"]`}, []string{`"[""\""q\""""]"`, `"[""a"",""b""]"`}, arrow.BinaryTypes.String, `["[\"\\\"q\\\"\"]","[\"a\",\"b\"]"]`},
		{typed{proto.ColTuple{&proto.ColUInt8{1}, strs("a")}, "Tuple(UInt8, String)"}, []string{`[1,"a"]`}, []string{`"[1,""a""]"`}, arrow.BinaryTypes.String, `["[1,\"a\"]"]`},
		{typed{proto.ColTuple{&proto.ColUInt8{1}, arrayOf[string](&proto.ColStr{}, []string{"x"})}, "Tuple(a UInt8, b Array(String))"}, []string{`[1,["x"]]`}, []string{`"[1,[""x""]]"`}, arrow.BinaryTypes.String, `["[1,[\"x\"]]"]`},
		{typed{&proto.ColUInt64{9}, "SimpleAggregateFunction(sum, UInt64)"}, []string{"9"}, []string{"9"}, arrow.PrimitiveTypes.Uint64, `[9]`},
	}
	for _, c := range cases {
		typ := string(c.col.Type())
		t.Run(typ, func(t *testing.T) {
			col, err := newColumn(typ)
			if err != nil {
				t.Fatal(err)
			}
			rows := c.col.Rows()
			r := proto.NewReader(bytes.NewReader(encodeColumn(t, c.col)))
			if err := decodeColumn(r, col, rows); err != nil {
				t.Fatal(err)
			}
			for i := range rows {
				if got := string(col.appendJSON(nil, i)); got != c.json[i] {
					t.Errorf("row %d: JSON %s, want %s", i, got, c.json[i])
				}
				if got := string(col.appendCSV(nil, i)); got != c.csv[i] {
					t.Errorf("row %d: CSV %q, want %q", i, got, c.csv[i])
				}
			}
			if !arrow.TypeEqual(col.arrowType(), c.arrow) {
				t.Fatalf("Arrow type %s, want %s", col.arrowType(), c.arrow)
			}
			b := array.NewBuilder(memory.NewGoAllocator(), col.arrowType())
			defer b.Release()
			var nulls []uint8
			if n, ok := col.(*nullableCol); ok {
				nulls = n.nulls
			}
			// Two ranges, as a writer splits a block into batches.
			col.appendArrow(b, 0, rows/2, nulls)
			col.appendArrow(b, rows/2, rows, nulls)
			arr := b.NewArray()
			defer arr.Release()
			js, err := json.Marshal(arr)
			if err != nil {
				t.Fatal(err)
			}
			if string(js) != c.arrJS {
				t.Errorf("Arrow %s, want %s", js, c.arrJS)
			}
		})
	}
}

// TestResultColumnsMap: a Map arrives as an array of (key, value) tuples
// and is written as an array of [key, value] pairs.
func TestResultColumnsMap(t *testing.T) {
	m := proto.NewMap[string, uint64](&proto.ColStr{}, &proto.ColUInt64{})
	m.AppendKV([]proto.KV[string, uint64]{{Key: "a", Value: 1}, {Key: "b", Value: 2}})
	m.AppendKV(nil)
	col, err := newColumn(string(m.Type()))
	if err != nil {
		t.Fatal(err)
	}
	if err := decodeColumn(proto.NewReader(bytes.NewReader(encodeColumn(t, m))), col, 2); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{`[["a",1],["b",2]]`, `[]`} {
		if got := string(col.appendJSON(nil, i)); got != want {
			t.Errorf("%s row %d: %s, want %s", m.Type(), i, got, want)
		}
	}
}

// TestResultColumnsBadData: a block that ends early, or whose values
// contradict each other, fails with what was wrong, never a panic.
func TestResultColumnsBadData(t *testing.T) {
	cases := []struct {
		typ  string
		data []byte
		rows int
		want string
	}{
		{"UInt64", []byte{1, 2, 3}, 1, "EOF"},
		{"String", []byte{5, 'a'}, 1, "EOF"},
		{"Nullable(UInt8)", []byte{0}, 2, "null map"},
		{"Array(UInt8)", []byte{3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}, 2, "array offset 1 after 3"},
		{"LowCardinality(String)", []byte{9, 0, 0, 0, 0, 0, 0, 0}, 1, "serialization version 9"},
		{"Tuple(UInt8, String)", []byte{1}, 1, "tuple element 2"},
	}
	for _, c := range cases {
		t.Run(c.typ, func(t *testing.T) {
			col, err := newColumn(c.typ)
			if err != nil {
				t.Fatal(err)
			}
			err = decodeColumn(proto.NewReader(bytes.NewReader(c.data)), col, c.rows)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("decode: %v, want an error saying %q", err, c.want)
			}
		})
	}
}

// TestResultColumnsLowCardinalityKeys: a dictionary of more than 256
// values has UInt16 keys, and each row still finds its own value.
func TestResultColumnsLowCardinalityKeys(t *testing.T) {
	lc := proto.NewLowCardinality[string](&proto.ColStr{})
	var want []string
	for i := range 600 {
		v := strings.Repeat("v", i%300+1)
		lc.Append(v)
		want = append(want, `"`+v+`"`)
	}
	col, err := newColumn("LowCardinality(String)")
	if err != nil {
		t.Fatal(err)
	}
	if err := decodeColumn(proto.NewReader(bytes.NewReader(encodeColumn(t, lc))), col, len(want)); err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		if got := string(col.appendJSON(nil, i)); got != w {
			t.Fatalf("row %d: %s, want %s", i, got, w)
		}
	}
}
