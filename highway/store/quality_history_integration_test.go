//go:build integration

package store_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/store"
)

// The feed as it was at a time, and what changed since one, against a hand
// computation: rows landing at four times, two of them corrections (the
// same station and event time again, with another value).
func TestQueryFeedHistory(t *testing.T) {
	ctx := context.Background()
	st, feed := openWithReadings(t, 0)
	// Before the ledger's tables exist, the ledger is empty, not an error.
	if rows, err := st.LatestQuality(ctx, feed, 24); err != nil || len(rows) != 0 {
		t.Fatalf("the ledger before its tables: %v, %v", rows, err)
	}
	const e = 1795651200 // 2026-11-26T00:00:00Z, the events
	i0 := int64(e + 100) // when rows landed
	i1, i2, i3 := i0+10, i0+20, i0+30
	rows := []struct {
		station    string
		count, at  int64
		ingestedAt int64
	}{
		{"S0", 1, e, i0},
		{"S1", 2, e, i0},
		{"S0", 3, e + 60, i1},
		{"S0", 4, e, i2}, // corrects count 1
		{"S2", 5, e + 60, i3},
		{"S1", 6, e, i3}, // corrects count 2
	}
	for off, r := range rows {
		q := fmt.Sprintf("INSERT INTO %s.test_readings (station, count, at, _topic, _partition, _offset, _ingested_at) SELECT '%s', %d, toDateTime(%d), 'test.readings', 0, %d, toDateTime(%d)",
			st.Database(), r.station, r.count, r.at, off, r.ingestedAt)
		if err := st.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	at := func(s int64) time.Time { return time.Unix(s, 0) }
	tests := []struct {
		name   string
		h      store.History
		sorted bool // the order is the storage's: compare sorted
		want   []string
	}{
		{"everything", store.History{}, true, []string{"S0,1", "S0,3", "S0,4", "S1,2", "S1,6", "S2,5"}},
		{"as of the first landing", store.History{AsOf: at(i0)}, false, []string{"S0,1", "S1,2"}},
		{"as of the first correction", store.History{AsOf: at(i2)}, false, []string{"S0,4", "S0,3", "S1,2"}},
		{"as of the end", store.History{AsOf: at(i3 + 5)}, false, []string{"S0,4", "S0,3", "S1,6", "S2,5"}},
		{"before anything", store.History{AsOf: at(i0 - 1)}, false, nil},
		{"changed since the first correction", store.History{ChangedSince: at(i2)}, true, []string{"S0,4", "S1,6", "S2,5"}},
		{"changed since, as of", store.History{ChangedSince: at(i1), AsOf: at(i2)}, false, []string{"S0,4", "S0,3"}},
		{"changed since the end", store.History{ChangedSince: at(i3 + 1)}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if _, err := st.QueryFeedHistory(ctx, feed, []string{"station", "count"}, at(e), at(e+3600), tt.h, 0,
				store.Limits{MaxExecutionTime: 10 * time.Second}, store.FormatCSV, &buf); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(buf.String()), "\r\n")[1:] // CSV lines end in CRLF; the first is the header
			for i, l := range lines {
				lines[i] = strings.TrimSpace(strings.ReplaceAll(l, `"`, ""))
			}
			if tt.sorted {
				slices.Sort(lines)
			}
			if !slices.Equal(lines, tt.want) && !(len(lines) == 0 && len(tt.want) == 0) {
				t.Errorf("got %q, want %q (all: %q)", lines, tt.want, buf.String())
			}
		})
	}
}
