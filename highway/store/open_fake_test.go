package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go/proto"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/record"
)

// route answers the queries whose SQL contains a string.
type route struct {
	contains string
	answer   func(x *fakeExchange)
}

// scripted answers each query with the first route that matches it, after
// the two queries of Open (version 18.16.1, time zone UTC); a query no
// route expects is refused with an exception naming it, which fails the
// call that sent it.
func scripted(routes ...route) func(x *fakeExchange) {
	routes = append(routes,
		route{"SELECT version()", func(x *fakeExchange) {
			x.data(proto.InputColumn{Name: "version()", Data: strs("18.16.1")})
			x.end()
		}},
		route{"SELECT timezone()", func(x *fakeExchange) {
			x.data(proto.InputColumn{Name: "timezone()", Data: strs("UTC")})
			x.end()
		}})
	return func(x *fakeExchange) {
		for _, r := range routes {
			if strings.Contains(x.Query.Body, r.contains) {
				r.answer(x)
				return
			}
		}
		x.exception(62, "the fake has no answer for: "+x.Query.Body)
	}
}

// openFake opens a Store on a fake server answering as scripted says: both
// its clickhouse-go connections and its native reader talk to the fake.
func openFake(t *testing.T, routes ...route) (*Store, *fakeClickHouse) {
	t.Helper()
	fake := newFakeClickHouse(t, scripted(routes...))
	st, err := Open(context.Background(), "clickhouse://"+fake.ln.Addr().String()+"/db", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, fake
}

// countAndTime answers with one row: count() and a DateTime.
func countAndTime(n uint64, at int64) func(x *fakeExchange) {
	return func(x *fakeExchange) {
		x.data(proto.InputColumn{Name: "count()", Data: &proto.ColUInt64{n}},
			proto.InputColumn{Name: "max", Data: &proto.ColDateTime{Data: []proto.DateTime{proto.DateTime(at)}}})
		x.end()
	}
}

// TestOpenReadsVersionAndZone: Open asks the server for its version and
// time zone, and refuses what it cannot use.
func TestOpenReadsVersionAndZone(t *testing.T) {
	st, _ := openFake(t)
	if st.Version().String() != "18.16.1" || st.Database() != "db" || st.zone.String() != "UTC" {
		t.Errorf("opened %s on %s in %s", st.Version(), st.Database(), st.zone)
	}
	if l := st.Layout(); l.Open != "db" || l.Restricted != "db_restricted" {
		t.Errorf("layout %+v", l)
	}
	cases := []struct {
		name, version, zone, want string
	}{
		{"an unreadable version", "banana", "UTC", "banana"},
		{"a time zone this machine lacks", "24.8.1", "Mars/Olympus_Mons", `runs in time zone "Mars/Olympus_Mons"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake := newFakeClickHouse(t, scripted(
				route{"SELECT version()", func(x *fakeExchange) { x.data(proto.InputColumn{Name: "v", Data: strs(c.version)}); x.end() }},
				route{"SELECT timezone()", func(x *fakeExchange) { x.data(proto.InputColumn{Name: "tz", Data: strs(c.zone)}); x.end() }},
			))
			_, err := Open(context.Background(), "clickhouse://"+fake.ln.Addr().String()+"/db", nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Open: %v, want an error saying %q", err, c.want)
			}
		})
	}
	if _, err := Open(context.Background(), "clickhouse://[::1", nil); err == nil || !strings.Contains(err.Error(), "parsing ClickHouse DSN") {
		t.Errorf("a bad DSN: %v", err)
	}
}

// TestEventTimeReads: the latest and earliest event times and the last
// window end read count() with the max or min, and an empty table (count
// 0, whatever the max says) is the zero time.
func TestEventTimeReads(t *testing.T) {
	feed := insertFeed(t)
	w := catalog.Window{Name: "5m", Size: 5 * time.Minute, Hop: 5 * time.Minute}
	const at = 1795651200
	cases := []struct {
		name string
		n    uint64
		want time.Time
	}{
		{"rows", 3, time.Unix(at, 0)},
		{"no rows", 0, time.Time{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, fake := openFake(t,
				route{"max(`at`)", countAndTime(c.n, at)},
				route{"min(`at`)", countAndTime(c.n, at)},
				route{"max(`window_end`)", countAndTime(c.n, at)},
			)
			ctx := context.Background()
			reads := map[string]func() (time.Time, error){
				"MaxEventTime":  func() (time.Time, error) { return st.MaxEventTime(ctx, feed, "test.readings", 2) },
				"MinEventTime":  func() (time.Time, error) { return st.MinEventTime(ctx, feed) },
				"LastWindowEnd": func() (time.Time, error) { return st.LastWindowEnd(ctx, feed, w) },
			}
			for name, read := range reads {
				got, err := read()
				if err != nil || !got.Equal(c.want) {
					t.Errorf("%s = %v, %v; want %v", name, got, err, c.want)
				}
			}
			for _, q := range fake.received() {
				if strings.Contains(q.Body, "max(`at`)") && !strings.Contains(q.Body, "`_topic` = 'test.readings' AND `_partition` = 2") {
					t.Errorf("MaxEventTime did not ask for its partition: %s", q.Body)
				}
			}
		})
	}
	st, _ := openFake(t)
	if _, err := st.MaxEventTime(context.Background(), feed, "t", 0); err == nil || !strings.Contains(err.Error(), "reading the latest event of t/0") {
		t.Errorf("a refused read: %v", err)
	}
}

// TestRecentIdentities: the identities of recent rows are those the
// decoder computes from the key fields' text and the event time, so a
// restarted processor de-duplicates as the one before it.
func TestRecentIdentities(t *testing.T) {
	feed := insertFeed(t)
	since := time.Unix(1795651200, 0)
	st, fake := openFake(t, route{"toString(`station`)", func(x *fakeExchange) {
		x.data(proto.InputColumn{Name: "k", Data: strs("S1", "S2")},
			proto.InputColumn{Name: "at", Data: &proto.ColDateTime{Data: []proto.DateTime{1795651200, 1795651260}}})
		x.end()
	}})
	ids, err := st.RecentIdentities(context.Background(), feed, "test.readings", 1, since)
	if err != nil {
		t.Fatal(err)
	}
	want := []record.Identity{record.IdentityOf([]string{"S1"}, time.Unix(1795651200, 0)), record.IdentityOf([]string{"S2"}, time.Unix(1795651260, 0))}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("identities %v, want %v", ids, want)
	}
	q := fake.received()
	if body := q[len(q)-1].Body; !strings.Contains(body, "`at` >= toDateTime(1795651200)") || !strings.Contains(body, "= 'test.readings'") {
		t.Errorf("query %s does not ask for the partition's rows since %d", body, since.Unix())
	}
}

// TestDeadLetterTables: the dead-letter copy's resume point, counts and
// insert.
func TestDeadLetterTables(t *testing.T) {
	dlCols := &insertServer{}
	for _, c := range deadLetterColumns {
		dlCols.names, dlCols.types = append(dlCols.names, c.name), append(dlCols.types, c.typ)
	}
	st, _ := openFake(t,
		route{"max(offset)", func(x *fakeExchange) {
			x.data(proto.InputColumn{Name: "count()", Data: &proto.ColUInt64{4}}, proto.InputColumn{Name: "max", Data: &proto.ColInt64{41}})
			x.end()
		}},
		route{"uniqExact(partition, offset)", func(x *fakeExchange) {
			x.data(proto.InputColumn{Name: "class", Data: strs("range", "required")}, proto.InputColumn{Name: "field", Data: strs("speed", "(record)")},
				proto.InputColumn{Name: "stage", Data: strs("processor", "connector")}, proto.InputColumn{Name: "n", Data: &proto.ColUInt64{3, 1}})
			x.end()
		}},
		route{"INSERT INTO `db_restricted`.`highway_dead_letters`", dlCols.serve},
	)
	ctx := context.Background()
	next, ok, err := st.DeadLetterResume(ctx, "td.speed", 0)
	if err != nil || !ok || next != 42 {
		t.Errorf("DeadLetterResume = %d, %v, %v; want 42", next, ok, err)
	}
	counts, err := st.CountDeadLetters(ctx, "td.speed", time.Unix(0, 0), time.Unix(3600, 0))
	if want := "[{range speed processor 3} {required (record) connector 1}]"; err != nil || fmt.Sprint(counts) != want {
		t.Errorf("CountDeadLetters = %v, %v; want %s", counts, err, want)
	}
	dl := DeadLetter{Feed: "td.speed", Partition: 1, Offset: 7, RejectedAt: time.Unix(1795651200, 0), Reason: "too fast", Class: "range",
		Field: "speed", Stage: "processor", SourcePartition: 2, SourceOffset: 99}
	if err := st.InsertDeadLetters(ctx, []DeadLetter{dl}); err != nil {
		t.Fatal(err)
	}
	if err := st.InsertDeadLetters(ctx, nil); err != nil {
		t.Errorf("no dead letters: %v", err)
	}
	want := `feed="td.speed" partition=1 offset=7 rejected_at=1795651200 reason="too fast" class="range" field="speed" stage="processor" source_partition=2 source_offset=99`
	if got := dlCols.inserts(); len(got) != 1 || len(got[0]) != 1 || got[0][0] != want {
		t.Errorf("inserted %v, want %s", got, want)
	}
}

// TestTopicEnds: the reconciliation's end offsets go in as one row per
// partition and come back from the highest attempt.
func TestTopicEnds(t *testing.T) {
	offCols := &insertServer{}
	for _, c := range offsetColumns {
		offCols.names, offCols.types = append(offCols.names, c.name), append(offCols.types, c.typ)
	}
	bucket, measured := time.Unix(1795651200, 0), time.Unix(1795654800, 0)
	st, fake := openFake(t,
		route{"INSERT INTO `db_restricted`.`highway_quality_offsets`", offCols.serve},
		route{"SELECT partition, end_offset, measured_at", func(x *fakeExchange) {
			x.data(proto.InputColumn{Name: "partition", Data: &proto.ColInt32{0, 1}}, proto.InputColumn{Name: "end_offset", Data: &proto.ColInt64{10, 20}},
				proto.InputColumn{Name: "measured_at", Data: &proto.ColDateTime{Data: []proto.DateTime{proto.DateTime(measured.Unix()), proto.DateTime(measured.Unix())}}})
			x.end()
		}},
	)
	ctx := context.Background()
	if err := st.WriteTopicEnds(ctx, "td.speed", bucket, TopicEnds{At: measured, Ends: map[int]int64{3: 30}}, 2); err != nil {
		t.Fatal(err)
	}
	want := `feed="td.speed" bucket=1795651200 partition=3 end_offset=30 measured_at=1795654800 _attempt=2`
	if got := offCols.inserts(); len(got) != 1 || len(got[0]) != 1 || got[0][0] != want {
		t.Errorf("inserted %v, want %s", got, want)
	}
	ends, ok, err := st.ReadTopicEnds(ctx, "td.speed", bucket)
	if err != nil || !ok || fmt.Sprint(ends.Ends) != "map[0:10 1:20]" || !ends.At.Equal(measured) {
		t.Errorf("ReadTopicEnds = %+v, %v, %v", ends, ok, err)
	}
	q := fake.received()
	if body := q[len(q)-1].Body; !strings.Contains(body, "bucket = toDateTime(1795651200)") || !strings.Contains(body, "max(`_attempt`)") {
		t.Errorf("ReadTopicEnds asked %s", body)
	}
}
