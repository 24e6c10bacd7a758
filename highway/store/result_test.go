package store

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/cityhighway/highway/internal/jsonstr"
)

// appendFloat must write exactly what strconv's shortest 'g' writes; its
// fast path only skips work.
func TestAppendFloatMatchesStrconv(t *testing.T) {
	vals := []float64{0, math.Copysign(0, -1), 0.5, -0.5, 1, -1, 0.001, 0.0009999, 0.1, 0.2, 0.3, 1.005, 23.4, -23.45,
		99999.999, 999999, 999999.5, 1e6, 1e6 + 0.5, 123456.789, 0.123, 1.0 / 3, math.Pi, 1e-4, 1e21, math.MaxFloat64,
		math.SmallestNonzeroFloat64, math.NaN(), math.Inf(1), math.Inf(-1), 4503599627370496.5, 0.07, 100.25, 7e-3}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		k := rng.IntN(5)
		vals = append(vals, float64(rng.Int64N(2e9)-1e9)/math.Pow(10, float64(k)), rng.NormFloat64()*1000)
	}
	for _, v := range vals {
		for _, bits := range []int{32, 64} {
			f := v
			if bits == 32 {
				f = float64(float32(v))
			}
			want := strconv.AppendFloat(nil, f, 'g', -1, bits)
			if got := appendFloat(nil, f, bits); string(got) != string(want) {
				t.Fatalf("appendFloat(%v, %d) = %s, want %s", f, bits, got, want)
			}
		}
	}
}

func TestAppendDateTime(t *testing.T) {
	for _, tc := range []struct {
		sec, nsec int64
		want      string
	}{
		{0, 0, "1970-01-01T00:00:00Z"},
		{1795651201, 0, "2026-11-26T00:00:01Z"},
		{1795651201, 500_000_000, "2026-11-26T00:00:01.5Z"},
		{1795651201, 123_456_789, "2026-11-26T00:00:01.123456789Z"},
		{-1, 0, "1969-12-31T23:59:59Z"},
		{951782400, 0, "2000-02-29T00:00:00Z"},
		{4294967295, 0, "2106-02-07T06:28:15Z"},
		{-62135596800 - 86400, 0, "0000-12-31T00:00:00Z"}, // out of range: time's layout
	} {
		var dc dayCache
		if got := string(dc.appendDateTime(nil, tc.sec, tc.nsec)); got != tc.want {
			t.Errorf("appendDateTime(%d, %d) = %s, want %s", tc.sec, tc.nsec, got, tc.want)
		}
	}
	// Every day of four centuries against the time package, through one
	// cache as a column uses it.
	var dc dayCache
	for d := int64(-150000); d < 150000; d += 7 {
		sec := d*86400 + 3723
		want := time.Unix(sec, 0).UTC().Format(time.RFC3339)
		if got := string(dc.appendDateTime(nil, sec, 0)); got != want {
			t.Fatalf("day %d: %s, want %s", d, got, want)
		}
		if got, want := string(appendDate(nil, d)), time.Unix(d*86400, 0).UTC().Format(time.DateOnly); got != want {
			t.Fatalf("appendDate(%d) = %s, want %s", d, got, want)
		}
	}
}

func TestNewColumnTypes(t *testing.T) {
	for _, tc := range []struct {
		typ string
		ok  bool
	}{
		{"Int8", true}, {"UInt64", true}, {"Float32", true}, {"String", true}, {"FixedString(3)", true},
		{"Nullable(Float64)", true}, {"LowCardinality(Nullable(String))", true}, {"Array(Nullable(String))", true},
		{"Tuple(UInt8, String)", true}, {"Tuple(a UInt8, b Array(String))", true}, {"Map(String, UInt64)", true},
		{"DateTime('Asia/Hong_Kong')", true}, {"DateTime64(3, 'UTC')", true}, {"Date", true}, {"Date32", true},
		{"Decimal(18, 2)", true}, {"Decimal128(3)", true}, {"Enum8('a, b' = 1, 'it\\'s' = 2)", true}, {"UUID", true},
		{"IPv4", true}, {"IPv6", true}, {"Int128", true}, {"UInt256", true}, {"Nothing", true}, {"Nullable(Nothing)", true},
		{"SimpleAggregateFunction(sum, UInt64)", true}, {"Bool", true},
		{"AggregateFunction(uniq, String)", false}, {"Object('json')", false}, {"DateTime64(12)", false},
		{"FixedString(x)", false}, {"Decimal(80, 2)", false},
	} {
		_, err := newColumn(tc.typ)
		if (err == nil) != tc.ok {
			t.Errorf("newColumn(%q): err = %v, want ok = %v", tc.typ, err, tc.ok)
		}
	}
	names, err := parseEnum(`'a, b' = 1, 'it\'s' = -2`)
	if err != nil || names[1] != "a, b" || names[-2] != "it's" {
		t.Errorf("parseEnum: %v %v", names, err)
	}
}

func TestAppendScaled(t *testing.T) {
	for _, tc := range []struct {
		digits string
		scale  int
		want   string
	}{
		{"150", 2, "1.50"}, {"-50", 3, "-0.050"}, {"7", 0, "7"}, {"0", 2, "0.00"}, {"-123456", 2, "-1234.56"},
	} {
		if got := string(appendScaled(nil, []byte(tc.digits), tc.scale)); got != tc.want {
			t.Errorf("appendScaled(%s, %d) = %s, want %s", tc.digits, tc.scale, got, tc.want)
		}
	}
}

func TestAppendJSONAndCSVText(t *testing.T) {
	for _, tc := range []struct{ in, json, csv string }{
		{"plain", `"plain"`, "plain"},
		{`a "q", b`, `"a \"q\", b"`, `"a ""q"", b"`},
		{"line\nbreak\t<&>", `"line\nbreak\t\u003c\u0026\u003e"`, "\"line\nbreak\t<&>\""},
		{" lead", `" lead"`, `" lead"`},
		{"bad \xff utf8 \u2028", `"bad \ufffd utf8 \u2028"`, "bad \xff utf8 \u2028"},
		{"", `""`, ""},
	} {
		if got := string(jsonstr.AppendHTMLSafe(nil, tc.in)); got != tc.json {
			t.Errorf("JSON of %q = %s, want %s", tc.in, got, tc.json)
		}
		if got := string(jsonstr.AppendHTMLSafe(nil, []byte(tc.in))); got != tc.json {
			t.Errorf("JSON of []byte %q = %s, want %s", tc.in, got, tc.json)
		}
		if got := string(appendCSVField(nil, tc.in)); got != tc.csv {
			t.Errorf("CSV of %q = %q, want %q", tc.in, got, tc.csv)
		}
	}
}
