package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/apache/arrow-go/v18/arrow"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/record"
)

const insertSpec = `
kind: feed
name: test.readings
department: TEST
version: 3
fields:
  - {name: station, type: string, required: true}
  - {name: value, type: float64}
  - {name: count, type: int64}
  - {name: ok, type: bool}
  - {name: note, type: string}
  - {name: at, type: time, required: true}
key: [station]
event_time: at
interval: 1m
`

func insertFeed(t *testing.T) *catalog.Feed {
	t.Helper()
	c, err := catalog.Parse("test.yaml", []byte(insertSpec))
	if err != nil {
		t.Fatal(err)
	}
	return c.Feeds()[0]
}

// insertBatch decodes records of insertSpec into a batch with its
// provenance, offsets from 100.
func insertBatch(t *testing.T, feed *catalog.Feed, recs ...string) (arrow.RecordBatch, Provenance) {
	t.Helper()
	dec := record.NewDecoder(feed)
	defer dec.Release()
	prov := Provenance{Topic: feed.Topic(), IngestedAt: time.Unix(1795651300, 0)}
	for i, r := range recs {
		if err := dec.Append([]byte(r)); err != nil {
			t.Fatal(err)
		}
		prov.Partitions = append(prov.Partitions, int32(i%2))
		prov.Offsets = append(prov.Offsets, 100+int64(i))
	}
	rec := dec.NewRecordBatch()
	t.Cleanup(rec.Release)
	return rec, prov
}

var insertRecords = []string{
	`{"station":"S1","value":1.5,"count":7,"ok":true,"note":"a,\"b\"","at":"2026-10-31T23:59:59Z"}`,
	`{"station":"S2","at":"2026-11-01T00:00:00.250Z"}`,
	`{"station":"S3","value":-2,"count":-1,"ok":false,"note":"","at":"2026-11-01T00:00:01Z"}`,
}

// insertServer is a fake server's side of inserts: it answers an INSERT
// with the table's columns (names and types, no rows), reads the block the
// client sends with ch-go's decoder, and keeps each block's rows as text.
type insertServer struct {
	names, types []string
	// fail, when set, is the exception the server answers the data with.
	fail string
	mu   sync.Mutex
	got  [][]string // per insert, a row per line: name=value ...
}

func (s *insertServer) serve(x *fakeExchange) {
	if !strings.HasPrefix(x.Query.Body, "INSERT INTO ") {
		x.exception(62, "not an insert: "+x.Query.Body)
		return
	}
	header := make([]proto.InputColumn, len(s.names))
	for i := range s.names {
		var c proto.ColAuto
		if err := c.Infer(proto.ColumnType(s.types[i])); err != nil {
			panic(err)
		}
		header[i] = proto.InputColumn{Name: s.names[i], Data: c}
	}
	x.data(header...)
	_ = x.flush()
	var res proto.Results
	b, err := x.readData(res.Auto())
	if err != nil {
		x.exception(33, "reading the block: "+err.Error())
		return
	}
	var rows []string
	for i := range b.Rows {
		var line []string
		for _, c := range res {
			line = append(line, fmt.Sprintf("%s=%v", c.Name, rowOf(c.Data, i)))
		}
		rows = append(rows, strings.Join(line, " "))
	}
	if _, err := x.readData(nil); err != nil { // the end of the data
		x.exception(33, err.Error())
		return
	}
	if s.fail != "" {
		x.exception(241, s.fail)
		return
	}
	s.mu.Lock()
	s.got = append(s.got, rows)
	s.mu.Unlock()
	x.chatter()
	x.end()
}

func (s *insertServer) inserts() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]string(nil), s.got...)
}

// rowOf is row i of a column ch-go decoded, through its Row method: a
// Nullable's null as <nil>, a DateTime in Unix seconds.
func rowOf(col proto.ColResult, i int) any {
	if a, ok := col.(proto.ColAuto); ok {
		col = a.Data
	}
	v := reflect.ValueOf(col).MethodByName("Row").Call([]reflect.Value{reflect.ValueOf(i)})[0].Interface()
	switch v := v.(type) {
	case proto.Nullable[string]:
		if !v.Set {
			return nil
		}
		return fmt.Sprintf("%q", v.Value)
	case proto.Nullable[float64]:
		if !v.Set {
			return nil
		}
		return v.Value
	case proto.Nullable[int64]:
		if !v.Set {
			return nil
		}
		return v.Value
	case proto.Nullable[uint8]:
		if !v.Set {
			return nil
		}
		return v.Value
	case string:
		return fmt.Sprintf("%q", v)
	case time.Time:
		return v.Unix()
	}
	return v
}

func newInsertServer(t *testing.T, feed *catalog.Feed) (*insertServer, *fakeClickHouse, *Store) {
	srv := &insertServer{}
	for _, c := range tableColumns(feed) {
		srv.names, srv.types = append(srv.names, c.name), append(srv.types, c.typ)
	}
	fake := newFakeClickHouse(t, srv.serve)
	st := fake.store()
	st.zone = time.UTC
	return srv, fake, st
}

// TestInsertEncodesWhatChGoReads: the block Insert encodes straight from
// Arrow, read back by ch-go's decoder, holds each field's value (nulls as
// nulls, times in seconds) and the provenance columns.
func TestInsertEncodesWhatChGoReads(t *testing.T) {
	feed := insertFeed(t)
	srv, fake, st := newInsertServer(t, feed)
	rec, prov := insertBatch(t, feed, insertRecords...)
	prov.Sources = []string{"https://example.org/a", "", "https://example.org/c"}
	prov.ETags = []string{`"e1"`, "", `"e3"`}
	prov.FetchedAt = []int64{1795651299, 0, 1795651298}
	prov.SchemaVersions = []uint32{3, 2, 3}
	if err := st.Insert(context.Background(), feed, rec, prov); err != nil {
		t.Fatal(err)
	}
	// Without per-row provenance: empty strings, zero times, the feed's version.
	rec2, prov2 := insertBatch(t, feed, insertRecords[1])
	if err := st.Insert(context.Background(), feed, rec2, prov2); err != nil {
		t.Fatal(err)
	}
	const meta = `_topic="test.readings" _partition=%d _offset=%d _ingested_at=1795651300 `
	want := [][]string{{
		`station="S1" value=1.5 count=7 ok=1 note="a,\"b\"" at=1793491199 ` + fmt.Sprintf(meta, 0, 100) + `_source="https://example.org/a" _etag="\"e1\"" _fetched_at=1795651299 _schema_version=3`,
		`station="S2" value=<nil> count=<nil> ok=<nil> note=<nil> at=1793491200 ` + fmt.Sprintf(meta, 1, 101) + `_source="" _etag="" _fetched_at=0 _schema_version=2`,
		`station="S3" value=-2 count=-1 ok=0 note="" at=1793491201 ` + fmt.Sprintf(meta, 0, 102) + `_source="https://example.org/c" _etag="\"e3\"" _fetched_at=1795651298 _schema_version=3`,
	}, {
		`station="S2" value=<nil> count=<nil> ok=<nil> note=<nil> at=1793491200 ` + fmt.Sprintf(meta, 0, 100) + `_source="" _etag="" _fetched_at=0 _schema_version=3`,
	}}
	got := srv.inserts()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the server read\n%s\nwant\n%s", strings.Join(flat(got), "\n"), strings.Join(flat(want), "\n"))
	}
	q := fake.received()
	wantSQL := "INSERT INTO `db`.`test_readings` (`station`, `value`, `count`, `ok`, `note`, `at`, `_topic`, `_partition`, `_offset`, `_ingested_at`, `_source`, `_etag`, `_fetched_at`, `_schema_version`) VALUES"
	if len(q) == 0 || q[0].Body != wantSQL {
		t.Errorf("sent %v, want %s", q, wantSQL)
	}
	if n := fake.conns.Load(); n != 1 {
		t.Errorf("%d connections for two inserts, want 1", n)
	}
}

func flat(rows [][]string) []string {
	var out []string
	for i, r := range rows {
		for _, l := range r {
			out = append(out, fmt.Sprintf("%d: %s", i, l))
		}
	}
	return out
}

// TestInsertMissingSendsOnlyWhatDidNotLand: rows whose (offset, month) is
// in landed are left out of the block; when all landed, nothing is sent.
func TestInsertMissingSendsOnlyWhatDidNotLand(t *testing.T) {
	feed := insertFeed(t)
	rec, prov := insertBatch(t, feed, insertRecords...)
	cases := []struct {
		name              string
		landed            Landed
		inserted, skipped int
		offsets           []string // of the rows the server got
	}{
		{"nothing landed", nil, 3, 0, []string{"100", "101", "102"}},
		{"the same offset in another month is not the row", Landed{{Offset: 100, Month: 202611}: {}}, 3, 0, []string{"100", "101", "102"}},
		{"October landed", Landed{{Offset: 100, Month: 202610}: {}}, 2, 1, []string{"101", "102"}},
		{"the middle landed", Landed{{Offset: 101, Month: 202611}: {}}, 2, 1, []string{"100", "102"}},
		{"everything landed", Landed{{Offset: 100, Month: 202610}: {}, {Offset: 101, Month: 202611}: {}, {Offset: 102, Month: 202611}: {}}, 0, 3, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, _, st := newInsertServer(t, feed)
			inserted, skipped, err := st.InsertMissing(context.Background(), feed, rec, prov, c.landed)
			if err != nil || inserted != c.inserted || skipped != c.skipped {
				t.Fatalf("InsertMissing = %d, %d, %v; want %d, %d", inserted, skipped, err, c.inserted, c.skipped)
			}
			var offsets []string
			for _, ins := range srv.inserts() {
				for _, row := range ins {
					_, after, _ := strings.Cut(row, "_offset=")
					off, _, _ := strings.Cut(after, " ")
					offsets = append(offsets, off)
				}
			}
			if fmt.Sprint(offsets) != fmt.Sprint(c.offsets) {
				t.Errorf("the server got offsets %v, want %v", offsets, c.offsets)
			}
		})
	}
}

// TestInsertFailures: a refused insert, a table that differs from the
// feed, and a batch that does not fit the feed.
func TestInsertFailures(t *testing.T) {
	feed := insertFeed(t)
	rec, prov := insertBatch(t, feed, insertRecords...)

	srv, _, st := newInsertServer(t, feed)
	srv.fail = "Too many parts"
	err := st.Insert(context.Background(), feed, rec, prov)
	var qe *QueryError
	if !errors.As(err, &qe) || qe.Code != 241 || !strings.Contains(err.Error(), "insert of 3 rows into test_readings") {
		t.Errorf("refused insert: %v", err)
	}

	srv, _, st = newInsertServer(t, feed)
	srv.types[1] = "Float64" // the table's value is not Nullable
	if err := st.Insert(context.Background(), feed, rec, prov); err == nil || !strings.Contains(err.Error(), "the table's column 2 is value Float64, highway sends value Nullable(Float64)") {
		t.Errorf("changed table: %v", err)
	}
	srv.names = srv.names[1:]
	srv.types = srv.types[1:]
	if err := st.Insert(context.Background(), feed, rec, prov); err == nil || !strings.Contains(err.Error(), "ClickHouse expects 13 columns for the insert, highway sends 14") {
		t.Errorf("table with a column less: %v", err)
	}

	bad := prov
	bad.Offsets = bad.Offsets[:2]
	if _, _, err := st.InsertMissing(context.Background(), feed, rec, bad, nil); err == nil || !strings.Contains(err.Error(), "a bug in the caller") {
		t.Errorf("short provenance: %v", err)
	}
	bad = prov
	bad.ETags = []string{"x"}
	if err := st.Insert(context.Background(), feed, rec, bad); err == nil || !strings.Contains(err.Error(), "provenance has 1 values for 3 rows") {
		t.Errorf("short ETags: %v", err)
	}
	empty := rec.NewSlice(0, 0)
	defer empty.Release()
	if err := st.Insert(context.Background(), feed, empty, Provenance{Topic: "t"}); err != nil {
		t.Errorf("empty batch: %v", err)
	}
}

// TestInjectedInsertFault: an injected fault lands the rows it marks (and
// only those) and fails the insert with ErrInjectedFault; removing it lets
// inserts through again.
func TestInjectedInsertFault(t *testing.T) {
	feed := insertFeed(t)
	rec, prov := insertBatch(t, feed, insertRecords...)
	srv, _, st := newInsertServer(t, feed)
	st.InjectInsertFault(func(_ *catalog.Feed, rec arrow.RecordBatch, _ Provenance) []bool {
		return []bool{false, true} // the third row is missing: not landed
	})
	if err := st.Insert(context.Background(), feed, rec, prov); !errors.Is(err, ErrInjectedFault) {
		t.Fatalf("err = %v, want ErrInjectedFault", err)
	}
	if got := srv.inserts(); len(got) != 1 || len(got[0]) != 1 || !strings.Contains(got[0][0], "_offset=101") {
		t.Errorf("the fault landed %v, want only offset 101", got)
	}
	st.InjectInsertFault(func(*catalog.Feed, arrow.RecordBatch, Provenance) []bool { return nil })
	if err := st.Insert(context.Background(), feed, rec, prov); err != nil {
		t.Errorf("a fault that lets the insert through: %v", err)
	}
	st.InjectInsertFault(nil)
	if err := st.Insert(context.Background(), feed, rec, prov); err != nil {
		t.Errorf("after removing the fault: %v", err)
	}
	if n := len(srv.inserts()); n != 3 {
		t.Errorf("%d inserts reached the server, want 3", n)
	}
}

// TestPrepareColumns: the column slices the ingest benchmark sends through
// clickhouse-go, in table order, with pointers for Nullable fields.
func TestPrepareColumns(t *testing.T) {
	feed := insertFeed(t)
	rec, prov := insertBatch(t, feed, insertRecords...)
	c, err := PrepareColumns(feed, rec, prov)
	if err != nil {
		t.Fatal(err)
	}
	if c.Rows() != 3 || len(c.vals) != len(tableColumns(feed)) {
		t.Fatalf("%d rows, %d columns", c.Rows(), len(c.vals))
	}
	show := func(v any) string {
		rv := reflect.ValueOf(v)
		var parts []string
		for i := range rv.Len() {
			e := rv.Index(i)
			if e.Kind() == reflect.Pointer {
				if e.IsNil() {
					parts = append(parts, "nil")
					continue
				}
				e = e.Elem()
			}
			parts = append(parts, fmt.Sprint(e.Interface()))
		}
		return strings.Join(parts, " ")
	}
	want := []string{"S1 S2 S3", "1.5 nil -2", "7 nil -1", "1 nil 0", `a,"b" nil `, "1793491199 1793491200 1793491201",
		"test.readings test.readings test.readings", "0 1 0", "100 101 102", "1795651300 1795651300 1795651300",
		"  ", "  ", "0 0 0", "3 3 3"}
	for i, w := range want {
		if got := show(c.vals[i]); got != w {
			t.Errorf("column %s: %s, want %s", tableColumns(feed)[i].name, got, w)
		}
	}
	if _, err := PrepareColumns(feed, rec, Provenance{}); err == nil {
		t.Error("PrepareColumns without provenance did not fail")
	}
}
