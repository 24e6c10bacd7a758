//go:build integration

package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/internal/testenv"
)

// openWithReadings opens a fresh database with the test.readings table
// holding n rows made by ClickHouse itself: station S<i%3>, value i/2 (NULL
// when i%5 == 4), count i, ok i%2, at 2026-11-26T00:00:00Z + i seconds.
func openWithReadings(t *testing.T, n int) (*store.Store, *catalog.Feed) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := testenv.Store(t)
	feed := testenv.FeedTable(t, st, specV1)
	if n > 0 {
		q := fmt.Sprintf("INSERT INTO %s.test_readings (station, value, count, ok, at, _topic, _partition, _offset, _ingested_at) "+
			"SELECT concat('S', toString(number %% 3)), if(number %% 5 = 4, NULL, number / 2), toInt64(number), toUInt8(number %% 2), "+
			"toDateTime(1795651200 + number), 'test.readings', toInt32(0), toInt64(number), now() FROM system.numbers LIMIT %d", st.Database(), n)
		if err := st.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	return st, feed
}

const formatSQL = "SELECT station, value, count, ok, at FROM test_readings ORDER BY count LIMIT 5"

func TestQueryJSON(t *testing.T) {
	st, _ := openWithReadings(t, 10)
	var buf bytes.Buffer
	stats, err := st.Query(context.Background(), formatSQL, store.Limits{MaxExecutionTime: 10 * time.Second}, store.FormatJSON, &buf)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Meta []struct{ Name, Type string }
		Data []map[string]any
		Rows int
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	if stats.Rows != 5 || got.Rows != 5 || len(got.Data) != 5 || stats.Written != int64(buf.Len()) {
		t.Fatalf("stats %+v, body %s", stats, buf.String())
	}
	wantMeta := "station:String value:Nullable(Float64) count:Int64 ok:Nullable(UInt8) at:DateTime"
	var meta []string
	for _, m := range got.Meta {
		meta = append(meta, m.Name+":"+m.Type)
	}
	if strings.Join(meta, " ") != wantMeta {
		t.Errorf("meta %v, want %s", meta, wantMeta)
	}
	row1, row4 := got.Data[1], got.Data[4]
	if row1["station"] != "S1" || row1["value"] != 0.5 || row1["count"] != 1.0 || row1["ok"] != 1.0 || row1["at"] != "2026-11-26T00:00:01Z" {
		t.Errorf("row 1: %v", row1)
	}
	if row4["value"] != nil {
		t.Errorf("row 4 value %v, want null", row4["value"])
	}
}

func TestQueryCSVAndNDJSON(t *testing.T) {
	st, _ := openWithReadings(t, 10)
	var csv, nd bytes.Buffer
	if _, err := st.Query(context.Background(), formatSQL, store.Limits{}, store.FormatCSV, &csv); err != nil {
		t.Fatal(err)
	}
	want := "station,value,count,ok,at\r\n" +
		"S0,0,0,0,2026-11-26T00:00:00Z\r\n" +
		"S1,0.5,1,1,2026-11-26T00:00:01Z\r\n" +
		"S2,1,2,0,2026-11-26T00:00:02Z\r\n" +
		"S0,1.5,3,1,2026-11-26T00:00:03Z\r\n" +
		"S1,,4,0,2026-11-26T00:00:04Z\r\n"
	if csv.String() != want {
		t.Errorf("csv\n%q\nwant\n%q", csv.String(), want)
	}
	if _, err := st.Query(context.Background(), formatSQL, store.Limits{}, store.FormatNDJSON, &nd); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(nd.String()), "\n")
	if len(lines) != 5 || lines[4] != `{"station":"S1","value":null,"count":4,"ok":0,"at":"2026-11-26T00:00:04Z"}` {
		t.Errorf("ndjson %q", lines)
	}
}

func TestQueryArrowRoundTrip(t *testing.T) {
	st, _ := openWithReadings(t, 20000) // more than one Arrow batch
	var buf bytes.Buffer
	stats, err := st.Query(context.Background(), "SELECT station, value, count, ok, at, toDate(at) AS day FROM test_readings ORDER BY count",
		store.Limits{}, store.FormatArrow, &buf)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ipc.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	schema := r.Schema()
	wantTypes := []arrow.DataType{arrow.BinaryTypes.String, arrow.PrimitiveTypes.Float64, arrow.PrimitiveTypes.Int64,
		arrow.PrimitiveTypes.Uint8, &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, arrow.FixedWidthTypes.Date32}
	for i, f := range schema.Fields() {
		if !arrow.TypeEqual(f.Type, wantTypes[i]) {
			t.Errorf("column %s is %s, want %s", f.Name, f.Type, wantTypes[i])
		}
	}
	if md, _ := schema.Field(1).Metadata.GetValue(store.ArrowMetaType); md != "Nullable(Float64)" {
		t.Errorf("value's ClickHouse type %q", md)
	}
	rows, batches := 0, 0
	for r.Next() {
		rec := r.RecordBatch()
		batches++
		station := rec.Column(0).(*array.String)
		value := rec.Column(1).(*array.Float64)
		count := rec.Column(2).(*array.Int64)
		at := rec.Column(4).(*array.Timestamp)
		for i := 0; i < int(rec.NumRows()); i++ {
			n := rows + i
			if count.Value(i) != int64(n) || station.Value(i) != fmt.Sprintf("S%d", n%3) ||
				int64(at.Value(i)) != (1795651200+int64(n))*1000 {
				t.Fatalf("row %d: %s %d %d", n, station.Value(i), count.Value(i), at.Value(i))
			}
			if (n%5 == 4) != value.IsNull(i) || (!value.IsNull(i) && value.Value(i) != float64(n)/2) {
				t.Fatalf("row %d: value %v null=%v", n, value.Value(i), value.IsNull(i))
			}
		}
		rows += int(rec.NumRows())
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if rows != 20000 || stats.Rows != 20000 || batches < 2 {
		t.Errorf("%d rows in %d batches, stats %+v", rows, batches, stats)
	}
}

func TestQueryLimitsAndReadonly(t *testing.T) {
	st, feed := openWithReadings(t, 1000)
	ctx := context.Background()
	var buf bytes.Buffer
	for _, tc := range []struct {
		name string
		sql  string
		lim  store.Limits
		code int32
	}{
		{"max_result_rows", "SELECT * FROM test_readings", store.Limits{MaxResultRows: 10}, 396},
		{"max_rows_to_read", "SELECT count() FROM test_readings WHERE value > 1", store.Limits{MaxRowsToRead: 10}, 158},
		{"max_execution_time", "SELECT max(number) FROM system.numbers", store.Limits{MaxExecutionTime: time.Second}, 159},
		{"readonly insert", "INSERT INTO test_readings (station, count, at) SELECT 'X', 1, now()", store.Limits{}, 164},
		{"readonly ddl", "CREATE TABLE x (a Int8) ENGINE = Memory", store.Limits{}, 164},
		{"readonly drop", "DROP TABLE test_readings", store.Limits{}, 164},
		{"readonly set", "SELECT 1 SETTINGS readonly = 0", store.Limits{}, 164},
		{"readonly table function", "SELECT * FROM numbers(3)", store.Limits{}, 164},
		{"unknown column", "SELECT nope FROM test_readings", store.Limits{}, 47},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf.Reset()
			_, err := st.Query(ctx, tc.sql, tc.lim, store.FormatCSV, &buf)
			var qe *store.QueryError
			if !errors.As(err, &qe) || qe.Code != tc.code {
				t.Fatalf("err %v, want ClickHouse error %d", err, tc.code)
			}
			if buf.Len() != 0 {
				t.Errorf("%d bytes written before the error", buf.Len())
			}
		})
	}
	// readonly=1 is per query: the same pool still writes for the processors.
	if err := st.Exec(ctx, "INSERT INTO "+st.Database()+".test_readings (station, count, at, _topic, _partition, _offset, _ingested_at) SELECT 'W', 1, now(), 't', toInt32(0), toInt64(1), now()"); err != nil {
		t.Fatalf("a write after read-only queries failed: %v", err)
	}
	// QueryFeed streams a time range of chosen columns.
	buf.Reset()
	from := time.Date(2026, 11, 26, 0, 0, 10, 0, time.UTC)
	stats, err := st.QueryFeed(ctx, feed, []string{"station", "at"}, from, from.Add(5*time.Second), 0, store.Limits{}, store.FormatCSV, &buf)
	if err != nil || stats.Rows != 5 || !strings.HasPrefix(buf.String(), "station,at\r\n") {
		t.Errorf("QueryFeed: %v %+v %q", err, stats, buf.String())
	}
}

func TestAuditLog(t *testing.T) {
	st, _ := openWithReadings(t, 0)
	ctx := context.Background()
	a, err := st.OpenAuditLog(ctx, store.AuditConfig{FlushEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 26, 8, 0, 0, 123e6, time.UTC)
	a.Record(store.AuditEntry{At: at, Department: "TD", TokenID: "tok_1", Client: "10.0.0.1", Action: "query", Route: "POST /api/v1/query",
		Detail: "SELECT 1", Status: 200, Rows: 1, Bytes: 42, Duration: 1500 * time.Millisecond})
	a.Record(store.AuditEntry{At: at.Add(time.Second), Client: "10.0.0.2", Action: "download", Feed: "td.traffic.detectors", Status: 200, Rows: 7})
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var (
		n             uint64
		dept, detail  string
		ms            uint64
		dur           uint32
		status        uint16
		downloadRows  uint64
		downloadFeeds string
	)
	// The entries are in the restricted database, none in the open one.
	if db := st.Layout().AuditDatabase(); a.Database() != db || db != store.RestrictedDatabase(st.Database()) {
		t.Fatalf("audit log in %s, layout says %s; want %s", a.Database(), db, store.RestrictedDatabase(st.Database()))
	}
	var inOpen uint64
	if err := st.QueryRow(ctx, []any{&inOpen}, "SELECT count() FROM system.tables WHERE database = ? AND name = ?", st.Database(), store.AuditTable); err != nil || inOpen != 0 {
		t.Errorf("%d audit tables in the open database %s (%v), want none", inOpen, st.Database(), err)
	}
	q := fmt.Sprintf("SELECT count(), any(department), any(detail), min(at_ms), max(duration_ms), any(status) FROM %s.%s WHERE action = 'query'", a.Database(), store.AuditTable)
	if err := st.QueryRow(ctx, []any{&n, &dept, &detail, &ms, &dur, &status}, q); err != nil {
		t.Fatal(err)
	}
	if n != 1 || dept != "TD" || detail != "SELECT 1" || ms != uint64(at.UnixMilli()) || dur != 1500 || status != 200 {
		t.Errorf("query entry: %d %q %q %d %d %d", n, dept, detail, ms, dur, status)
	}
	q = fmt.Sprintf("SELECT sum(rows), any(feed) FROM %s.%s WHERE action = 'download'", a.Database(), store.AuditTable)
	if err := st.QueryRow(ctx, []any{&downloadRows, &downloadFeeds}, q); err != nil {
		t.Fatal(err)
	}
	if downloadRows != 7 || downloadFeeds != "td.traffic.detectors" {
		t.Errorf("download entry: %d %q", downloadRows, downloadFeeds)
	}
	if full, failed := a.Dropped(); full != 0 || failed != 0 {
		t.Errorf("dropped %d, failed %d", full, failed)
	}
}

// The highway_reader user of ops/clickhouse/start cannot write, whatever the
// statement: ClickHouse's own guard behind the API's.
func TestReaderUserCannotWrite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := store.Open(ctx, testenv.ClickHouse(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	db := testenv.Name("reader")
	if err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	defer admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
	if err := admin.Exec(ctx, "CREATE TABLE "+db+".t (x UInt8) ENGINE = Memory"); err != nil {
		t.Fatal(err)
	}
	dsn := strings.Replace(testenv.ClickHouse(t), "clickhouse://", "clickhouse://highway_reader@", 1)
	reader, err := store.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatalf("connecting as highway_reader (is ops/clickhouse/start's users.xml in use?): %v", err)
	}
	defer reader.Close()
	for _, sql := range []string{"INSERT INTO " + db + ".t (x) VALUES (1)", "DROP TABLE " + db + ".t", "CREATE TABLE " + db + ".u (x UInt8) ENGINE = Memory"} {
		if err := reader.Exec(ctx, sql); err == nil || !strings.Contains(err.Error(), "readonly") {
			t.Errorf("%s as highway_reader: err = %v, want a readonly refusal", sql, err)
		}
	}
	var n uint64
	if err := reader.QueryRow(ctx, []any{&n}, "SELECT count() FROM "+db+".t"); err != nil || n != 0 {
		t.Errorf("reading as highway_reader: %d, %v", n, err)
	}
}
