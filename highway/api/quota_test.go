package api

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// fakeUsage is a UsageStore shared by several servers, as the ClickHouse
// table is.
type fakeUsage struct {
	mu   sync.Mutex
	rows map[string]map[string]store.Usage // day → department → sum
}

func (f *fakeUsage) AddUsage(_ context.Context, day time.Time, by map[string]store.Usage) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rows == nil {
		f.rows = map[string]map[string]store.Usage{}
	}
	d := day.Format(time.DateOnly)
	if f.rows[d] == nil {
		f.rows[d] = map[string]store.Usage{}
	}
	for dept, u := range by {
		f.rows[d][dept] = f.rows[d][dept].Add(u)
	}
	return nil
}

func (f *fakeUsage) UsageOn(_ context.Context, day time.Time) (map[string]store.Usage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]store.Usage{}
	for k, v := range f.rows[day.Format(time.DateOnly)] {
		out[k] = v
	}
	return out, nil
}

func TestQuotas(t *testing.T) {
	shared := &fakeUsage{}
	quotas := catalog.Quotas{RequestsPerMinute: 5, RowsPerDay: 10, BytesPerDay: 1 << 30, PushedRecordsPerMinute: 3}
	tune := func(c *Config) { c.Quotas, c.Usage, c.UsageSync = quotas, shared, time.Hour }
	a, b := newHarness(t, tune), newHarness(t, tune)

	// Requests per minute: the sixth in a minute is 429, naming the quota.
	for i := range 6 {
		rr := a.do("GET", "/api/v1/me", "EPD", "")
		if i < 5 && rr.Code != 200 {
			t.Fatalf("request %d: %d %s", i+1, rr.Code, rr.Body.String())
		}
		if i == 5 && (rr.Code != 429 || !strings.Contains(rr.Body.String(), "quota requests_per_minute exceeded") || rr.Header().Get("Retry-After") == "") {
			t.Fatalf("request 6: %d %q Retry-After %q", rr.Code, rr.Body.String(), rr.Header().Get("Retry-After"))
		}
	}
	// Pushed records per minute: 2 records go, then 2 more are over 3.
	rec := `{"camera":"C1","speed":50,"at":"2026-11-26T08:00:00+08:00"}`
	if rr := a.do("POST", "/api/v1/feeds/td.traffic.cameras/records", "TD", "["+rec+","+rec+"]"); rr.Code != 200 {
		t.Fatalf("first push: %d %s", rr.Code, rr.Body.String())
	}
	if rr := a.do("POST", "/api/v1/feeds/td.traffic.cameras/records", "TD", "["+rec+","+rec+"]"); rr.Code != 429 || !strings.Contains(rr.Body.String(), "pushed_records_per_minute") {
		t.Fatalf("second push: %d %s", rr.Code, rr.Body.String())
	}
	// Rows per day, counted across servers: b reports 10 rows read by
	// POLICE; once a has synced, POLICE's queries on a are refused until
	// midnight in Hong Kong.
	b.srv.meter.count("POLICE", store.Usage{Rows: 10, Bytes: 100})
	b.srv.meter.sync()
	a.srv.meter.sync()
	rr := a.do("POST", "/api/v1/query", "POLICE", `{"sql":"SELECT 1"}`)
	if rr.Code != 429 || !strings.Contains(rr.Body.String(), "quota rows_per_day exceeded: department POLICE has read 10 rows today, its quota is 10") {
		t.Fatalf("query over the daily rows: %d %s", rr.Code, rr.Body.String())
	}
	// 12:00 UTC is 20:00 in Hong Kong: 4 hours to midnight there.
	if got := rr.Header().Get("Retry-After"); got != "14400" {
		t.Errorf("Retry-After %q, want 14400", got)
	}
	var u Usage
	if err := json.Unmarshal(a.do("GET", "/api/v1/me/usage", "POLICE", "").Body.Bytes(), &u); err != nil {
		t.Fatal(err)
	}
	if u.Day != "2026-11-26" || u.Used.Rows != 10 || u.Quotas.RowsPerDay != 10 || u.ResetsAt.Format(time.RFC3339) != "2026-11-26T16:00:00Z" || u.Synced == nil {
		t.Errorf("usage %+v", u)
	}
	// A new day in Hong Kong starts afresh.
	a.now = a.now.Add(5 * time.Hour)
	if rr := a.do("POST", "/api/v1/query", "POLICE", `{"sql":"SELECT 1"}`); rr.Code == 429 {
		t.Errorf("the next day: %d %s", rr.Code, rr.Body.String())
	}
}

func TestDepartmentQuotaOverrides(t *testing.T) {
	m := newMeter(nil, catalog.Quotas{RowsPerDay: 100}, time.Hour, time.Now, discardLogger(), prometheus.NewRegistry())
	defer m.close()
	got := m.quotas(&catalog.Department{Name: "TD", Quotas: catalog.Quotas{RowsPerDay: 5}})
	if got.RowsPerDay != 5 || got.RequestsPerMinute != DefaultQuotas.RequestsPerMinute {
		t.Errorf("quotas %+v", got)
	}
}
