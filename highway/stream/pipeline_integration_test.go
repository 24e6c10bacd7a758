//go:build integration

package stream_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/envelope"
)

const windowedSpec = readingsSpec + `
---
kind: pipeline
name: {{name}}.p
source: {{name}}
dedupe: 1h
windows:
  - name: m1
    type: tumbling
    size: 1m
    lateness: 1m
    idle: 2s
    group_by: [station]
    aggregates: [{field: value, funcs: [sum, max]}]
`

// reading is one record the test produces and its expected fate.
type reading struct {
	station string
	value   int
	at      time.Duration // after t0
}

func (r reading) json(t0 time.Time) string {
	return fmt.Sprintf(`{"station":%q,"value":%d,"at":%q}`, r.station, r.value, t0.Add(r.at).Format(time.RFC3339))
}

func (r *rig) produceReadings(t *testing.T, t0 time.Time, rs []reading) {
	t.Helper()
	var msgs []bus.Message
	for _, x := range rs {
		msgs = append(msgs, bus.Message{Topic: r.feed.Topic(), Key: []byte(x.station), Value: []byte(x.json(t0))})
	}
	if err := r.prod.Produce(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
}

// windowRows reads the window table as "minute station sum max" lines.
func (r *rig) windowRows(t *testing.T, minutes int) []string {
	t.Helper()
	var out []string
	q := fmt.Sprintf("SELECT toString(window_start), station, value_sum, value_max FROM %s_m1 FINAL ORDER BY window_start, station", r.feed.Table())
	err := r.store.QueryEach(context.Background(), q, func(scan func(...any) error) error {
		var (
			start, station string
			sum, max       *float64
		)
		if err := scan(&start, &station, &sum, &max); err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %s %v %v", start[11:16], station, *sum, *max))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range out {
		if l[:5] < fmt.Sprintf("08:%02d", minutes) {
			kept = append(kept, l)
		}
	}
	return kept
}

func expectedWindows(t0 time.Time, rs []reading, minutes int) []string {
	type key struct {
		minute  string
		station string
	}
	sums, maxes := map[key]int{}, map[key]int{}
	for _, x := range rs {
		k := key{t0.Add(x.at).Truncate(time.Minute).Format("15:04"), x.station}
		sums[k] += x.value
		maxes[k] = max(maxes[k], x.value)
	}
	var out []string
	for k, s := range sums {
		if k.minute < fmt.Sprintf("08:%02d", minutes) {
			out = append(out, fmt.Sprintf("%s %s %d %d", k.minute, k.station, s, maxes[k]))
		}
	}
	sort.Strings(out)
	return out
}

func (r *rig) waitWindows(t *testing.T, want []string, minutes int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := r.windowRows(t, minutes)
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("windows:\n got %q\nwant %q", got, want)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Windows on real Kafka and ClickHouse: duplicates dropped, a late record
// within lateness corrects its window, one beyond goes to the DLQ, and a
// processor restarted with windows open ends with the same results.
func TestPipelineWindowsExactlyOnce(t *testing.T) {
	r := newRigSpec(t, windowedSpec)
	t0 := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	var good []reading
	for i := 0; i < 300; i++ { // five minutes, one record a second, 6 stations
		good = append(good, reading{fmt.Sprintf("S%d", i%6), i % 97, time.Duration(i) * time.Second})
	}
	dups := []reading{good[10], good[11], good[200]}
	dups[0].value = 99 // a duplicate with another value is still a duplicate: the first wins

	// Phase 1: the first three minutes, with duplicates of two of them and
	// good[200] early, whose own turn in phase 2 is then the duplicate, seen
	// by a restarted processor.
	r.produceReadings(t, t0, append(append([]reading{}, good[:180]...), dups...))
	stop := start(t, r.processor(t, nil))
	r.waitRows(t, 181)
	stop()

	// Phase 2: a new processor; the rest, closing records, then late ones.
	stop = start(t, r.processor(t, nil))
	r.produceReadings(t, t0, good[180:])
	closing := []reading{}
	for s := 0; s < 6; s++ {
		closing = append(closing, reading{fmt.Sprintf("S%d", s), 1, 5*time.Minute + 30*time.Second})
	}
	r.produceReadings(t, t0, closing)
	r.waitRows(t, 306)
	r.waitWindows(t, expectedWindows(t0, good, 5), 5)

	// Watermark is 08:05:30: window 08:04 (end 08:05 + 1m) is open to
	// corrections, window 08:03 (end 08:04 + 1m) is not.
	correction := reading{"S1", 50, 4*time.Minute + 20*time.Second}
	tooLate := reading{"S2", 60, 3*time.Minute + 10*time.Second}
	r.produceReadings(t, t0, []reading{correction, tooLate})
	r.waitRows(t, 307)
	r.waitWindows(t, expectedWindows(t0, append(append([]reading{}, good...), correction), 5), 5)
	stop()

	var n, distinct uint64
	q := fmt.Sprintf("SELECT count(), uniqExact(station, at) FROM %s", r.feed.Table())
	if err := r.store.QueryRow(context.Background(), []any{&n, &distinct}, q); err != nil {
		t.Fatal(err)
	}
	if n != 307 || distinct != 307 {
		t.Errorf("raw rows=%d distinct=%d, want 307 (300 + 6 closing + 1 correction; duplicates dropped)", n, distinct)
	}
	dead, err := r.bus.ReadAll(context.Background(), r.feed.DLQTopic())
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || string(dead[0].Value) != tooLate.json(t0) {
		t.Fatalf("DLQ = %d records, want the late one", len(dead))
	}
	if reason := string(dead[0].Header(envelope.HeaderReason)); !strings.Contains(reason, "late: window m1 has closed") {
		t.Errorf("late reason = %q", reason)
	}
}
