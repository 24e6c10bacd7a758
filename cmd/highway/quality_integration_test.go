//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/quality"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/highway/stream"
	"github.com/cityhighway/highway/internal/testenv"
	"github.com/cityhighway/highway/internal/testenv/feedenv"
)

// qualityH0 is the first hour of the planted sequence.
var qualityH0 = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)

// qualitySpec is a feed of three sensors every 10 minutes and its
// connector, reading {"items": [...]} at url.
const qualitySpec = `kind: feed
name: NAME
department: TEST
fields:
  - {name: sensor, type: string, required: true}
  - {name: value, type: float64, min: 0, max: 100}
  - {name: level, type: float64}
  - {name: at, type: time, required: true}
key: [sensor]
event_time: at
interval: 10m
---
kind: connector
name: NAME
feed: NAME
url: URL/items.json
format: json
records: "items[]"
fields:
  - {field: sensor, from: sensor}
  - {field: value, from: value}
  - {field: level, from: level}
  - {field: at, from: at}
`

type sensorItem struct {
	Sensor string   `json:"sensor"`
	Value  float64  `json:"value"`
	Level  *float64 `json:"level"`
	At     string   `json:"at"`
}

// plantedHour makes an hour of items: every 10 minutes a record of each
// sensor, with value base+10×i for sensor i (so a mean of base+10) and
// level 10 (null when nullLevel), leaving out the intervals in skip.
func plantedHour(hour int, sensors []string, base float64, nullLevel bool, skip ...int) []sensorItem {
	var out []sensorItem
	for k := range 6 {
		if slices.Contains(skip, k) {
			continue
		}
		at := qualityH0.Add(time.Duration(hour)*time.Hour + time.Duration(k)*10*time.Minute)
		for i, s := range sensors {
			it := sensorItem{Sensor: s, Value: base + 10*float64(i), At: at.Format(time.RFC3339)}
			if !nullLevel {
				l := 10.0
				it.Level = &l
			}
			out = append(out, it)
		}
	}
	return out
}

// A known sequence through the connectors' path (an httppoll connector
// polling a test server, the real Kafka, a processor, the real ClickHouse),
// with a gap (hour 1), a reject, a null burst and a key that stops
// reporting (hour 2) and a drift (hour 3); the ledger is checked row by row
// against a hand computation, and a restart of the processors, the
// dead-letter copy and a retried bucket in the middle change no figure.
func TestQualityLedgerThroughConnectors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var (
		mu      sync.Mutex
		payload []byte
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Write(payload)
	}))
	defer srv.Close()
	serve := func(items []sensorItem) {
		b, err := json.Marshal(map[string]any{"items": items})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		payload = b
		mu.Unlock()
	}

	name := "it.quality." + strings.ReplaceAll(testenv.Name("s"), "_", "")
	specFile, cat := writeSpecs(t, "sensors.yaml", strings.NewReplacer("NAME", name, "URL", srv.URL).Replace(qualitySpec))
	feed := cat.Feed(name)
	brokers := testenv.Kafka(t)
	b, st := feedenv.Open(t, feed)
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// pipeline starts a processor and the dead-letter copy, as highway
	// process does; the returned func stops them (a restart).
	pipeline := func() func() {
		return feedenv.Pipeline(ctx, t, b, st, st, stream.Config{Feed: feed, MaxRows: 100, MaxWait: 100 * time.Millisecond, Logger: quiet}, name)
	}
	stateDir := t.TempDir()
	connect := func() { t.Helper(); connectOnce(ctx, t, specFile, name, brokers, stateDir) }
	await := func(what, sql string, want uint64) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			var n uint64
			if err := st.QueryRow(ctx, []any{&n}, sql); err != nil {
				t.Fatal(err)
			}
			if n == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d, want %d", what, n, want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	rowsIn := "SELECT count() FROM " + feed.Table()
	deadIn := fmt.Sprintf("SELECT count() FROM %s.%s WHERE feed = '%s'", store.RestrictedDatabase(st.Database()), store.DeadLetterTable, name)
	ledger := quality.NewLedger(quality.Config{Store: st, Catalog: cat, Offsets: b, Bucket: time.Hour, Logger: quiet})
	runBucket := func(start time.Time, attempt int) {
		t.Helper()
		if n, err := ledger.Run(ctx, start, start.Add(time.Hour), attempt, "n1"); err != nil || n != 1 {
			t.Fatalf("ledger of %s: %d rows, %v", start.Format(time.RFC3339), n, err)
		}
	}
	hour := func(h int) time.Time { return qualityH0.Add(time.Duration(h) * time.Hour) }
	three, two := []string{"s1", "s2", "s3"}, []string{"s1", "s2"}

	// Phase 1: hours 0 and 1 (10:30 and 10:40 missing), and a reading out
	// of range, which the connector dead-letters now.
	stop := pipeline()
	phase1 := append(plantedHour(0, three, 40, false), plantedHour(1, three, 40, false, 3, 4)...)
	bad := sensorItem{Sensor: "s9", Value: 150, At: hour(1).Add(5 * time.Minute).Format(time.RFC3339)}
	serve(append(slices.Clone(phase1), bad))
	rejectedFrom := time.Now().UTC()
	connect()
	rejectedTo := time.Now().UTC()
	await("rows after phase 1", rowsIn, 30)
	await("dead letters after phase 1", deadIn, 1)
	runBucket(hour(0), 1)
	runBucket(hour(1), 1)
	before, err := st.ReadQuality(ctx, feed, hour(0), hour(2))
	if err != nil {
		t.Fatal(err)
	}

	// A restart of everything, then phase 2: hours 2 (s3 silent, level
	// null) and 3 (values up by 40), served with everything before (which
	// the connector does not publish again) and without the bad reading.
	stop()
	stop = pipeline()
	defer func() { stop() }()
	serve(append(append(phase1, plantedHour(2, two, 40, true)...), plantedHour(3, three, 80, false)...))
	connect()
	await("rows after phase 2", rowsIn, 60)
	runBucket(hour(2), 1)
	runBucket(hour(3), 1)
	runBucket(hour(1), 2) // a retried slot after the restart
	// The reject's bucket is the hour the connector rejected it in.
	var rejectedAt time.Time
	if err := st.QueryRow(ctx, []any{&rejectedAt}, "SELECT max(rejected_at) FROM "+strings.TrimPrefix(deadIn, "SELECT count() FROM ")); err != nil {
		t.Fatal(err)
	}
	if rejectedAt.Before(rejectedFrom.Truncate(time.Second)) || rejectedAt.After(rejectedTo) {
		t.Fatalf("the reject is dated %s, not while the connector ran (%s to %s)", rejectedAt, rejectedFrom, rejectedTo)
	}
	nowBucket := rejectedAt.UTC().Truncate(time.Hour)
	runBucket(nowBucket, 1)

	got, err := st.ReadQuality(ctx, feed, hour(0), hour(4))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d ledger rows of hours 0-3, want 4", len(got))
	}
	// The restart and the retry changed no figure of hours 0 and 1.
	for i := range before {
		a, b := before[i], got[i]
		a.Attempt, a.WrittenAt, b.Attempt, b.WrittenAt = 0, time.Time{}, 0, time.Time{}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if !bytes.Equal(ja, jb) {
			t.Errorf("hour %d changed across the restart:\nbefore %s\nafter  %s", i, ja, jb)
		}
	}
	if got[1].Attempt != 2 {
		t.Errorf("hour 1 read attempt %d, want the retry's 2", got[1].Attempt)
	}

	// By hand. Every row landed long after its event (a backfill), so all
	// are late. Keys expected: the most of the buckets before (3 from hour
	// 1 on). Baselines: the buckets before (no day-old buckets).
	type want struct {
		rows, late                     uint64
		present, gaps, keys, exp, miss uint32
		missing                        []string
		valueMean, levelNulls          float64
		drift                          uint32
		completeness, stability, score float64
	}
	wants := []want{
		{rows: 18, late: 18, present: 6, gaps: 0, keys: 3, exp: 0, valueMean: 50, completeness: 1, stability: 1, score: 100},
		{rows: 12, late: 12, present: 4, gaps: 2, keys: 3, exp: 3, valueMean: 50, completeness: 4.0 / 6, stability: 1, score: 90},
		// level null throughout: drift of its nulls (baseline 0); 4 fields checked.
		{rows: 12, late: 12, present: 6, keys: 2, exp: 3, miss: 1, missing: []string{"s3"}, valueMean: 45, levelNulls: 1, drift: 1,
			completeness: 2.0 / 3, stability: 0.75, score: 87.5},
		// value 90 against (50+50+45)/3 (more than half of it away); level's nulls 0 against 1/3.
		{rows: 18, late: 18, present: 6, keys: 3, exp: 3, valueMean: 90, drift: 2, completeness: 1, stability: 0.5, score: 95},
	}
	for i, w := range wants {
		r := got[i]
		var value, level store.FieldFigures
		for _, f := range r.Fields {
			switch f.Name {
			case "value":
				value = f
			case "level":
				level = f
			}
		}
		checks := []struct {
			what      string
			got, want any
		}{
			{"rows", r.Rows, w.rows}, {"late", r.Late, w.late}, {"rejected", r.Rejected, uint64(0)}, {"duplicates", r.Duplicates, uint64(0)},
			{"intervals_expected", r.IntervalsExpected, uint32(6)}, {"intervals_present", r.IntervalsPresent, w.present}, {"gaps", r.Gaps, w.gaps},
			{"keys_reporting", r.KeysReporting, w.keys}, {"keys_expected", r.KeysExpected, w.exp}, {"keys_missing", r.KeysMissing, w.miss},
			{"missing_keys", strings.Join(r.MissingKeys, ","), strings.Join(w.missing, ",")},
			{"freshness", r.Freshness, "fresh"}, {"value mean", deref(value.Mean), w.valueMean}, {"level null share", level.NullShare, w.levelNulls},
			{"drift_fields", r.DriftFields, w.drift}, {"completeness", round4(r.Parts.Completeness), round4(w.completeness)},
			{"stability", r.Parts.Stability, w.stability}, {"validity", r.Parts.Validity, 1.0}, {"score", r.Score, w.score},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("hour %d: %s = %v, want %v", i, c.what, c.got, c.want)
			}
		}
		if r.MaxDelaySeconds < int64(time.Since(qualityH0.Add(4*time.Hour))/time.Second)-3600 {
			t.Errorf("hour %d: max delay %ds, less than the backfill's", i, r.MaxDelaySeconds)
		}
	}
	// Hour 3 reconciles the messages of phase 2 (between the runs of hours
	// 1 and 2): all 30 in ClickHouse.
	if rc := got[3].Reconciliation; rc == nil || rc.Messages != 30 || rc.Stored != 30 || rc.Unexplained != 0 || rc.InFlight != 0 {
		t.Errorf("hour 3 reconciliation %+v, want 30 messages, all stored", rc)
	}
	if got[2].Reconciliation == nil || got[2].Reconciliation.Messages != 0 {
		t.Errorf("hour 2 reconciliation %+v, want none between the runs of hours 0 and 1", got[2].Reconciliation)
	}
	// The reject counts in the hour the connector rejected it.
	now, err := st.ReadQuality(ctx, feed, nowBucket, nowBucket.Add(time.Hour))
	if err != nil || len(now) != 1 {
		t.Fatalf("the reject's bucket: %v, %v", now, err)
	}
	r := now[0]
	var value store.FieldFigures
	for _, f := range r.Fields {
		if f.Name == "value" {
			value = f
		}
	}
	if r.Rows != 0 || r.Rejected != 1 || r.DeadLettered != 1 || r.Rejects.ByReason[quality.ClassRange] != 1 || r.Rejects.ByField["value"] != 1 ||
		value.OutOfRange != 1 || value.OutOfRangeShare != 1 || r.Freshness != "stale" || r.Score != 25 {
		t.Errorf("the reject's bucket: %+v", r)
	}
}

func deref(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }
