//go:build integration

package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/record"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/internal/testenv"
)

const specV1 = `
kind: feed
name: test.readings
department: TEST
fields:
  - {name: station, type: string, required: true}
  - {name: value, type: float64}
  - {name: count, type: int64, required: true}
  - {name: ok, type: bool}
  - {name: at, type: time, required: true}
key: [station]
event_time: at
interval: 1m
retention: 30d
`

func TestInsertRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := testenv.Store(t)
	feed := testenv.FeedTable(t, st, specV1)
	// Twice is a no-op.
	if err := st.EnsureFeedTable(ctx, feed); err != nil {
		t.Fatal(err)
	}
	dec := record.NewDecoder(feed)
	for _, r := range []string{
		`{"station":"HKO","value":21.5,"count":3,"ok":true,"at":"2026-11-26T08:00:00+08:00"}`,
		`{"station":"KP","value":null,"count":4,"at":1795651260000}`,
	} {
		if err := dec.Append([]byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	rec := dec.NewRecordBatch()
	defer rec.Release()
	prov := store.Provenance{Topic: "test.readings", Partitions: []int32{1, 1}, Offsets: []int64{41, 42}, IngestedAt: time.Now()}
	if err := st.Insert(ctx, feed, rec, prov); err != nil {
		t.Fatal(err)
	}

	var (
		station string
		value   *float64
		count   int64
		ok      *uint8
		at      time.Time
	)
	if err := st.QueryRow(ctx, []any{&station, &value, &count, &ok, &at}, "SELECT station, value, count, ok, at FROM test_readings WHERE station = 'HKO'"); err != nil {
		t.Fatal(err)
	}
	if station != "HKO" || value == nil || *value != 21.5 || count != 3 || ok == nil || *ok != 1 || !at.Equal(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("row HKO = %q %v %d %v %v", station, value, count, ok, at)
	}
	if err := st.QueryRow(ctx, []any{&station, &value, &count, &ok, &at}, "SELECT station, value, count, ok, at FROM test_readings WHERE station = 'KP'"); err != nil {
		t.Fatal(err)
	}
	if value != nil || ok != nil || count != 4 || at.Unix() != 1795651260 {
		t.Errorf("row KP = %q %v %d %v %v", station, value, count, ok, at)
	}

	next, found, err := st.ResumeOffset(ctx, feed, "test.readings", 1)
	if err != nil || !found || next != 43 {
		t.Errorf("ResumeOffset(partition 1) = %d, %v, %v; want 43, true", next, found, err)
	}
	_, found, err = st.ResumeOffset(ctx, feed, "test.readings", 0)
	if err != nil || found {
		t.Errorf("ResumeOffset(partition 0) found=%v err=%v; want nothing", found, err)
	}
	stats, err := st.Stats(ctx, feed)
	if err != nil || stats.Rows != 2 || stats.LatestEvent.Unix() != 1795651260 {
		t.Errorf("Stats = %+v, %v", stats, err)
	}
}

func TestSchemaEvolution(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := testenv.Store(t)
	testenv.FeedTable(t, st, specV1)
	added := specV1 + "" // a new optional field is added in place
	added = replaceOnce(added, "  - {name: at, type: time, required: true}", "  - {name: at, type: time, required: true}\n  - {name: note, type: string}")
	if err := st.EnsureFeedTable(ctx, testenv.Feed(t, added)); err != nil {
		t.Fatalf("adding an optional field: %v", err)
	}
	changed := replaceOnce(specV1, "{name: count, type: int64, required: true}", "{name: count, type: float64, required: true}")
	err := st.EnsureFeedTable(ctx, testenv.Feed(t, changed))
	if !errors.Is(err, store.ErrIncompatibleSchema) {
		t.Fatalf("changing a type: err = %v, want ErrIncompatibleSchema", err)
	}
	t.Logf("type change: %v", err)
	required := replaceOnce(specV1, "  - {name: at, type: time, required: true}", "  - {name: at, type: time, required: true}\n  - {name: must, type: string, required: true}")
	if err := st.EnsureFeedTable(ctx, testenv.Feed(t, required)); !errors.Is(err, store.ErrIncompatibleSchema) {
		t.Fatalf("new required field: err = %v, want ErrIncompatibleSchema", err)
	}
}

func replaceOnce(s, old, new string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	panic("not found: " + old)
}
