//go:build integration

package store_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/record"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/internal/testenv"
)

const specAllTypes = `
kind: feed
name: test.alltypes%s
department: TEST
fields:
  - {name: id, type: string, required: true}
  - {name: note, type: string}
  - {name: n, type: int64}
  - {name: m, type: int64, required: true}
  - {name: x, type: float64}
  - {name: y, type: float64, required: true}
  - {name: flag, type: bool}
  - {name: sure, type: bool, required: true}
  - {name: seen, type: time}
  - {name: at, type: time, required: true}
key: [id]
event_time: at
interval: 1m
retention: 30d
`

// TestNativeInsertMatchesClickhouseGo inserts one batch with every field
// type, nulls in every optional one, escapes and non-ASCII text, and full
// provenance twice: with Insert (highway's native encoder) and through
// clickhouse-go (PrepareColumns + InsertColumns); both tables must read back
// the same, value for value.
func TestNativeInsertMatchesClickhouseGo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := testenv.Store(t)
	native, viaGo := testenv.Feed(t, strings.Replace(specAllTypes, "%s", "native", 1)), testenv.Feed(t, strings.Replace(specAllTypes, "%s", "go", 1))
	for _, f := range []string{native.Table(), viaGo.Table()} {
		_ = st.Exec(ctx, "DROP TABLE IF EXISTS "+f)
	}
	records := []string{
		`{"id":"a","note":"plain","n":-7,"m":9223372036854775807,"x":-0.5,"y":1e300,"flag":true,"sure":false,"seen":"2026-11-26T08:00:00+08:00","at":"2026-11-26T08:00:00.999+08:00"}`,
		`{"id":"b\"\\\u00e9\ud83d\ude97 東涌","note":null,"n":null,"m":-1,"x":null,"y":0,"flag":null,"sure":true,"seen":null,"at":1795651260000}`,
		`{"id":"","m":0,"y":-2.25,"flag":false,"sure":true,"at":"1970-01-01T00:00:00Z"}`,
	}
	prov := store.Provenance{Topic: "test.alltypes", Partitions: []int32{0, 1, 1}, Offsets: []int64{5, 6, 7},
		IngestedAt: time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC),
		Sources:    []string{"https://example.org/a?b=c", "", "ünïcode"}, ETags: []string{`"abc"`, "", "W/x"},
		FetchedAt: []int64{1795651200, 0, 1}, SchemaVersions: []uint32{1, 2, 3}}
	for _, feed := range []*catalog.Feed{native, viaGo} {
		if err := st.EnsureFeedTable(ctx, feed); err != nil {
			t.Fatal(err)
		}
		dec := record.NewDecoder(feed)
		for _, r := range records {
			if err := dec.Append([]byte(r)); err != nil {
				t.Fatalf("%s: %v", r, err)
			}
		}
		rec := dec.NewRecordBatch()
		var err error
		if feed == native {
			err = st.Insert(ctx, feed, rec, prov)
		} else {
			var cols *store.Columns
			if cols, err = store.PrepareColumns(feed, rec, prov); err == nil {
				err = st.InsertColumns(ctx, feed, cols)
			}
		}
		rec.Release()
		dec.Release()
		if err != nil {
			t.Fatalf("inserting into %s: %v", feed.Table(), err)
		}
	}
	read := func(table string) string {
		var buf bytes.Buffer
		sql := "SELECT id, note, n, m, x, y, flag, sure, toUnixTimestamp(seen), toUnixTimestamp(at), _topic, _partition, _offset," +
			" toUnixTimestamp(_ingested_at), _source, _etag, toUnixTimestamp(_fetched_at), _schema_version FROM " + table + " ORDER BY _offset"
		if _, err := st.Query(ctx, sql, store.Limits{}, store.FormatNDJSON, &buf); err != nil {
			t.Fatalf("reading %s: %v", table, err)
		}
		return buf.String()
	}
	got, want := read(native.Table()), read(viaGo.Table())
	if got != want {
		t.Fatalf("native insert reads back\n%s\nclickhouse-go's\n%s", got, want)
	}
	if n := strings.Count(got, "\n"); n != len(records) {
		t.Fatalf("%d rows read back, want %d:\n%s", n, len(records), got)
	}
	for _, s := range []string{`"note":null`, `東涌`, `"m":"9223372036854775807"`, `"_source":"ünïcode"`} {
		if !strings.Contains(got, s) && !strings.Contains(got, strings.ReplaceAll(s, `"9223372036854775807"`, `9223372036854775807`)) {
			t.Errorf("rows lack %s:\n%s", s, got)
		}
	}
}

// TestNativeInsertRefusesATableChangedByHand: when a column's type is not
// what highway's DDL made, the insert fails saying which column, and
// nothing is written.
func TestNativeInsertRefusesATableChangedByHand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := testenv.Store(t)
	feed := testenv.Feed(t, strings.Replace(specAllTypes, "%s", "byhand", 1))
	_ = st.Exec(ctx, "DROP TABLE IF EXISTS "+feed.Table())
	if err := st.EnsureFeedTable(ctx, feed); err != nil {
		t.Fatal(err)
	}
	alterByHand(ctx, t, st, st.Layout().FeedDatabase(feed), feed.Table(), "MODIFY COLUMN y Float32")
	dec := record.NewDecoder(feed)
	defer dec.Release()
	if err := dec.Append([]byte(`{"id":"a","m":1,"y":2,"sure":true,"at":0}`)); err != nil {
		t.Fatal(err)
	}
	rec := dec.NewRecordBatch()
	defer rec.Release()
	err := st.Insert(ctx, feed, rec, store.Provenance{Topic: "t", Partitions: []int32{0}, Offsets: []int64{0}, IngestedAt: time.Now()})
	if err == nil || !strings.Contains(err.Error(), "y Float32, highway sends y Float64") {
		t.Fatalf("Insert into a table whose y is Float32: err = %v, want one naming the column and both types", err)
	}
	var rows uint64
	if err := st.QueryRow(ctx, []any{&rows}, "SELECT count() FROM "+feed.Table()); err != nil || rows != 0 {
		t.Fatalf("count() = %d, %v; want 0 rows", rows, err)
	}
	// The connection that refused goes back usable or is dropped: the next
	// insert into a good table works.
	good := testenv.Feed(t, strings.Replace(specAllTypes, "%s", "good", 1))
	_ = st.Exec(ctx, "DROP TABLE IF EXISTS "+good.Table())
	if err := st.EnsureFeedTable(ctx, good); err != nil {
		t.Fatal(err)
	}
	dec2 := record.NewDecoder(good)
	defer dec2.Release()
	if err := dec2.Append([]byte(`{"id":"a","m":1,"y":2,"sure":true,"at":0}`)); err != nil {
		t.Fatal(err)
	}
	rec2 := dec2.NewRecordBatch()
	defer rec2.Release()
	if err := st.Insert(ctx, good, rec2, store.Provenance{Topic: "t", Partitions: []int32{0}, Offsets: []int64{0}, IngestedAt: time.Now()}); err != nil {
		t.Fatalf("insert after a refused one: %v", err)
	}
}
