package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

type fakeStats map[string]store.FeedStats

func (f fakeStats) Stats(_ context.Context, feed *catalog.Feed) (store.FeedStats, error) {
	st, ok := f[feed.Name]
	if !ok {
		return store.FeedStats{}, errors.New("table missing")
	}
	return st, nil
}

func TestFeeds(t *testing.T) {
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	stats := fakeStats{
		"td.traffic.detectors":    {Rows: 42, LatestEvent: now.Add(-90 * time.Second)},
		"hko.weather.temperature": {Rows: 7, LatestEvent: now.Add(-4 * time.Hour)},
		"hko.weather.humidity":    {Rows: 1, LatestEvent: now.Add(-6 * time.Hour)},
		"hko.weather.uv":          {},
	}
	srv := New(Config{Catalog: cat, Stats: stats, Gatherer: prometheus.NewRegistry(), Now: func() time.Time { return now }})

	rr := httptest.NewRecorder()
	srv.ServeHTTP(rr, httptest.NewRequest("GET", "/api/v1/feeds", nil))
	if rr.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rr.Code, rr.Body)
	}
	var feeds []FeedInfo
	if err := json.Unmarshal(rr.Body.Bytes(), &feeds); err != nil {
		t.Fatal(err)
	}
	if len(feeds) != len(cat.Feeds()) {
		t.Fatalf("%d feeds, want %d", len(feeds), len(cat.Feeds()))
	}
	byName := map[string]FeedInfo{}
	for _, f := range feeds {
		byName[f.Name] = f
	}
	for _, tc := range []struct {
		feed      string
		rows      uint64
		freshness string
	}{
		{"td.traffic.detectors", 42, "fresh"},
		{"hko.weather.temperature", 7, "late"},
		{"hko.weather.humidity", 1, "stale"},
		{"hko.weather.uv", 0, "empty"},
		{"epd.aqhi.stations", 0, "unknown"},
	} {
		got := byName[tc.feed]
		if got.Rows != tc.rows || got.Freshness != tc.freshness {
			t.Errorf("%s: rows=%d freshness=%s, want %d %s", tc.feed, got.Rows, got.Freshness, tc.rows, tc.freshness)
		}
	}
	d := byName["td.traffic.detectors"]
	if d.Table != "td_traffic_detectors" || d.DLQTopic != "td.traffic.detectors.dlq" || d.LatestEventTime == nil || len(d.Fields) == 0 {
		t.Errorf("detectors entry: %+v", d)
	}

	rr = httptest.NewRecorder()
	srv.ServeHTTP(rr, httptest.NewRequest("GET", "/api/v1/feeds/no.such", nil))
	var body map[string]string
	_ = json.Unmarshal(rr.Body.Bytes(), &body)
	if rr.Code != http.StatusNotFound || body["error"] == "" || body["hint"] == "" {
		t.Errorf("unknown feed: %d %s", rr.Code, rr.Body)
	}
}
