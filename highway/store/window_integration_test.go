//go:build integration

package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/record"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/internal/testenv"
)

const windowSpecs = `
kind: feed
name: test.speeds
department: TEST
fields:
  - {name: detector, type: string, required: true}
  - {name: district, type: string}
  - {name: speed, type: float64}
  - {name: at, type: time, required: true}
key: [detector]
event_time: at
interval: 1m
---
kind: pipeline
name: test.speeds
source: test.speeds
windows:
  - {name: d1m, type: tumbling, size: 1m, group_by: [district], aggregates: [{field: speed, funcs: [count, avg, min, max, p50]}]}
  - {name: h2m, type: hopping, size: 2m, hop: 1m, aggregates: [{field: speed, funcs: [sum, max]}]}
`

func TestWindowAggregates(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cat, err := catalog.Parse("w.yaml", []byte(windowSpecs))
	if err != nil {
		t.Fatal(err)
	}
	feed, pl := cat.Feed("test.speeds"), cat.PipelineOf("test.speeds")
	st := testenv.Store(t)
	if err := st.EnsureFeedTable(ctx, feed); err != nil {
		t.Fatal(err)
	}
	for _, w := range pl.Windows {
		if err := st.EnsureWindowTable(ctx, feed, w); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	// minute 0: YTM 50, 70, 90; KT 30; (no district) 10
	// minute 1: YTM 60; speed null in YTM
	// minute 2: KT 40
	rows := []string{
		`{"detector":"A","district":"YTM","speed":50,"at":"2026-11-26T08:00:05Z"}`,
		`{"detector":"B","district":"YTM","speed":70,"at":"2026-11-26T08:00:15Z"}`,
		`{"detector":"C","district":"YTM","speed":90,"at":"2026-11-26T08:00:59Z"}`,
		`{"detector":"D","district":"KT","speed":30,"at":"2026-11-26T08:00:30Z"}`,
		`{"detector":"E","speed":10,"at":"2026-11-26T08:00:40Z"}`,
		`{"detector":"A","district":"YTM","speed":60,"at":"2026-11-26T08:01:00Z"}`,
		`{"detector":"B","district":"YTM","at":"2026-11-26T08:01:30Z"}`,
		`{"detector":"D","district":"KT","speed":40,"at":"2026-11-26T08:02:10Z"}`,
	}
	dec := record.NewDecoder(feed)
	prov := store.Provenance{Topic: feed.Topic(), IngestedAt: time.Now()}
	for i, r := range rows {
		if err := dec.Append([]byte(r)); err != nil {
			t.Fatal(err)
		}
		prov.Partitions = append(prov.Partitions, 0)
		prov.Offsets = append(prov.Offsets, int64(i))
	}
	rec := dec.NewRecordBatch()
	defer rec.Release()
	if err := st.Insert(ctx, feed, rec, prov); err != nil {
		t.Fatal(err)
	}
	// Hopping windows starting at 07:59 hold rows of 08:00.
	for _, w := range pl.Windows {
		if err := st.AggregateWindows(ctx, feed, w, t0.Add(-w.Size+w.Hop), t0.Add(3*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	// Computing again replaces, not doubles.
	if err := st.AggregateWindows(ctx, feed, pl.Windows[0], t0, t0.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}

	// FINAL from a subquery that reads every column: through a Distributed
	// table (cluster mode), 18.16's FINAL needs the ORDER BY and version
	// columns in what it reads ("Cannot find column _version in source
	// stream"); on one server the two forms are the same.
	q := "SELECT window_start, district, rows, speed_count, speed_avg, speed_min, speed_p50 FROM (SELECT * FROM test_speeds_d1m FINAL) ORDER BY window_start, district"
	got, err := queryStrings(ctx, st, q)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"08:00:00 | rows 1 count 1 avg 10 min 10 p50 10",
		"08:00:00 KT | rows 1 count 1 avg 30 min 30 p50 30",
		"08:00:00 YTM | rows 3 count 3 avg 70 min 50 p50 70",
		"08:01:00 YTM | rows 2 count 1 avg 60 min 60 p50 60",
		"08:02:00 KT | rows 1 count 1 avg 40 min 40 p50 40",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tumbling windows:\n got %q\nwant %q", got, want)
	}

	var hop []string
	for _, start := range []time.Time{t0.Add(-time.Minute), t0, t0.Add(time.Minute), t0.Add(2 * time.Minute)} {
		var (
			n        uint64
			sum, max *float64
		)
		err := st.QueryRow(ctx, []any{&n, &sum, &max}, "SELECT count(), any(speed_sum), any(speed_max) FROM (SELECT * FROM test_speeds_h2m FINAL) WHERE window_start = ?", start)
		if err != nil {
			t.Fatal(err)
		}
		hop = append(hop, fmt.Sprintf("%s n=%d sum=%v max=%v", start.Format("15:04"), n, deref(sum), deref(max)))
	}
	// [07:59,08:01) = minute 0: 250/90; [08:00,08:02) = minutes 0-1: 310/90;
	// [08:01,08:03) = minutes 1-2: 100/60; [08:02,08:04) = minute 2: 40/40.
	wantHop := []string{"07:59 n=1 sum=250 max=90", "08:00 n=1 sum=310 max=90", "08:01 n=1 sum=100 max=60", "08:02 n=1 sum=40 max=40"}
	if fmt.Sprint(hop) != fmt.Sprint(wantHop) {
		t.Errorf("hopping windows:\n got %q\nwant %q", hop, wantHop)
	}

	end, err := st.LastWindowEnd(ctx, feed, pl.Windows[0])
	if err != nil || !end.Equal(t0.Add(3*time.Minute)) {
		t.Errorf("LastWindowEnd = %v, %v", end, err)
	}
	maxEv, err := st.MaxEventTime(ctx, feed, feed.Topic(), 0)
	if err != nil || !maxEv.Equal(t0.Add(130*time.Second)) {
		t.Errorf("MaxEventTime = %v, %v", maxEv, err)
	}
}

func deref(p *float64) any {
	if p == nil {
		return "null"
	}
	return *p
}

// queryStrings renders the tumbling window rows for comparison.
func queryStrings(ctx context.Context, st *store.Store, q string) ([]string, error) {
	var out []string
	err := st.QueryEach(ctx, q, func(scan func(...any) error) error {
		var (
			start                time.Time
			district             string
			rows, count          uint64
			avg, minimum, median *float64
		)
		if err := scan(&start, &district, &rows, &count, &avg, &minimum, &median); err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %s| rows %d count %d avg %v min %v p50 %v", start.UTC().Format("15:04:05"), district+map[bool]string{true: " ", false: ""}[district != ""], rows, count, deref(avg), deref(minimum), deref(median)))
		return nil
	})
	return out, err
}
