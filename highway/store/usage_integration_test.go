//go:build integration

package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/internal/testenv"
)

// Two API servers add usage to one table; both read the sums, per day.
func TestUsageLogSumsServers(t *testing.T) {
	st := testenv.Store(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	table := testenv.Name("usage")
	a, err := st.OpenUsageLog(ctx, table)
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.OpenUsageLog(ctx, table)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	if err := a.AddUsage(ctx, day, map[string]store.Usage{"TD": {Requests: 3, Rows: 100, Bytes: 1000}, "EPD": {Pushed: 7}}); err != nil {
		t.Fatal(err)
	}
	if err := b.AddUsage(ctx, day, map[string]store.Usage{"TD": {Requests: 2, Rows: 50}}); err != nil {
		t.Fatal(err)
	}
	if err := b.AddUsage(ctx, day.AddDate(0, 0, 1), map[string]store.Usage{"TD": {Requests: 1}}); err != nil {
		t.Fatal(err)
	}
	got, err := a.UsageOn(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	if got["TD"] != (store.Usage{Requests: 5, Rows: 150, Bytes: 1000}) || got["EPD"] != (store.Usage{Pushed: 7}) || len(got) != 2 {
		t.Fatalf("usage on %s: %+v", day.Format(time.DateOnly), got)
	}
}
