//go:build integration

package jobs

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/analytics/scheduler"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/internal/testenv"
)

// The hour under test: 10:00 to 11:00 in Hong Kong.
var (
	hourStart = time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	hourEnd   = hourStart.Add(time.Hour)
)

func at(d time.Duration) string { return fmt.Sprintf("toDateTime(%d)", hourStart.Add(d).Unix()) }

// seed writes hand-made rows into the four feeds' tables, as processors
// would (with provenance), including rows outside the hour, a duplicate, an
// out-of-range value and rows that the jobs must leave out.
func seed(t *testing.T, ctx context.Context, exec func(string) error) {
	t.Helper()
	// One INSERT ... SELECT per row: INSERT ... VALUES through the driver's
	// Exec leaves ClickHouse 18.16 waiting for data blocks.
	det := "INSERT INTO td_traffic_detectors (detector_id, lane_id, district, speed, occupancy, volume, valid, period_from, _topic, _partition, _offset, _ingested_at) "
	rain := "INSERT INTO hko_weather_rainfall (district, place, rain_max, end_time, _topic, _partition, _offset, _ingested_at) "
	temp := "INSERT INTO hko_weather_temperature (station, district, temperature, record_time, _topic, _partition, _offset, _ingested_at) "
	aqhi := "INSERT INTO epd_aqhi_stations (station, district, aqhi, publish_time, _topic, _partition, _offset, _ingested_at) "
	off := 0
	prov := func() string { off++; return fmt.Sprintf("'t', 0, %d, now()", off) }
	rows := [][]string{
		{det,
			fmt.Sprintf("('d1', 'Fast', 'YTM', 60, 10, 10, 1, %s, %s)", at(0), prov()),
			fmt.Sprintf("('d1', 'Fast', 'YTM', 60, 10, 10, 1, %s, %s)", at(0), prov()), // duplicate of the row above
			fmt.Sprintf("('d1', 'Fast', 'YTM', 80, 8, 5, 1, %s, %s)", at(30*time.Second), prov()),
			fmt.Sprintf("('d2', 'Slow', 'YTM', 40, 20, 3, 1, %s, %s)", at(time.Minute), prov()),
			fmt.Sprintf("('d3', 'Fast', 'YTM', 10, 5, 4, 0, %s, %s)", at(2*time.Minute), prov()),  // invalid
			fmt.Sprintf("('d4', 'Fast', 'YTM', 0, 0, 0, 1, %s, %s)", at(3*time.Minute), prov()),   // no traffic: speed is a placeholder
			fmt.Sprintf("('d5', 'Fast', NULL, 350, 5, 4, 1, %s, %s)", at(4*time.Minute), prov()),  // out of range, no district
			fmt.Sprintf("('d9', 'Slow', 'CW', 30, 40, 2, 1, %s, %s)", at(30*time.Minute), prov()), // the hour's latest
			fmt.Sprintf("('d1', 'Fast', 'YTM', 100, 1, 9, 1, %s, %s)", at(time.Hour), prov()),     // next hour
		},
		{rain,
			fmt.Sprintf("('YTM', 'Yau Tsim Mong', 5, %s, %s)", at(45*time.Minute), prov()),
			fmt.Sprintf("('CW', 'Central & Western', 0, %s, %s)", at(45*time.Minute), prov()),
			fmt.Sprintf("('SSP', 'Sham Shui Po', 9, %s, %s)", at(-15*time.Minute), prov()), // previous hour
		},
		{temp,
			fmt.Sprintf("('King''s Park', 'YTM', 20.5, %s, %s)", at(0), prov()),
			fmt.Sprintf("('Tsim Sha Tsui', 'YTM', 21.5, %s, %s)", at(0), prov()),
			fmt.Sprintf("('Central', 'CW', 22, %s, %s)", at(0), prov()),
		},
		{aqhi,
			fmt.Sprintf("('Mong Kok', 'YTM', 4, %s, %s)", at(0), prov()),
			fmt.Sprintf("('Central', 'CW', 6, %s, %s)", at(0), prov()),
			fmt.Sprintf("('Central/Western', 'CW', 3, %s, %s)", at(0), prov()),
		},
	}
	for _, table := range rows {
		for _, row := range table[1:] {
			q := table[0] + "SELECT " + strings.TrimSuffix(strings.TrimPrefix(row, "("), ")")
			if err := exec(q); err != nil {
				t.Fatalf("seeding: %v", err)
			}
		}
	}
}

func TestBuiltinJobs(t *testing.T) {
	ctx := context.Background()
	st := testenv.Store(t)
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"td.traffic.detectors", "hko.weather.rainfall", "hko.weather.temperature", "epd.aqhi.stations"} {
		if err := st.EnsureFeedTable(ctx, cat.Feed(f)); err != nil {
			t.Fatal(err)
		}
	}
	seed(t, ctx, func(q string) error { return st.Exec(ctx, q) })
	r := NewRunner(st, nil)
	for _, name := range []string{"city.district_hourly", "platform.feed_health"} {
		job := cat.Job(name)
		sched, err := job.Schedule()
		if err != nil {
			t.Fatal(err)
		}
		if next := sched.Next(hourStart); !next.Equal(hourEnd) {
			t.Fatalf("%s: the slot starting %v ends %v, want %v", name, hourStart, next, hourEnd)
		}
		if _, err := r.Run(ctx, job, scheduler.Run{Job: name, Start: hourStart, End: hourEnd, Attempt: 1, Node: "n1"}); err != nil {
			t.Fatal(err)
		}
		// A retry of the slot replaces, not doubles, the result.
		if _, err := r.Run(ctx, job, scheduler.Run{Job: name, Start: hourStart, End: hourEnd, Attempt: 2, Node: "n2"}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("city.district_hourly", func(t *testing.T) {
		got, err := st.QueryRows(ctx, `SELECT district, toUnixTimestamp(hour), avg_speed_kmh, speed_samples, rain_max_mm,
			avg_temperature_c, avg_aqhi, max_aqhi, _attempt FROM city_district_hourly_latest ORDER BY district`)
		if err != nil {
			t.Fatal(err)
		}
		// By hand: YTM speeds 60, 60 (the duplicate), 80, 40 → 60 over 4
		// samples (d3 invalid, d4 without traffic, d5 without district, the
		// 11:00 row in the next hour); CW 30 over 1. Rain: the windows ending
		// 10:45. Temperature: YTM (20.5+21.5)/2, CW 22. AQHI: YTM 4; CW
		// (6+3)/2 and max 6. SSP's rain ended in the previous hour.
		want := [][]any{
			{"CW", uint32(hourStart.Unix()), 30.0, uint64(1), 0.0, 22.0, 4.5, 6.0, uint32(2)},
			{"YTM", uint32(hourStart.Unix()), 60.0, uint64(4), 5.0, 21.0, 4.0, 4.0, uint32(2)},
		}
		compare(t, got, want)
	})
	t.Run("platform.feed_health", func(t *testing.T) {
		got, err := st.QueryRows(ctx, `SELECT feed, rows, keys, duplicates, range_violations, freshness_s, fresh,
			completeness, quality FROM platform_feed_health_latest ORDER BY feed`)
		if err != nil {
			t.Fatal(err)
		}
		// By hand. Detectors: 8 rows in the hour over 6 detector lanes; one
		// duplicate (d1 at 10:00); one out of range (d5, 350 km/h); latest at
		// 10:30, so 1800 s old at 11:00, more than 2 × 60 s; completeness
		// (8-1) / (6 × 60 per hour); quality × (1 - 1/8) × (1 - 1/8).
		complDet := 7.0 / 360.0
		want := [][]any{
			{"epd.aqhi.stations", uint64(3), uint64(3), int64(0), uint64(0), int64(3600), uint8(1), 1.0, 1.0},
			{"hko.weather.rainfall", uint64(2), uint64(2), int64(0), uint64(0), int64(900), uint8(1), 1.0, 1.0},
			{"hko.weather.temperature", uint64(3), uint64(3), int64(0), uint64(0), int64(3600), uint8(1), 1.0, 1.0},
			{"td.traffic.detectors", uint64(8), uint64(6), int64(1), uint64(1), int64(1800), uint8(0), complDet,
				math.Round(complDet*(7.0/8)*(7.0/8)*1e4) / 1e4},
		}
		compare(t, got, want)
	})
}

// compare checks rows value by value; Nullable values come as pointers.
func compare(t *testing.T, got, want [][]any) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d rows %v, want %d %v", len(got), got, len(want), want)
	}
	for i := range want {
		for j := range want[i] {
			g := deref(got[i][j])
			w := want[i][j]
			if wf, ok := w.(float64); ok {
				gf, ok := g.(float64)
				if !ok || math.Abs(gf-wf) > 1e-9 {
					t.Errorf("row %d column %d = %v (%T), want %v", i, j, g, g, w)
				}
				continue
			}
			if g != w {
				t.Errorf("row %d column %d = %v (%T), want %v (%T)", i, j, g, g, w, w)
			}
		}
	}
}

func deref(v any) any {
	switch p := v.(type) {
	case *float64:
		if p == nil {
			return nil
		}
		return *p
	case *int64:
		if p == nil {
			return nil
		}
		return *p
	case *string:
		if p == nil {
			return nil
		}
		return *p
	}
	return v
}
