package portal

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/prometheus/client_golang/prometheus"
	"time"

	"github.com/cityhighway/highway/highway/api"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/control"
	"github.com/cityhighway/highway/highway/store"
)

// testNow is the fixed clock of the unit tests.
var testNow = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

// extraSpecs add a restricted feed and a department granted it to the
// built-in catalogue.
const extraSpecs = `kind: feed
name: police.cases.open
department: POLICE
title: {en: Open police cases, zh-Hant: 警方案件}
description: Cases per district.
access: restricted
fields:
  - {name: case_id, type: string, required: true}
  - {name: district, type: string}
  - {name: officer, type: string, personal: true}
  - {name: at, type: time, required: true}
key: [case_id]
event_time: at
interval: 1h
---
kind: department
name: TD
description: Transport Department
grants: [police.cases.open]
`

// fakeStats says every feed has rows up to testNow, and counts its calls.
type fakeStats struct{ calls atomic.Int64 }

func (s *fakeStats) Stats(_ context.Context, f *catalog.Feed) (store.FeedStats, error) {
	s.calls.Add(1)
	return store.FeedStats{Rows: 1000, LatestEvent: testNow.Add(-f.Interval / 2)}, nil
}

// fakeTokens holds tokens by value; revoke removes one.
type fakeTokens struct {
	mu     sync.Mutex
	tokens map[string]string // token → department
}

func (t *fakeTokens) Verify(token string) (api.TokenInfo, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d, ok := t.tokens[token]
	return api.TokenInfo{ID: "tok_" + d, Department: d}, ok
}

func (t *fakeTokens) revoke(token string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.tokens, token)
}

// fakeQuerier answers the portal's queries with made-up results shaped as
// each query asks (one value per selected expression), and records them.
type fakeQuerier struct {
	mu      sync.Mutex
	queries []string
}

var selectList = regexp.MustCompile(`(?s)^SELECT (.*?) FROM `)

func (q *fakeQuerier) Query(_ context.Context, sql string, _ store.Limits, _ store.Format, w io.Writer) (store.QueryStats, error) {
	q.mu.Lock()
	q.queries = append(q.queries, sql)
	q.mu.Unlock()
	var names []string
	var rows [][]string
	at := `"` + testNow.Add(-time.Minute).Format(time.RFC3339) + `"`
	switch {
	case strings.Contains(sql, "GROUP BY d ") || strings.Contains(sql, "GROUP BY district "):
		names = []string{"d", "v", "at"}
		for i, p := range tilePlaces {
			rows = append(rows, []string{`"` + p.code + `"`, fmt.Sprint(40 + i), at})
		}
	case strings.Contains(sql, "GROUP BY family"):
		names = []string{"family", "code", "name", "action", "issue_time"}
		rows = [][]string{{`"WRAIN"`, `"WRAINA"`, `"Amber Rainstorm Warning Signal"`, `"ISSUE"`, at}, {`"WTCSGNL"`, `"TC1"`, `"Standby Signal No. 1"`, `"CANCEL"`, at}}
	case strings.Contains(sql, "bucket_start") || strings.Contains(sql, "slot_start"):
		names = []string{"t", "v"}
		for i := range 24 {
			rows = append(rows, []string{fmt.Sprint(testNow.Add(time.Duration(i-24) * time.Hour).Unix()), fmt.Sprint(20 + i%5)})
		}
	case strings.HasPrefix(sql, "SELECT * FROM"):
		names = []string{"district", "hour", "avg_speed_kmh", "rain_max_mm", store.ColSlot, store.ColAttempt}
		for _, p := range tilePlaces {
			rows = append(rows, []string{`"` + p.code + `"`, at, "55.5", "2", at, "1"})
		}
	default:
		m := selectList.FindStringSubmatch(sql)
		if m == nil {
			return store.QueryStats{}, fmt.Errorf("fake: cannot answer %q", sql)
		}
		names = strings.Split(m[1], ", ")
		for r := range 20 {
			row := make([]string, len(names))
			for i := range names {
				row[i] = fmt.Sprintf(`"v%d"`, r)
			}
			rows = append(rows, row)
		}
	}
	var b strings.Builder
	b.WriteString(`{"meta":[`)
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		typ := "String"
		if strings.HasPrefix(n, "avg") || n == "v" {
			typ = "Nullable(Float64)"
		}
		fmt.Fprintf(&b, `{"name":%q,"type":%q}`, n, typ)
	}
	b.WriteString(`],"data":[`)
	for r, row := range rows {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		for i, v := range row {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q:%s", names[i], v)
		}
		b.WriteByte('}')
	}
	fmt.Fprintf(&b, `],"rows":%d}`, len(rows))
	n, err := io.WriteString(w, b.String())
	return store.QueryStats{Rows: uint64(len(rows)), Written: int64(n)}, err
}

func (q *fakeQuerier) QueryFeed(context.Context, *catalog.Feed, []string, time.Time, time.Time, uint64, store.Limits, store.Format, io.Writer) (store.QueryStats, error) {
	return store.QueryStats{}, fmt.Errorf("fake: QueryFeed is not used by the portal")
}

// testPortal is a portal over the built-in catalogue plus extraSpecs, with
// fakes behind it; the token "td-token" belongs to TD (granted the
// restricted feed), "epd-token" to EPD, "police-token" to POLICE (which
// owns it), "hko-token" to HKO.
type testPortal struct {
	*Server
	tokens *fakeTokens
	q      *fakeQuerier
	stats  *fakeStats
	// control is the control plane holding access requests and grants.
	control *fakeControl
}

func newTestPortal(t testing.TB) *testPortal {
	t.Helper()
	builtin, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.LoadFS(builtin, fstest.MapFS{"extra.yaml": {Data: []byte(extraSpecs)}}, ".")
	if err != nil {
		t.Fatal(err)
	}
	tokens := &fakeTokens{tokens: map[string]string{"td-token": "TD", "epd-token": "EPD", "ghost-token": "GHOST", "police-token": "POLICE", "hko-token": "HKO"}}
	q := &fakeQuerier{}
	stats := &fakeStats{}
	fc := &fakeControl{changed: make(chan struct{})}
	a := api.New(api.Config{Catalog: cat, Stats: stats, Gatherer: prometheus.NewRegistry(), Tokens: tokens, Querier: q, Database: "default",
		Control: fc, Requests: fc, Grants: fc,
		Now: func() time.Time { return testNow }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	p, err := New(Config{API: a, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		DistrictName: func(code, lang string) string { return lang + ":" + code }})
	if err != nil {
		t.Fatal(err)
	}
	return &testPortal{Server: p, tokens: tokens, q: q, stats: stats, control: fc}
}

// fakeControl is the control plane in memory: it applies changes as the
// raft FSM does (control.State.Apply) at testNow and is its own replica
// of requests and grants.
type fakeControl struct {
	mu      sync.Mutex
	st      control.State
	changed chan struct{}
}

func (f *fakeControl) Apply(_ context.Context, ch *control.Change) (control.Applied, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.st.Apply(ch, testNow); err != nil {
		return control.Applied{}, err
	}
	f.st.Index++
	close(f.changed)
	f.changed = make(chan struct{})
	return control.Applied{Index: f.st.Index}, nil
}

func (f *fakeControl) Requests() []control.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.st.Requests)
}

func (f *fakeControl) Grants() []control.Grant {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.st.Grants)
}

func (f *fakeControl) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}
