//go:build integration

package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/cityhighway/highway/highway/store"
)

// typesSQL has a column of each kind of type ClickHouse 18.16 can return,
// over two rows (number 0 and 1) so that nulls and non-nulls both show.
const typesSQL = `SELECT
	toInt8(-3) AS i8, toUInt64(18446744073709551615) AS u64, toInt64(-9223372036854775808) AS i64,
	toFloat32(0.1) AS f32, if(number = 0, nan, 1e-7) AS f64,
	'quote"comma,' AS s, toFixedString('ab', 3) AS fs,
	CAST(if(number = 0, 'a', 'b') AS Enum8('a' = 1, 'b' = 2)) AS e,
	toDate('2026-11-26') AS day, toDateTime('2026-01-01 00:00:00', 'Asia/Hong_Kong') AS hk,
	toDecimal64(1.5, 2) AS d, toDecimal128(-0.05, 3) AS d128,
	toUUID('61f0c404-5cb3-11e7-907b-a6006ad3dba0') AS u,
	if(number = 0, NULL, number) AS n, NULL AS nul,
	toLowCardinality('lc') AS lc, toLowCardinality(if(number = 0, NULL, 'x')) AS lcn,
	[1, 2] AS arr, [NULL, 'x'] AS an, (1, 'a') AS tup
FROM system.numbers LIMIT 2`

// TestQueryTypes reads a column of each type through the native reader and
// checks what each format makes of it.
func TestQueryTypes(t *testing.T) {
	st, _ := openWithReadings(t, 0)
	ctx := context.Background()
	var nd, csv, arw bytes.Buffer
	for _, out := range []struct {
		f store.Format
		w *bytes.Buffer
	}{{store.FormatNDJSON, &nd}, {store.FormatCSV, &csv}, {store.FormatArrow, &arw}} {
		stats, err := st.Query(ctx, typesSQL, store.Limits{}, out.f, out.w)
		if err != nil || stats.Rows != 2 || stats.Columns != 20 {
			t.Fatalf("%s: %+v %v", out.f, stats, err)
		}
	}
	lines := strings.Split(strings.TrimSuffix(nd.String(), "\n"), "\n")
	want := []string{
		`{"i8":-3,"u64":18446744073709551615,"i64":-9223372036854775808,"f32":0.1,"f64":null,"s":"quote\"comma,","fs":"ab\u0000",` +
			`"e":"a","day":"2026-11-26","hk":"2025-12-31T16:00:00Z","d":"1.50","d128":"-0.050","u":"61f0c404-5cb3-11e7-907b-a6006ad3dba0",` +
			`"n":null,"nul":null,"lc":"lc","lcn":null,"arr":[1,2],"an":[null,"x"],"tup":[1,"a"]}`,
		`{"i8":-3,"u64":18446744073709551615,"i64":-9223372036854775808,"f32":0.1,"f64":1e-07,"s":"quote\"comma,","fs":"ab\u0000",` +
			`"e":"b","day":"2026-11-26","hk":"2025-12-31T16:00:00Z","d":"1.50","d128":"-0.050","u":"61f0c404-5cb3-11e7-907b-a6006ad3dba0",` +
			`"n":1,"nul":null,"lc":"lc","lcn":"x","arr":[1,2],"an":[null,"x"],"tup":[1,"a"]}`,
	}
	for i := range want {
		if i >= len(lines) || lines[i] != want[i] {
			t.Errorf("ndjson row %d\n got %s\nwant %s", i, lines, want[i])
		}
		if i < len(lines) && !json.Valid([]byte(lines[i])) {
			t.Errorf("ndjson row %d is not JSON", i)
		}
	}
	wantCSV := "i8,u64,i64,f32,f64,s,fs,e,day,hk,d,d128,u,n,nul,lc,lcn,arr,an,tup\r\n" +
		"-3,18446744073709551615,-9223372036854775808,0.1,NaN,\"quote\"\"comma,\",ab\x00,a,2026-11-26,2025-12-31T16:00:00Z,1.50,-0.050,61f0c404-5cb3-11e7-907b-a6006ad3dba0,,,lc,,\"[1,2]\",\"[null,\"\"x\"\"]\",\"[1,\"\"a\"\"]\"\r\n" +
		"-3,18446744073709551615,-9223372036854775808,0.1,1e-07,\"quote\"\"comma,\",ab\x00,b,2026-11-26,2025-12-31T16:00:00Z,1.50,-0.050,61f0c404-5cb3-11e7-907b-a6006ad3dba0,1,,lc,x,\"[1,2]\",\"[null,\"\"x\"\"]\",\"[1,\"\"a\"\"]\"\r\n"
	if csv.String() != wantCSV {
		t.Errorf("csv\n got %q\nwant %q", csv.String(), wantCSV)
	}

	r, err := ipc.NewReader(&arw)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	wantTypes := map[string]arrow.DataType{
		"i8": arrow.PrimitiveTypes.Int8, "u64": arrow.PrimitiveTypes.Uint64, "f32": arrow.PrimitiveTypes.Float32,
		"s": arrow.BinaryTypes.String, "e": arrow.BinaryTypes.String, "day": arrow.FixedWidthTypes.Date32,
		"hk": &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, "d": arrow.BinaryTypes.String,
		"n": arrow.PrimitiveTypes.Uint64, "lc": arrow.BinaryTypes.String, "lcn": arrow.BinaryTypes.String, "arr": arrow.BinaryTypes.String,
	}
	for _, f := range r.Schema().Fields() {
		if w, ok := wantTypes[f.Name]; ok && !arrow.TypeEqual(f.Type, w) {
			t.Errorf("arrow column %s is %s, want %s", f.Name, f.Type, w)
		}
	}
	if !r.Next() {
		t.Fatalf("no Arrow batch: %v", r.Err())
	}
	rec := r.RecordBatch()
	col := func(name string) arrow.Array {
		idx := rec.Schema().FieldIndices(name)
		if len(idx) != 1 {
			t.Fatalf("no column %s", name)
		}
		return rec.Column(idx[0])
	}
	if v := col("hk").(*array.Timestamp).Value(0); int64(v) != 1767196800000 {
		t.Errorf("hk = %d ms", v)
	}
	if v := col("day").(*array.Date32).Value(0); v != arrow.Date32(1795651200/86400) {
		t.Errorf("day = %d", v)
	}
	n, lcn := col("n").(*array.Uint64), col("lcn").(*array.String)
	if !n.IsNull(0) || n.Value(1) != 1 || !lcn.IsNull(0) || lcn.Value(1) != "x" || col("nul").NullN() != 2 {
		t.Errorf("nulls: n %v, lcn %v, nul %v", n, lcn, col("nul"))
	}
	if s := col("d").(*array.String).Value(0); s != "1.50" {
		t.Errorf("d = %q", s)
	}
	if s := col("an").(*array.String).Value(1); s != `[null,"x"]` {
		t.Errorf("an = %q", s)
	}
}

// TestQueryFailsLate: a query that fails after its first block went out
// returns ClickHouse's error, and each format ends its result so that it
// cannot pass for a complete one.
func TestQueryFailsLate(t *testing.T) {
	st, _ := openWithReadings(t, 0)
	// The first block (65536 rows) is within max_result_rows; the second
	// is not, so ClickHouse fails the query with its rows half sent.
	const sql = "SELECT number, toString(number) AS s FROM system.numbers LIMIT 200000"
	lim := store.Limits{MaxResultRows: 100000}
	for _, tc := range []struct {
		f     store.Format
		check func(t *testing.T, body []byte)
	}{
		{store.FormatJSON, func(t *testing.T, body []byte) {
			var got struct {
				Rows  int
				Error string
			}
			if err := json.Unmarshal(body, &got); err != nil || got.Rows == 0 || !strings.Contains(got.Error, "396") {
				t.Errorf("json: %v, rows %d, error %q", err, got.Rows, got.Error)
			}
		}},
		{store.FormatNDJSON, func(t *testing.T, body []byte) {
			lines := bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n"))
			var last struct{ Error string }
			if err := json.Unmarshal(lines[len(lines)-1], &last); err != nil || len(lines) < 2 || !strings.Contains(last.Error, "396") {
				t.Errorf("ndjson: last line %s (%v)", lines[len(lines)-1], err)
			}
		}},
		{store.FormatCSV, func(t *testing.T, body []byte) {
			if !bytes.HasPrefix(body, []byte("number,s\r\n0,0\r\n")) || !bytes.HasSuffix(body, []byte("\r\n")) {
				t.Errorf("csv: %q...%q", body[:min(len(body), 40)], body[max(0, len(body)-40):])
			}
		}},
		{store.FormatArrow, func(t *testing.T, body []byte) {
			// The batches so far, and no end-of-stream marker.
			if bytes.HasSuffix(body, []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}) {
				t.Error("arrow: the stream ends with its end-of-stream marker")
			}
			r, err := ipc.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Release()
			if !r.Next() {
				t.Errorf("arrow: no batch before the failure: %v", r.Err())
			}
		}},
	} {
		t.Run(string(tc.f), func(t *testing.T) {
			var buf bytes.Buffer
			stats, err := st.Query(context.Background(), sql, lim, tc.f, &buf)
			var qe *store.QueryError
			if !errors.As(err, &qe) || qe.Code != 396 {
				t.Fatalf("err %v, want ClickHouse error 396", err)
			}
			if stats.Rows == 0 || stats.Written != int64(buf.Len()) || buf.Len() == 0 {
				t.Fatalf("stats %+v, %d bytes: the failure came before any rows (the test needs it later)", stats, buf.Len())
			}
			tc.check(t, buf.Bytes())
		})
	}
}

// TestQueryCancel: cancelling the context stops a long query and leaves
// the store usable.
func TestQueryCancel(t *testing.T) {
	st, _ := openWithReadings(t, 10)
	ctx, cancel := context.WithCancel(context.Background())
	w := &cancelAfter{n: 1 << 20, cancel: cancel}
	_, err := st.Query(ctx, "SELECT number FROM system.numbers", store.Limits{}, store.FormatCSV, w)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	var buf bytes.Buffer
	if _, err := st.Query(context.Background(), formatSQL, store.Limits{}, store.FormatCSV, &buf); err != nil || strings.Count(buf.String(), "\n") != 6 {
		t.Fatalf("after a cancelled query: %v %q", err, buf.String())
	}
}

// cancelAfter cancels once n bytes were written to it.
type cancelAfter struct {
	n      int
	cancel func()
}

func (c *cancelAfter) Write(p []byte) (int, error) {
	if c.n -= len(p); c.n <= 0 {
		c.cancel()
	}
	return len(p), nil
}
