package record_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/record"
)

// readingsSpec is a small feed with a field of every type, bounds and an enum.
const readingsSpec = `kind: feed
name: city.test.readings
department: TEST
version: 2
fields:
  - {name: station, type: string, required: true}
  - {name: count, type: int64, min: 0, max: 1000}
  - {name: level, type: float64, unit: m, min: -5.5, max: 10}
  - {name: open, type: bool}
  - {name: risk, type: string, enum: [low, high]}
  - {name: note, type: string}
  - {name: at, type: time, required: true}
key: [station]
event_time: at
interval: 1m
`

// The columns of readingsSpec, in order.
const (
	colStation = iota
	colCount
	colLevel
	colOpen
	colRisk
	colNote
	colAt
)

func parseFeed(t testing.TB, spec, name string) *catalog.Feed {
	t.Helper()
	c, err := catalog.Parse(name+".yaml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	f := c.Feed(name)
	if f == nil {
		t.Fatalf("no feed %s in the spec", name)
	}
	return f
}

// newDecoder returns a decoder of the readings feed.
func newDecoder(t *testing.T) *record.Decoder {
	t.Helper()
	d := record.NewDecoder(parseFeed(t, readingsSpec, "city.test.readings"))
	t.Cleanup(d.Release)
	return d
}

// rows returns the batch as Go values: string, int64, float64, bool or
// time.Time (UTC), and nil for null.
func rows(t *testing.T, b arrow.RecordBatch) [][]any {
	t.Helper()
	out := make([][]any, b.NumRows())
	for i := range out {
		out[i] = make([]any, b.NumCols())
		for j, col := range b.Columns() {
			if col.IsNull(i) {
				continue
			}
			switch col := col.(type) {
			case *array.String:
				out[i][j] = col.Value(i)
			case *array.Int64:
				out[i][j] = col.Value(i)
			case *array.Float64:
				out[i][j] = col.Value(i)
			case *array.Boolean:
				out[i][j] = col.Value(i)
			case *array.Timestamp:
				out[i][j] = col.Value(i).ToTime(arrow.Millisecond)
			default:
				t.Fatalf("column %d is a %T", j, col)
			}
		}
	}
	return out
}

func equalRow(got, want []any) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		gt, gok := got[i].(time.Time)
		wt, wok := want[i].(time.Time)
		if gok && wok {
			if !gt.Equal(wt) || gt.Location() != time.UTC {
				return false
			}
			continue
		}
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func TestDecodeGood(t *testing.T) {
	at := time.Date(2026, 11, 26, 0, 30, 0, 0, time.UTC)
	tests := []struct {
		name   string
		record string
		want   []any // station, count, level, open, risk, note, at
	}{
		{
			name:   "every field",
			record: `{"station":"S1","count":42,"level":-1.25,"open":true,"risk":"high","note":"hi","at":"2026-11-26T08:30:00+08:00"}`,
			want:   []any{"S1", int64(42), -1.25, true, "high", "hi", at},
		},
		{
			name:   "only the required fields",
			record: `{"station":"S1","at":"2026-11-26T00:30:00Z"}`,
			want:   []any{"S1", nil, nil, nil, nil, nil, at},
		},
		{
			name:   "null for every optional field",
			record: `{"station":"S1","count":null,"level":null,"open":null,"risk":null,"note":null,"at":"2026-11-26T00:30:00Z"}`,
			want:   []any{"S1", nil, nil, nil, nil, nil, at},
		},
		{
			name:   "fields in any order, white space around tokens",
			record: " \t{ \"at\" : \"2026-11-26T00:30:00Z\" ,\n\r\"open\" :false, \"station\":\"S1\" }\n",
			want:   []any{"S1", nil, nil, false, nil, nil, at},
		},
		{
			name:   "time as milliseconds since 1970",
			record: `{"station":"S1","at":1795653000123}`,
			want:   []any{"S1", nil, nil, nil, nil, nil, time.UnixMilli(1795653000123)},
		},
		{
			name:   "time before 1970",
			record: `{"station":"S1","at":-1500}`,
			want:   []any{"S1", nil, nil, nil, nil, nil, time.UnixMilli(-1500)},
		},
		{
			name:   "time with fraction, kept to the millisecond",
			record: `{"station":"S1","at":"2026-11-26T08:30:00.123456789+08:00"}`,
			want:   []any{"S1", nil, nil, nil, nil, nil, at.Add(123 * time.Millisecond)},
		},
		{
			name:   "time with a negative offset",
			record: `{"station":"S1","at":"2026-11-25T14:30:00-10:00"}`,
			want:   []any{"S1", nil, nil, nil, nil, nil, at},
		},
		{
			name:   "simple escapes",
			record: `{"station":"S1","note":"q\" b\\ s\/ \b\f\n\r\t.","at":"2026-11-26T00:30:00Z"}`,
			want:   []any{"S1", nil, nil, nil, nil, "q\" b\\ s/ \b\f\n\r\t.", at},
		},
		{
			name:   "unicode escapes",
			record: `{"station":"caf\u00e9 \u6E2F","note":"\u0000\u001f","at":"2026-11-26T00:30:00Z"}`,
			want:   []any{"café 港", nil, nil, nil, nil, "\x00\x1f", at},
		},
		{
			name:   "surrogate pair",
			record: `{"station":"\ud83d\ude97 car","at":"2026-11-26T00:30:00Z"}`,
			want:   []any{"🚗 car", nil, nil, nil, nil, nil, at},
		},
		{
			name:   "lone surrogates become U+FFFD, and the next escape is kept",
			record: `{"station":"\ud800\u0041 \udc00\udc00 \ud800","at":"2026-11-26T00:30:00Z"}`,
			want:   []any{"\uFFFDA \uFFFD\uFFFD \uFFFD", nil, nil, nil, nil, nil, at},
		},
		{
			name:   "raw UTF-8",
			record: `{"station":"九龍 ✓","at":"2026-11-26T00:30:00Z"}`,
			want:   []any{"九龍 ✓", nil, nil, nil, nil, nil, at},
		},
		{
			name:   "escaped field name",
			record: `{"st\u0061tion":"S1","at":"2026-11-26T00:30:00Z"}`,
			want:   []any{"S1", nil, nil, nil, nil, nil, at},
		},
		{
			name:   "empty string is a value, not null",
			record: `{"station":"","note":"","at":"2026-11-26T00:30:00Z"}`,
			want:   []any{"", nil, nil, nil, nil, "", at},
		},
		{
			name:   "whole numbers written as floats or with an exponent",
			record: `{"station":"S1","count":1e2,"level":3,"at":"2026-11-26T00:30:00Z"}`,
			want:   []any{"S1", int64(100), 3.0, nil, nil, nil, at},
		},
		{
			name:   "count written with a fraction of zero",
			record: `{"station":"S1","count":7.0,"level":1E-2,"at":"2026-11-26T00:30:00Z"}`,
			want:   []any{"S1", int64(7), 0.01, nil, nil, nil, at},
		},
		{
			name:   "bounds are inclusive (low)",
			record: `{"station":"S1","count":0,"level":-5.5,"risk":"low","at":"2026-11-26T00:30:00Z"}`,
			want:   []any{"S1", int64(0), -5.5, nil, "low", nil, at},
		},
		{
			name:   "bounds are inclusive (high)",
			record: `{"station":"S1","count":1000,"level":10,"at":"2026-11-26T00:30:00Z"}`,
			want:   []any{"S1", int64(1000), 10.0, nil, nil, nil, at},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDecoder(t)
			if err := d.Append([]byte(tt.record)); err != nil {
				t.Fatalf("Append: %v", err)
			}
			if d.Len() != 1 {
				t.Errorf("Len() = %d, want 1", d.Len())
			}
			b := d.NewRecordBatch()
			defer b.Release()
			if !b.Schema().Equal(d.Schema()) {
				t.Errorf("batch schema %v, want %v", b.Schema(), d.Schema())
			}
			got := rows(t, b)
			if len(got) != 1 || !equalRow(got[0], tt.want) {
				t.Errorf("rows %v, want [%v]", got, tt.want)
			}
			if d.Len() != 0 {
				t.Errorf("Len() after NewRecordBatch = %d, want 0", d.Len())
			}
		})
	}
}

func TestDecodeReject(t *testing.T) {
	const fields = "station, count, level, open, risk, note, at"
	const badTime = `not a time: write RFC 3339 with an offset, like "2026-11-26T08:30:00+08:00", or milliseconds since 1970`
	tests := []struct {
		name   string
		record string
		want   string
	}{
		// The record as a whole.
		{"empty", ``, `at byte 0: a record must be a JSON object starting with '{'`},
		{"not an object", `["S1", 0]`, `at byte 0: a record must be a JSON object starting with '{'`},
		{"a string", `  "S1"`, `at byte 2: a record must be a JSON object starting with '{'`},
		{"unquoted field name", `{station:"S1"}`, `at byte 1: expected a field name in double quotes`},
		{"missing colon", `{"station" "S1"}`, `at byte 11: expected ':' after field name "station"`},
		{"missing comma", `{"station":"S1" "at":0}`, `at byte 16: expected ',' or '}' after a value`},
		{"trailing comma", `{"station":"S1","at":0,}`, `at byte 23: expected a field name in double quotes`},
		{"not closed", `{"station":"S1","at":0`, `at byte 22: expected ',' or '}' after a value`},
		{"trailing data", `{"station":"S1","at":0} {}`, `at byte 24: unexpected data after the end of the record`},
		{"two records", "{\"station\":\"S1\",\"at\":0}\n{\"station\":\"S2\",\"at\":0}", `at byte 24: unexpected data after the end of the record`},
		{"unterminated field name", `{"stat`, `at byte 1: string is not closed with '"'`},

		// One field.
		{"unknown field", `{"station":"S1","at":0,"speed":5}`, `field speed: unknown field; the feed city.test.readings has ` + fields},
		{"field names are case-sensitive", `{"Station":"S1","at":0}`, `field Station: unknown field; the feed city.test.readings has ` + fields},
		{"duplicate field", `{"station":"S1","at":0,"station":"S2"}`, `field station: appears twice in the record`},
		{"duplicate null field", `{"note":null,"station":"S1","note":"x","at":0}`, `field note: appears twice in the record`},
		{"missing required field", `{"station":"S1","count":3}`, `field at: required field is missing or null`},
		{"null required field", `{"station":null,"at":0}`, `field station: required field is missing or null`},
		{"empty object", `{}`, `field station: required field is missing or null`},
		{"string for a whole number", `{"station":"S1","count":"5","at":0}`, `field count: value "5": must be a whole number, not a string`},
		{"string for a number", `{"station":"S1","level":"1.5","at":0}`, `field level: value "1.5": must be a number, not a string`},
		{"number for a string", `{"station":42,"at":0}`, `field station: value 42: must be a string, not a number`},
		{"bool for a number", `{"station":"S1","count":true,"at":0}`, `field count: value true: must be a whole number, not true or false`},
		{"bool for a string", `{"station":false,"at":0}`, `field station: value false: must be a string, not true or false`},
		{"number for a bool", `{"station":"S1","open":1,"at":0}`, `field open: value 1: must be true or false, not a number`},
		{"string for a bool", `{"station":"S1","open":"true","at":0}`, `field open: value "true": must be true or false, not a string`},
		{"bool for a time", `{"station":"S1","at":true}`, `field at: value true: must be a time, not true or false`},
		{"fraction for a whole number", `{"station":"S1","count":1.5,"at":0}`, `field count: value 1.5: must be a whole number`},
		{"whole number too big for int64", `{"station":"S1","count":9223372036854775808,"at":0}`, `field count: value 9223372036854775808: must be a whole number`},
		{"number too big for float64", `{"station":"S1","level":1e999,"at":0}`, `field level: value 1e999: not a number`},
		{"a lone minus", `{"station":"S1","level":-,"at":0}`, `field level: value -: not a JSON number`},
		{"a leading zero", `{"station":"S1","count":007,"at":0}`, `field count: value 007: not a JSON number`},
		{"a leading plus", `{"station":"S1","level":+1,"at":0}`, `field level: value +: not a JSON value`},
		{"a fraction without digits", `{"station":"S1","level":1.,"at":0}`, `field level: value 1.: not a JSON number`},
		{"an exponent without digits", `{"station":"S1","level":1e,"at":0}`, `field level: value 1e: not a JSON number`},
		{"two minus signs", `{"station":"S1","level":1-2,"at":0}`, `field level: value 1-2: not a JSON number`},
		{"below the minimum", `{"station":"S1","count":-1,"at":0}`, `field count: value -1: below the minimum 0`},
		{"below a fractional minimum", `{"station":"S1","level":-5.51,"at":0}`, `field level: value -5.51: below the minimum -5.5`},
		{"above the maximum", `{"station":"S1","count":1001,"at":0}`, `field count: value 1001: above the maximum 1000`},
		{"above the maximum, written with an exponent", `{"station":"S1","level":1.05e1,"at":0}`, `field level: value 1.05e1: above the maximum 10`},
		{"not in the enum", `{"station":"S1","risk":"medium","at":0}`, `field risk: value "medium": not one of low, high`},
		{"enum is case-sensitive", `{"station":"S1","risk":"Low","at":0}`, `field risk: value "Low": not one of low, high`},
		{"nested object", `{"station":"S1","note":{"text":"x"},"at":0}`, `field note: value {: nested objects and lists are not supported; flatten the record`},
		{"nested list", `{"station":["S1"],"at":0}`, `field station: value [: nested objects and lists are not supported; flatten the record`},
		{"missing value", `{"station":"S1","note":,"at":0}`, `field note: value ,: not a JSON value`},
		{"time without an offset", `{"station":"S1","at":"2026-11-26T08:30:00"}`, `field at: value "2026-11-26T08:30:00": ` + badTime},
		{"time in another layout", `{"station":"S1","at":"26/11/2026 08:30"}`, `field at: value "26/11/2026 08:30": ` + badTime},
		{"time as fractional milliseconds", `{"station":"S1","at":1.5}`, `field at: value 1.5: must be a whole number`},
		{"unterminated string", `{"station":"S1`, `field station: string is not closed with '"'`},
		{"string ending in a backslash", `{"station":"S1\`, `field station: string is not closed with '"'`},
		{"control character in a string", "{\"station\":\"S\n1\",\"at\":0}", `field station: control character in a string; escape it`},
		{"tab in a string", "{\"station\":\"S\t1\",\"at\":0}", `field station: control character in a string; escape it`},
		{"unknown escape", `{"station":"S\x31","at":0}`, `field station: unknown escape \x in a string`},
		{"short \\u escape", `{"station":"S\u31","at":0}`, `field station: bad \u escape in a string`},
		{"bad low surrogate", `{"station":"\ud83d\uXYZW","at":0}`, `field station: bad \u escape in a string`},
		{"invalid UTF-8", "{\"station\":\"S\xff\",\"at\":0}", `field station: not valid UTF-8`},
		{"long value is shortened", `{"station":"S1","risk":"` + strings.Repeat("x", 100) + `","at":0}`, `field risk: value "` + strings.Repeat("x", 63) + `…: not one of low, high`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDecoder(t)
			err := d.Append([]byte(tt.record))
			if err == nil {
				t.Fatalf("Append(%q) accepted the record", tt.record)
			}
			var r *record.Reject
			if !errors.As(err, &r) {
				t.Fatalf("error is a %T, not a *Reject: %v", err, err)
			}
			if !errors.Is(err, record.ErrRejected) {
				t.Errorf("error does not match ErrRejected")
			}
			if err.Error() != tt.want {
				t.Errorf("Append(%q):\n got  %s\n want %s", tt.record, err, tt.want)
			}
			if r.Offset < 0 || r.Offset > len(tt.record) {
				t.Errorf("Offset %d is outside the record of %d bytes", r.Offset, len(tt.record))
			}
			if d.Len() != 0 {
				t.Errorf("Len() = %d after a reject, want 0", d.Len())
			}
			b := d.NewRecordBatch()
			defer b.Release()
			if b.NumRows() != 0 {
				t.Errorf("batch has %d rows after a reject", b.NumRows())
			}
		})
	}
}

func TestRejectLocatesTheProblem(t *testing.T) {
	tests := []struct {
		record string
		want   record.Reject
	}{
		{
			record: `{"station":"S1","speed":5,"at":0}`,
			want:   record.Reject{Field: "speed", Offset: 16, Reason: "unknown field; the feed city.test.readings has station, count, level, open, risk, note, at"},
		},
		{
			record: `{"station":"S1", "count": "five","at":0}`,
			want:   record.Reject{Field: "count", Value: `"five"`, Offset: 26, Reason: "must be a whole number, not a string"},
		},
		{
			record: `{"station":"S1","note":"a\qb","at":0}`,
			want:   record.Reject{Field: "note", Offset: 25, Reason: `unknown escape \q in a string`},
		},
		{
			record: `{"station":"S1","count":2000,"at":0}`,
			want:   record.Reject{Field: "count", Value: "2000", Reason: "above the maximum 1000"},
		},
	}
	for _, tt := range tests {
		d := newDecoder(t)
		var r *record.Reject
		if err := d.Append([]byte(tt.record)); !errors.As(err, &r) {
			t.Fatalf("Append(%q) = %v, want a *Reject", tt.record, err)
		}
		if *r != tt.want {
			t.Errorf("Append(%q) = %#v\nwant %#v", tt.record, *r, tt.want)
		}
	}
}

func TestRejectError(t *testing.T) {
	tests := []struct {
		r    record.Reject
		want string
	}{
		{record.Reject{Offset: 7, Reason: "broken"}, "at byte 7: broken"},
		{record.Reject{Field: "speed", Offset: 7, Reason: "broken"}, "field speed: broken"},
		{record.Reject{Field: "speed", Value: "-1", Offset: 7, Reason: "broken"}, "field speed: value -1: broken"},
	}
	for _, tt := range tests {
		if got := tt.r.Error(); got != tt.want {
			t.Errorf("%#v.Error() = %q, want %q", tt.r, got, tt.want)
		}
	}
}

func TestDecodeMixedBatch(t *testing.T) {
	d := newDecoder(t)
	records := []struct {
		json string
		ok   bool
	}{
		{`{"station":"S1","count":1,"at":1000}`, true},
		{`{"station":"S2","count":-1,"at":2000}`, false},
		{`{"station":"S3","level":2.5,"risk":"low","at":3000}`, true},
		{`{"station":"S4","note":"escaped \"quote\"","at":4000}`, true},
		{`{"station":"S5","open":"yes","at":5000}`, false},
		{`{"station":"S6","open":false,"note":null,"at":6000}`, true},
		{`{"station":"S7","count":3,"at":7000} trailing`, false},
		{`{"station":"S8","count":1000,"level":-5.5,"open":true,"risk":"high","note":"last","at":"1970-01-01T00:00:08Z"}`, true},
	}
	accepted := 0
	for _, r := range records {
		err := d.Append([]byte(r.json))
		if (err == nil) != r.ok {
			t.Fatalf("Append(%s) = %v, want ok %v", r.json, err, r.ok)
		}
		if err == nil {
			accepted++
		}
		if d.Len() != accepted {
			t.Fatalf("Len() = %d after %s, want %d", d.Len(), r.json, accepted)
		}
	}

	b := d.NewRecordBatch()
	defer b.Release()
	want := [][]any{
		{"S1", int64(1), nil, nil, nil, nil, time.UnixMilli(1000)},
		{"S3", nil, 2.5, nil, "low", nil, time.UnixMilli(3000)},
		{"S4", nil, nil, nil, nil, `escaped "quote"`, time.UnixMilli(4000)},
		{"S6", nil, nil, false, nil, nil, time.UnixMilli(6000)},
		{"S8", int64(1000), -5.5, true, "high", "last", time.UnixMilli(8000)},
	}
	got := rows(t, b)
	if len(got) != len(want) {
		t.Fatalf("batch has %d rows, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if !equalRow(got[i], want[i]) {
			t.Errorf("row %d = %v, want %v", i, got[i], want[i])
		}
	}
	for i, col := range b.Columns() {
		if col.Len() != len(want) {
			t.Errorf("column %d has %d values, want %d", i, col.Len(), len(want))
		}
	}
	if n := b.Column(colStation).NullN(); n != 0 {
		t.Errorf("station has %d nulls", n)
	}
	if n := b.Column(colNote).NullN(); n != 3 {
		t.Errorf("note has %d nulls, want 3", n)
	}

	// The decoder starts the next batch empty and keeps going.
	if d.Len() != 0 {
		t.Fatalf("Len() = %d after NewRecordBatch, want 0", d.Len())
	}
	if err := d.Append([]byte(`{"station":"S9","at":9000}`)); err != nil {
		t.Fatal(err)
	}
	b2 := d.NewRecordBatch()
	defer b2.Release()
	if got := rows(t, b2); len(got) != 1 || !equalRow(got[0], []any{"S9", nil, nil, nil, nil, nil, time.UnixMilli(9000)}) {
		t.Errorf("second batch %v", got)
	}
}

func TestDecodeBuiltinFeeds(t *testing.T) {
	c, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		feed, record string
	}{
		{"td.traffic.detectors", `{"detector_id":"AID01101","lane_id":"Fast Lane","direction":"South East","district":"YTM","speed":68.2,"occupancy":7.5,"volume":12,"speed_sd":5.1,"valid":true,"period_from":"2026-11-26T08:30:00+08:00","period_to":"2026-11-26T08:30:30+08:00"}`},
		{"hko.weather.temperature", `{"station":"King's Park","district":"YTM","temperature":18.5,"record_time":"2026-11-26T08:00:00+08:00"}`},
		{"epd.aqhi.stations", `{"station":"Central/Western","station_type":"General","aqhi":11,"aqhi_10plus":true,"risk":"Serious","publish_time":1795653000000}`},
		{"hko.weather.warnings", `{"family":"WRAIN","code":"WRAINA","action":"ISSUE","update_time":"2026-11-26T08:00:00+08:00"}`},
	}
	for _, tt := range tests {
		d := record.NewDecoder(c.Feed(tt.feed))
		if err := d.Append([]byte(tt.record)); err != nil {
			t.Errorf("%s: %v", tt.feed, err)
		}
		b := d.NewRecordBatch()
		if b.NumRows() != 1 || b.Schema().Metadata().Values()[0] != tt.feed {
			t.Errorf("%s: %d rows, metadata %v", tt.feed, b.NumRows(), b.Schema().Metadata())
		}
		b.Release()
		d.Release()
	}
}

// TestTimesParsedOncePerText: one decoder sees the same time text again and
// again (records of one snapshot), a new one, a broken one after a good one,
// and the old text back; each record gets its own time, the broken one is
// rejected.
func TestTimesParsedOncePerText(t *testing.T) {
	d := newDecoder(t)
	tests := []struct {
		at   string
		want time.Time // zero: rejected
	}{
		{"2026-11-26T08:00:00+08:00", time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)},
		{"2026-11-26T08:00:00+08:00", time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)},
		{"2026-11-26T08:00:30+08:00", time.Date(2026, 11, 26, 0, 0, 30, 0, time.UTC)},
		{"2026-11-26T08:00:30+08:0X", time.Time{}},
		{"2026-11-26T08:00:30+08:00", time.Date(2026, 11, 26, 0, 0, 30, 0, time.UTC)},
		{"2026-11-26T08:00:00Z", time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)},
		{"2026-11-26T08:00:00+08:00", time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)},
	}
	var want []time.Time
	for i, tt := range tests {
		err := d.Append([]byte(`{"station":"S","at":"` + tt.at + `"}`))
		if tt.want.IsZero() {
			if err == nil || !strings.Contains(err.Error(), "not a time") {
				t.Errorf("record %d (%s): err = %v, want a rejected time", i, tt.at, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("record %d (%s): %v", i, tt.at, err)
		}
		want = append(want, tt.want)
	}
	b := d.NewRecordBatch()
	defer b.Release()
	got := rows(t, b)
	for i := range want {
		if at := got[i][colAt].(time.Time); !at.Equal(want[i]) {
			t.Errorf("row %d at = %v, want %v", i, at, want[i])
		}
	}
}
