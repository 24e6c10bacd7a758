package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// DefaultQuotas are the quotas of a department whose spec sets none and
// of a server started without --quota-* flags.
var DefaultQuotas = catalog.Quotas{RequestsPerMinute: 600, RowsPerDay: 50_000_000, BytesPerDay: 20 << 30, PushedRecordsPerMinute: 60_000}

// UsageStore keeps every department's usage per day where all API servers
// see it: *store.UsageLog.
type UsageStore interface {
	AddUsage(ctx context.Context, day time.Time, by map[string]store.Usage) error
	UsageOn(ctx context.Context, day time.Time) (map[string]store.Usage, error)
}

// Usage is GET /api/v1/me/usage: what the caller's department used today
// and may use.
type Usage struct {
	Department string `json:"department"`
	// Day is today in Hong Kong time, when the daily quotas count.
	Day string `json:"day"`
	// ResetsAt is when the daily quotas start again.
	ResetsAt time.Time  `json:"resets_at"`
	Used     UsageFigs  `json:"used"`
	Quotas   QuotaFigs  `json:"quotas"`
	Synced   *time.Time `json:"synced,omitempty"`
}

// UsageFigs are a day's usage.
type UsageFigs struct {
	Requests      uint64 `json:"requests"`
	Rows          uint64 `json:"rows"`
	Bytes         uint64 `json:"bytes"`
	PushedRecords uint64 `json:"pushed_records"`
}

// QuotaFigs are a department's quotas.
type QuotaFigs struct {
	RequestsPerMinute      int `json:"requests_per_minute"`
	RowsPerDay             int `json:"rows_per_day"`
	BytesPerDay            int `json:"bytes_per_day"`
	PushedRecordsPerMinute int `json:"pushed_records_per_minute"`
}

// meter counts what each department uses and refuses what is over its
// quotas. Daily figures are shared through a UsageStore: each server adds
// what it counted every sync and reads everyone's sums, so with several
// servers a department may overrun a daily quota by what the others
// counted since their last sync. The per-minute quotas are per server.
type meter struct {
	store    UsageStore
	defaults catalog.Quotas
	now      func() time.Time
	log      *slog.Logger

	mu      sync.Mutex
	day     time.Time                // the Hong Kong day counted (midnight, UTC location)
	synced  map[string]store.Usage   // everyone's sums at the last sync
	pending map[string]store.Usage   // counted here since
	minute  map[string]*rate.Limiter // requests per minute, per department
	pushes  map[string]*rate.Limiter // pushed records per minute, per department
	last    time.Time                // the last good sync
	failing bool                     // the last sync failed (logged once)

	used     *prometheus.CounterVec
	exceeded *prometheus.CounterVec
	done     chan struct{}
	stopped  chan struct{}
}

func newMeter(us UsageStore, defaults catalog.Quotas, every time.Duration, now func() time.Time, log *slog.Logger, reg prometheus.Registerer) *meter {
	m := &meter{store: us, defaults: defaults.Or(DefaultQuotas), now: now, log: log,
		synced: map[string]store.Usage{}, pending: map[string]store.Usage{}, minute: map[string]*rate.Limiter{}, pushes: map[string]*rate.Limiter{},
		used: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "highway_api_usage_total", Help: "What departments used of the API on this server: requests, rows, bytes (read) and pushed records, by department.",
		}, []string{"department", "kind"}),
		exceeded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "highway_api_quota_exceeded_total", Help: "Requests refused with 429 because a department's quota was used up, by department and quota.",
		}, []string{"department", "quota"}),
		done: make(chan struct{}), stopped: make(chan struct{}),
	}
	reg.MustRegister(m.used, m.exceeded)
	m.day = hkDay(now())
	if us == nil {
		close(m.stopped)
		return m
	}
	go m.run(every)
	return m
}

// hkDay is the Hong Kong date of t, as midnight in UTC.
func hkDay(t time.Time) time.Time {
	y, mo, d := t.In(catalog.DefaultLocation()).Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
}

// nextReset is when the Hong Kong day after t begins.
func nextReset(t time.Time) time.Time {
	y, mo, d := t.In(catalog.DefaultLocation()).Date()
	return time.Date(y, mo, d+1, 0, 0, 0, 0, catalog.DefaultLocation())
}

func (m *meter) run(every time.Duration) {
	defer close(m.stopped)
	m.sync()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-m.done:
			m.sync()
			return
		case <-t.C:
			m.sync()
		}
	}
}

func (m *meter) close() {
	select {
	case <-m.done:
	default:
		close(m.done)
	}
	<-m.stopped
}

// sync writes what this server counted and reads everyone's sums.
func (m *meter) sync() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m.mu.Lock()
	m.rollover()
	day, delta := m.day, m.pending
	m.pending = map[string]store.Usage{}
	m.mu.Unlock()
	err := m.store.AddUsage(ctx, day, delta)
	var sums map[string]store.Usage
	if err == nil {
		sums, err = m.store.UsageOn(ctx, day)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		for d, u := range delta { // counted again at the next sync
			m.pending[d] = m.pending[d].Add(u)
		}
		if !m.failing {
			m.log.Error("usage: syncing with ClickHouse failed; quotas count this server's usage only until it works again", "err", err)
		}
		m.failing = true
		return
	}
	if m.failing {
		m.log.Info("usage: syncing with ClickHouse works again")
	}
	m.failing = false
	if day.Equal(m.day) {
		m.synced, m.last = sums, m.now()
	}
}

// rollover starts a new day's counts when the Hong Kong day changed. The
// caller holds mu.
func (m *meter) rollover() {
	if d := hkDay(m.now()); !d.Equal(m.day) {
		m.day, m.synced, m.pending = d, map[string]store.Usage{}, map[string]store.Usage{}
	}
}

// quotas returns dept's quotas: its spec's, else the server's defaults.
func (m *meter) quotas(dept *catalog.Department) catalog.Quotas { return dept.Quotas.Or(m.defaults) }

// count adds u to dept's usage today.
func (m *meter) count(dept string, u store.Usage) {
	m.mu.Lock()
	m.rollover()
	m.pending[dept] = m.pending[dept].Add(u)
	m.mu.Unlock()
	for _, c := range [...]struct {
		kind string
		n    uint64
	}{{"requests", u.Requests}, {"rows", u.Rows}, {"bytes", u.Bytes}, {"pushed_records", u.Pushed}} {
		if c.n > 0 {
			m.used.WithLabelValues(dept, c.kind).Add(float64(c.n))
		}
	}
}

// usage returns dept's usage today as far as this server knows.
func (m *meter) usage(dept string) store.Usage {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rollover()
	return m.synced[dept].Add(m.pending[dept])
}

// perMinute takes n from dept's limiter in l for a quota of perMinute;
// when there is not enough it takes nothing and says how long to wait
// (over is true).
func (m *meter) perMinute(l map[string]*rate.Limiter, dept string, perMinute, n int) (over bool, wait time.Duration) {
	m.mu.Lock()
	lim, ok := l[dept]
	if !ok || lim.Burst() != perMinute {
		lim = rate.NewLimiter(rate.Limit(float64(perMinute)/60), perMinute)
		l[dept] = lim
	}
	m.mu.Unlock()
	if n > perMinute {
		return true, time.Minute
	}
	now := m.now()
	r := lim.ReserveN(now, n)
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now)
		return true, wait
	}
	return false, 0
}

// overQuota answers 429 and returns true when who's department has used
// up quota; n is how much the request takes (records for a push).
func (s *Server) overQuota(w http.ResponseWriter, who *principal, quota string, n int) bool {
	m, dept := s.meter, who.dept
	q := m.quotas(dept)
	var (
		over bool
		wait time.Duration
		msg  string
	)
	switch quota {
	case "requests_per_minute":
		over, wait = m.perMinute(m.minute, dept.Name, q.RequestsPerMinute, 1)
		msg = fmt.Sprintf("department %s made more than %d API requests in a minute", dept.Name, q.RequestsPerMinute)
	case "pushed_records_per_minute":
		over, wait = m.perMinute(m.pushes, dept.Name, q.PushedRecordsPerMinute, n)
		msg = fmt.Sprintf("department %s may push %d records a minute; this push of %d is more than is left", dept.Name, q.PushedRecordsPerMinute, n)
	case "daily":
		u, now := m.usage(dept.Name), m.now()
		wait = nextReset(now).Sub(now)
		switch {
		case q.RowsPerDay > 0 && u.Rows >= uint64(q.RowsPerDay):
			over, quota, msg = true, "rows_per_day", fmt.Sprintf("department %s has read %d rows today, its quota is %d", dept.Name, u.Rows, q.RowsPerDay)
		case q.BytesPerDay > 0 && u.Bytes >= uint64(q.BytesPerDay):
			over, quota, msg = true, "bytes_per_day", fmt.Sprintf("department %s has read %d bytes today, its quota is %d", dept.Name, u.Bytes, q.BytesPerDay)
		}
	}
	if !over {
		return false
	}
	secs := int((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", fmt.Sprint(max(secs, 1)))
	m.exceeded.WithLabelValues(dept.Name, quota).Inc()
	writeError(w, http.StatusTooManyRequests, "quota "+quota+" exceeded: "+msg,
		fmt.Sprintf("retry after %d s; GET /api/v1/me/usage shows your usage; an operator can raise the department's quotas in its spec", max(secs, 1)))
	return true
}

// meterAudited counts what an audited request used: rows and bytes read
// by queries, downloads and live tails, records pushed.
func (s *Server) meterAudited(e store.AuditEntry) {
	if e.Department == "" || s.meter == nil {
		return
	}
	switch e.Action {
	case "query", "download", "live":
		s.meter.count(e.Department, store.Usage{Rows: e.Rows, Bytes: e.Bytes})
	case "push":
		s.meter.count(e.Department, store.Usage{Pushed: e.Rows})
	}
}

func (s *Server) myUsage(w http.ResponseWriter, _ *http.Request, who *principal) {
	m := s.meter
	u, q, now := m.usage(who.dept.Name), m.quotas(who.dept), m.now()
	out := Usage{Department: who.dept.Name, Day: hkDay(now).Format(time.DateOnly), ResetsAt: nextReset(now).UTC(),
		Used:   UsageFigs{Requests: u.Requests, Rows: u.Rows, Bytes: u.Bytes, PushedRecords: u.Pushed},
		Quotas: QuotaFigs{RequestsPerMinute: q.RequestsPerMinute, RowsPerDay: q.RowsPerDay, BytesPerDay: q.BytesPerDay, PushedRecordsPerMinute: q.PushedRecordsPerMinute}}
	m.mu.Lock()
	if !m.last.IsZero() {
		last := m.last.UTC()
		out.Synced = &last
	}
	m.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}
