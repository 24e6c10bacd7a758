package streamtest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/record"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/highway/stream/streamtest"
)

const spec = `
kind: feed
name: test.readings
department: TEST
fields:
  - {name: station, type: string, required: true}
  - {name: value, type: float64}
  - {name: at, type: time, required: true}
key: [station]
event_time: at
interval: 1m
`

func feedOf(t *testing.T) *catalog.Feed {
	t.Helper()
	c, err := catalog.Parse("test.yaml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	return c.Feeds()[0]
}

// batch decodes JSON records into a batch whose offsets start at first.
func batch(t *testing.T, feed *catalog.Feed, first int64, recs ...string) (arrow.RecordBatch, store.Provenance) {
	t.Helper()
	dec := record.NewDecoder(feed)
	defer dec.Release()
	prov := store.Provenance{Topic: feed.Topic()}
	for i, r := range recs {
		if err := dec.Append([]byte(r)); err != nil {
			t.Fatal(err)
		}
		prov.Partitions = append(prov.Partitions, 0)
		prov.Offsets = append(prov.Offsets, first+int64(i))
	}
	rec := dec.NewRecordBatch()
	t.Cleanup(rec.Release)
	return rec, prov
}

func reading(station string, value float64, at string) string {
	return fmt.Sprintf(`{"station":%q,"value":%v,"at":%q}`, station, value, at)
}

func TestInsertMissingLeavesOutWhatLanded(t *testing.T) {
	feed := feedOf(t)
	ctx := context.Background()
	rec, prov := batch(t, feed, 10,
		reading("A", 1, "2026-10-31T23:59:59Z"), reading("B", 2, "2026-11-01T00:00:00Z"), reading("C", 3, "2026-11-01T00:00:01Z"))
	cases := []struct {
		name              string
		landed            store.Landed
		inserted, skipped int
	}{
		{"nothing landed", nil, 3, 0},
		{"October landed", store.Landed{{Offset: 10, Month: 202610}: {}}, 2, 1},
		{"the same offset in another month is not the row", store.Landed{{Offset: 10, Month: 202611}: {}}, 3, 0},
		{"everything landed", store.Landed{{Offset: 10, Month: 202610}: {}, {Offset: 11, Month: 202611}: {}, {Offset: 12, Month: 202611}: {}}, 0, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := streamtest.New()
			inserted, skipped, err := s.InsertMissing(ctx, feed, rec, prov, c.landed)
			if err != nil || inserted != c.inserted || skipped != c.skipped {
				t.Fatalf("InsertMissing = %d, %d, %v; want %d, %d", inserted, skipped, err, c.inserted, c.skipped)
			}
			if rows, _ := s.Count(feed); rows != c.inserted {
				t.Errorf("table has %d rows, want %d", rows, c.inserted)
			}
		})
	}
}

func TestInjectedFaultsLandWhatTheySay(t *testing.T) {
	feed := feedOf(t)
	ctx := context.Background()
	rec, prov := batch(t, feed, 0, reading("A", 1, "2026-11-01T00:00:00Z"), reading("B", 2, "2026-11-01T00:00:01Z"))
	s := streamtest.New()
	s.FailInserts(1)
	if _, _, err := s.InsertMissing(ctx, feed, rec, prov, nil); !errors.Is(err, streamtest.ErrInjected) {
		t.Fatalf("first insert: %v, want ErrInjected", err)
	}
	s.InjectInsertFault(func(rows []streamtest.Row) []bool { return []bool{false, true} })
	if _, _, err := s.InsertMissing(ctx, feed, rec, prov, nil); !errors.Is(err, store.ErrInjectedFault) {
		t.Fatalf("second insert: %v, want ErrInjectedFault", err)
	}
	rows := s.Rows(feed)
	if len(rows) != 1 || rows[0].Offset != 1 || rows[0].Values["station"] != "B" {
		t.Fatalf("rows after the partial insert: %+v; want offset 1 alone", rows)
	}
	landed, err := s.Landed(ctx, feed, feed.Topic(), 0, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	s.InjectInsertFault(nil)
	if inserted, skipped, err := s.InsertMissing(ctx, feed, rec, prov, landed); err != nil || inserted != 1 || skipped != 1 {
		t.Fatalf("retry = %d, %d, %v; want 1 inserted, 1 skipped", inserted, skipped, err)
	}
	if rows, distinct := s.Count(feed); rows != 2 || distinct != 2 || s.FailedInserts() != 2 || len(s.Inserts(feed)) != 1 {
		t.Errorf("rows=%d distinct=%d failed=%d inserts=%v", rows, distinct, s.FailedInserts(), s.Inserts(feed))
	}
}

func TestLedgerAndResumePoint(t *testing.T) {
	feed := feedOf(t)
	ctx := context.Background()
	s := streamtest.New()
	if r, _ := s.ResumePoint(ctx, feed, feed.Topic(), 0); r != (store.Resume{}) {
		t.Fatalf("empty: %+v", r)
	}
	rec, prov := batch(t, feed, 5, reading("A", 1, "2026-11-01T00:00:00.900Z"), reading("A", 2, "2026-11-01T00:00:03Z"))
	if _, _, err := s.InsertMissing(ctx, feed, rec, prov, nil); err != nil {
		t.Fatal(err)
	}
	for _, next := range []int64{6, 4} { // the highest entry wins
		if err := s.RecordProgress(ctx, feed.Topic(), 0, next); err != nil {
			t.Fatal(err)
		}
	}
	r, _ := s.ResumePoint(ctx, feed, feed.Topic(), 0)
	if want := (store.Resume{Ledger: 6, HasLedger: true, TableNext: 7, HasRows: true}); r != want {
		t.Errorf("ResumePoint = %+v, want %+v", r, want)
	}
	maxAt, _ := s.MaxEventTime(ctx, feed, feed.Topic(), 0)
	minAt, _ := s.MinEventTime(ctx, feed)
	if !maxAt.Equal(time.Date(2026, 11, 1, 0, 0, 3, 0, time.UTC)) || !minAt.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("event times %s … %s", minAt, maxAt)
	}
	ids, _ := s.RecentIdentities(ctx, feed, feed.Topic(), 0, time.Date(2026, 11, 1, 0, 0, 1, 0, time.UTC))
	if want := record.IdentityOf([]string{"A"}, maxAt); len(ids) != 1 || ids[0] != want {
		t.Errorf("RecentIdentities = %v, want [%v]", ids, want)
	}
}

func TestAggregateWindows(t *testing.T) {
	feed := feedOf(t)
	ctx := context.Background()
	s := streamtest.New()
	rec, prov := batch(t, feed, 0,
		reading("A", 1, "2026-11-01T00:00:10Z"), reading("A", 3, "2026-11-01T00:00:50Z"),
		reading("B", 5, "2026-11-01T00:00:20Z"), `{"station":"B","at":"2026-11-01T00:00:30Z"}`,
		reading("A", 7, "2026-11-01T00:01:10Z"))
	if _, _, err := s.InsertMissing(ctx, feed, rec, prov, nil); err != nil {
		t.Fatal(err)
	}
	show := func(rows []streamtest.WindowRow) []string {
		var out []string
		for _, r := range rows {
			line := fmt.Sprintf("%s-%s %v rows=%d n=%d", r.Start.Format("15:04"), r.End.Format("15:04"), r.Group["station"], r.Rows, r.Counts["value"])
			for _, fn := range []string{"sum", "avg", "min", "max", "p50"} {
				if v, ok := r.Values["value_"+fn]; ok {
					if v == nil {
						line += " " + fn + "=null"
					} else {
						line += fmt.Sprintf(" %s=%v", fn, *v)
					}
				}
			}
			out = append(out, line)
		}
		return out
	}
	cases := []struct {
		name string
		w    catalog.Window
		want []string
	}{
		{"tumbling", catalog.Window{Name: "m1", Size: time.Minute, Hop: time.Minute, GroupBy: []string{"station"},
			Aggregates: []catalog.Aggregate{{Field: "value", Funcs: []string{"avg", "min", "max"}}}},
			[]string{"00:00-00:01 A rows=2 n=2 sum=4 avg=2 min=1 max=3", "00:00-00:01 B rows=2 n=1 sum=5 avg=5 min=5 max=5", "00:01-00:02 A rows=1 n=1 sum=7 avg=7 min=7 max=7"}},
		{"hopping, one start asked for", catalog.Window{Name: "h2", Size: 2 * time.Minute, Hop: time.Minute,
			Aggregates: []catalog.Aggregate{{Field: "value", Funcs: []string{"p50"}}}},
			[]string{"00:00-00:02 <nil> rows=5 n=4 p50=5"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
			to := from.Add(2 * time.Minute)
			if c.w.Size > c.w.Hop {
				to = from.Add(c.w.Hop)
			}
			if err := s.AggregateWindows(ctx, feed, c.w, from, to); err != nil {
				t.Fatal(err)
			}
			if got := show(s.Windows(feed, c.w)); fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("windows:\n got %q\nwant %q", got, c.want)
			}
			if last, _ := s.LastWindowEnd(ctx, feed, c.w); last.IsZero() {
				t.Error("LastWindowEnd is zero after a firing")
			}
		})
	}
}
