package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/internal/testenv"
)

// testSpecs: an open feed of TD with a personal field, an open feed of
// EPD, a restricted feed of POLICE granted to TD, and an admin department.
var testSpecs = `
kind: feed
name: td.traffic.cameras
department: TD
licence: DATA.GOV.HK terms of use
fields:
  - {name: camera, type: string, required: true}
  - {name: plate, type: string, personal: true}
  - {name: speed, type: float64, min: 0, max: 300}
  - {name: at, type: time, required: true}
key: [camera]
event_time: at
interval: 1m
---
kind: feed
name: epd.air.test
department: EPD
fields:
  - {name: station, type: string, required: true}
  - {name: at, type: time, required: true}
key: [station]
event_time: at
interval: 1h
---
` + testenv.PoliceCases + `---
kind: department
name: TD
description: Transport Department
grants: [police.cases]
---
kind: department
name: OPS
admin: true
`

type fakeStats map[string]store.FeedStats

func (f fakeStats) Stats(_ context.Context, feed *catalog.Feed) (store.FeedStats, error) {
	st, ok := f[feed.Name]
	if !ok {
		return store.FeedStats{}, errors.New("table missing")
	}
	return st, nil
}

// fakeQuerier records what it is asked and answers one row. err fails a
// query before anything is written; late fails it after its first bytes,
// as a query that hits a limit midway does.
type fakeQuerier struct {
	mu      sync.Mutex
	sql     []string
	columns []string
	err     error
	late    error
}

func (q *fakeQuerier) Query(_ context.Context, sql string, _ store.Limits, f store.Format, w io.Writer) (store.QueryStats, error) {
	q.mu.Lock()
	q.sql = append(q.sql, sql)
	q.mu.Unlock()
	if q.err != nil {
		return store.QueryStats{}, q.err
	}
	n, _ := fmt.Fprintf(w, `{"format":%q}`, f)
	return store.QueryStats{Rows: 1, Columns: 1, Written: int64(n)}, q.late
}

func (q *fakeQuerier) QueryFeed(_ context.Context, feed *catalog.Feed, columns []string, _, _ time.Time, _ uint64, _ store.Limits, f store.Format, w io.Writer) (store.QueryStats, error) {
	q.mu.Lock()
	q.columns = columns
	q.mu.Unlock()
	n, _ := fmt.Fprintf(w, "%s\n", strings.Join(columns, ","))
	return store.QueryStats{Rows: 0, Columns: len(columns), Written: int64(n)}, q.late
}

type fakeProducer struct {
	mu      sync.Mutex
	good    []bus.Message
	bad     []bus.Message
	reasons []string
}

func (p *fakeProducer) Produce(_ context.Context, msgs ...bus.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.good = append(p.good, msgs...)
	return nil
}

func (p *fakeProducer) SendDeadLetters(_ context.Context, msgs []bus.Message, reasons []string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bad = append(p.bad, msgs...)
	p.reasons = append(p.reasons, reasons...)
	return nil
}

// fakeTail sends msgs every 10 ms until the end: a feed that keeps
// publishing. (Sent once, a client that joined a tail still running for
// the client before it, whose disconnect the server had not yet seen,
// would wait for nothing.)
type fakeTail struct{ msgs []bus.Message }

func (t fakeTail) Tail(ctx context.Context, _ string, fn func(bus.Message) error) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, m := range t.msgs {
			if err := fn(m); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

type fakeAudit struct {
	mu      sync.Mutex
	entries []store.AuditEntry
}

func (a *fakeAudit) Record(e store.AuditEntry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append(a.entries, e)
}

// harness is a server with fakes and one token per department.
type harness struct {
	srv     *Server
	tokens  map[string]string // department (or "revoked") → token
	querier *fakeQuerier
	// restricted is the RestrictedQuerier: only queries that read a
	// restricted table may reach it.
	restricted *fakeQuerier
	producer   *fakeProducer
	audit      *fakeAudit
	now        time.Time
}

func newHarness(t *testing.T, tune func(*Config)) *harness {
	t.Helper()
	cat, err := catalog.Parse("test.yaml", []byte(testSpecs))
	if err != nil {
		t.Fatal(err)
	}
	tf, err := OpenTokenFile(filepath.Join(t.TempDir(), "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{tokens: map[string]string{}, querier: &fakeQuerier{}, restricted: &fakeQuerier{}, producer: &fakeProducer{}, audit: &fakeAudit{},
		now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	for _, d := range []string{"TD", "EPD", "POLICE", "OPS", "GONE", "revoked"} {
		dept := d
		if d == "revoked" {
			dept = "TD"
		}
		tok, info, err := tf.Create(dept, "test")
		if err != nil {
			t.Fatal(err)
		}
		h.tokens[d] = tok
		if d == "revoked" {
			if err := tf.Revoke(info.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	cfg := Config{
		Catalog: cat, Stats: fakeStats{"td.traffic.cameras": {Rows: 3, LatestEvent: h.now.Add(-time.Minute)}},
		Gatherer: prometheus.NewRegistry(), Now: func() time.Time { return h.now },
		Tokens: tf, Querier: h.querier, RestrictedQuerier: h.restricted, Database: "highway", Producer: h.producer, Audit: h.audit,
		Tail:   fakeTail{msgs: []bus.Message{{Topic: "police.cases", Partition: 1, Offset: 7, Value: []byte("{\n\"case_id\": \"C1\"}")}}},
		Ready:  []Check{{Name: "clickhouse", Check: func(context.Context) error { return nil }}},
		Logger: discardLogger(),
	}
	if tune != nil {
		tune(&cfg)
	}
	h.srv = New(cfg)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) do(method, path, token, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		if tok, ok := h.tokens[token]; ok {
			token = tok
		}
		r.Header.Set("Authorization", "Bearer "+token)
	}
	rr := httptest.NewRecorder()
	h.srv.ServeHTTP(rr, r)
	return rr
}

// routeCase is one call and what it must answer: the exact status and, for
// errors, the exact "error" of the body.
type routeCase struct {
	name         string
	method, path string
	token        string // a department, "revoked", "bogus", or "" for none
	body         string
	status       int
	err          string
	check        func(t *testing.T, rr *httptest.ResponseRecorder)
}

const (
	errNoToken  = "missing bearer token"
	errBadToken = "invalid or revoked token"
)

func runCases(t *testing.T, h *harness, cases []routeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rr := h.do(tc.method, tc.path, tc.token, tc.body)
			if rr.Code != tc.status {
				t.Fatalf("%s %s as %q: status %d, want %d; body %s", tc.method, tc.path, tc.token, rr.Code, tc.status, rr.Body)
			}
			if tc.err != "" {
				var body errorBody
				if err := json.Unmarshal(rr.Body.Bytes(), &body); err != nil {
					t.Fatalf("error body is not JSON: %s", rr.Body)
				}
				if body.Error != tc.err || body.Hint == "" {
					t.Errorf("error %q (hint %q), want %q with a hint", body.Error, body.Hint, tc.err)
				}
				if ct := rr.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("error content type %q", ct)
				}
			}
			if tc.check != nil {
				tc.check(t, rr)
			}
		})
	}
}

func feedNames(t *testing.T, rr *httptest.ResponseRecorder) []string {
	t.Helper()
	var feeds []struct {
		Name   string      `json:"name"`
		Fields []FieldInfo `json:"fields"`
	}
	if err := json.Unmarshal(rr.Body.Bytes(), &feeds); err != nil {
		t.Fatalf("%v: %s", err, rr.Body)
	}
	var names []string
	for _, f := range feeds {
		names = append(names, f.Name)
	}
	return names
}

func wantFeeds(want ...string) func(*testing.T, *httptest.ResponseRecorder) {
	return func(t *testing.T, rr *httptest.ResponseRecorder) {
		if got := feedNames(t, rr); !slices.Equal(got, want) {
			t.Errorf("feeds %v, want %v", got, want)
		}
	}
}

func TestRouteFeeds(t *testing.T) {
	h := newHarness(t, nil)
	runCases(t, h, []routeCase{
		{name: "no token", method: "GET", path: "/api/v1/feeds", status: 401, err: errNoToken,
			check: func(t *testing.T, rr *httptest.ResponseRecorder) {
				if rr.Header().Get("WWW-Authenticate") == "" {
					t.Error("no WWW-Authenticate header")
				}
			}},
		{name: "not bearer", method: "GET", path: "/api/v1/feeds", token: "", status: 401, err: errNoToken},
		{name: "bogus token", method: "GET", path: "/api/v1/feeds", token: "bogus", status: 401, err: errBadToken},
		{name: "revoked token", method: "GET", path: "/api/v1/feeds", token: "revoked", status: 401, err: errBadToken},
		{name: "undeclared department", method: "GET", path: "/api/v1/feeds", token: "GONE", status: 403,
			err: `the token's department "GONE" is not declared`},
		{name: "department without grant", method: "GET", path: "/api/v1/feeds", token: "EPD", status: 200,
			check: wantFeeds("epd.air.test", "td.traffic.cameras")},
		{name: "granted department", method: "GET", path: "/api/v1/feeds", token: "TD", status: 200,
			check: wantFeeds("epd.air.test", "police.cases", "td.traffic.cameras")},
		{name: "owner", method: "GET", path: "/api/v1/feeds", token: "POLICE", status: 200,
			check: wantFeeds("epd.air.test", "police.cases", "td.traffic.cameras")},
		{name: "admin", method: "GET", path: "/api/v1/feeds", token: "OPS", status: 200,
			check: wantFeeds("epd.air.test", "police.cases", "td.traffic.cameras")},
	})
}

func TestRouteFeed(t *testing.T) {
	h := newHarness(t, nil)
	runCases(t, h, []routeCase{
		{name: "no token", method: "GET", path: "/api/v1/feeds/police.cases", status: 401, err: errNoToken},
		{name: "wrong department", method: "GET", path: "/api/v1/feeds/police.cases", token: "EPD", status: 404, err: "no feed called police.cases"},
		{name: "unknown feed", method: "GET", path: "/api/v1/feeds/no.such", token: "OPS", status: 404, err: "no feed called no.such"},
		{name: "granted", method: "GET", path: "/api/v1/feeds/police.cases", token: "TD", status: 200},
		{name: "owner", method: "GET", path: "/api/v1/feeds/police.cases", token: "POLICE", status: 200},
		{name: "admin", method: "GET", path: "/api/v1/feeds/police.cases", token: "OPS", status: 200},
		{name: "open feed, any department", method: "GET", path: "/api/v1/feeds/td.traffic.cameras", token: "EPD", status: 200,
			check: func(t *testing.T, rr *httptest.ResponseRecorder) {
				var fi FeedInfo
				_ = json.Unmarshal(rr.Body.Bytes(), &fi)
				if fi.Rows != 3 || fi.Freshness != "fresh" || fi.Table != "td_traffic_cameras" || fi.DLQTopic != "td.traffic.cameras.dlq" || len(fi.Fields) != 4 {
					t.Errorf("feed info %+v", fi)
				}
			}},
	})
}

func TestRoutePush(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.MaxPushBytes = 1000
		c.MaxPushRecords = 3
		c.TokenRate = Rate{PerSecond: 0.001, Burst: 5}
	})
	good := `[{"camera":"C1","plate":"AB123","speed":50,"at":"2026-11-26T08:00:00+08:00"},{"camera":"C2","speed":500,"at":1795651260000}]`
	runCases(t, h, []routeCase{
		{name: "no token", method: "POST", path: "/api/v1/feeds/td.traffic.cameras/records", body: good, status: 401, err: errNoToken},
		{name: "wrong department", method: "POST", path: "/api/v1/feeds/td.traffic.cameras/records", token: "EPD", body: good, status: 403,
			err: "only TD, the owner of td.traffic.cameras, may push to it; you are EPD"},
		{name: "admin is not the owner", method: "POST", path: "/api/v1/feeds/td.traffic.cameras/records", token: "OPS", body: good, status: 403,
			err: "only TD, the owner of td.traffic.cameras, may push to it; you are OPS"},
		{name: "invisible feed", method: "POST", path: "/api/v1/feeds/police.cases/records", token: "EPD", body: good, status: 404, err: "no feed called police.cases"},
		{name: "owner", method: "POST", path: "/api/v1/feeds/td.traffic.cameras/records", token: "TD", body: good, status: 200,
			check: func(t *testing.T, rr *httptest.ResponseRecorder) {
				var rep PushReport
				_ = json.Unmarshal(rr.Body.Bytes(), &rep)
				if rep.Accepted != 1 || rep.Rejected != 1 || rep.Results[1].Status != "rejected" || rep.Results[1].Field != "speed" ||
					rep.Results[1].Reason != "field speed: value 500: above the maximum 300" {
					t.Errorf("report %+v", rep)
				}
				if len(h.producer.good) != 1 || string(h.producer.good[0].Key) != "C1" || h.producer.good[0].Topic != "td.traffic.cameras" {
					t.Errorf("produced %+v", h.producer.good)
				}
				if len(h.producer.bad) != 1 || h.producer.bad[0].Offset != -1 || !strings.Contains(h.producer.reasons[0], "speed") {
					t.Errorf("dead letters %+v %v", h.producer.bad, h.producer.reasons)
				}
			}},
		{name: "ndjson, all rejected", method: "POST", path: "/api/v1/feeds/td.traffic.cameras/records", token: "TD",
			body: "{\"camera\":\"C1\"}\nnot json\n", status: 422},
		{name: "not json", method: "POST", path: "/api/v1/feeds/td.traffic.cameras/records", token: "TD", body: "[1,", status: 400,
			err: "the body starts with '[' but is not a JSON array: unexpected end of JSON input"},
		{name: "too many records", method: "POST", path: "/api/v1/feeds/td.traffic.cameras/records", token: "TD", body: "{}\n{}\n{}\n{}\n", status: 413,
			err: "too many records: at most 3 per push"},
		{name: "too big", method: "POST", path: "/api/v1/feeds/td.traffic.cameras/records", token: "TD", body: strings.Repeat(" ", 1001), status: 413,
			err: "the body is larger than 1000 bytes"},
		{name: "rate limited", method: "POST", path: "/api/v1/feeds/td.traffic.cameras/records", token: "TD", body: good, status: 429,
			err: "rate limit exceeded: at most 0.001 requests per second per token",
			check: func(t *testing.T, rr *httptest.ResponseRecorder) {
				if rr.Header().Get("Retry-After") == "" {
					t.Error("no Retry-After")
				}
			}},
	})
	if n := len(h.audit.entries); n == 0 || h.audit.entries[0].Action != "push" || h.audit.entries[0].Department != "TD" {
		t.Errorf("audit %+v", h.audit.entries)
	}
}

func TestRouteQuery(t *testing.T) {
	h := newHarness(t, nil)
	q := func(sql string) string { b, _ := json.Marshal(QueryRequest{SQL: sql, Format: "csv"}); return string(b) }
	runCases(t, h, []routeCase{
		{name: "no token", method: "POST", path: "/api/v1/query", body: q("SELECT 1"), status: 401, err: errNoToken},
		{name: "wrong department", method: "POST", path: "/api/v1/query", token: "EPD", body: q("SELECT * FROM highway_restricted.police_cases"), status: 400,
			err: `query refused: there is no table "highway_restricted.police_cases" that you may read; GET /api/v1/me lists the tables you may read`,
			check: func(t *testing.T, rr *httptest.ResponseRecorder) {
				var b errorBody
				_ = json.Unmarshal(rr.Body.Bytes(), &b)
				if b.Code != "unknown_table" || b.Position == nil || *b.Position != 14 {
					t.Errorf("body %+v", b)
				}
			}},
		{name: "wrong department, bare name", method: "POST", path: "/api/v1/query", token: "EPD", body: q("SELECT * FROM police_cases"), status: 400,
			err: `query refused: there is no table "police_cases" that you may read; GET /api/v1/me lists the tables you may read`},
		{name: "granted department", method: "POST", path: "/api/v1/query", token: "TD", body: q("SELECT * FROM highway_restricted.police_cases"), status: 200,
			check: func(t *testing.T, rr *httptest.ResponseRecorder) {
				if rr.Header().Get("Content-Type") != "text/csv; charset=utf-8" || rr.Body.String() != `{"format":"csv"}` {
					t.Errorf("%s %s", rr.Header(), rr.Body)
				}
			}},
		{name: "granted department, bare name", method: "POST", path: "/api/v1/query", token: "TD", body: q("SELECT * FROM police_cases"), status: 400,
			err: `query refused: "police_cases" is a restricted table: write it as highway_restricted.police_cases`},
		{name: "granted department, open table", method: "POST", path: "/api/v1/query", token: "TD", body: q("SELECT * FROM td_traffic_cameras"), status: 200},
		{name: "owner", method: "POST", path: "/api/v1/query", token: "POLICE", body: q("SELECT * FROM `highway_restricted`.police_cases"), status: 200},
		{name: "admin reads the audit log", method: "POST", path: "/api/v1/query", token: "OPS", body: q("SELECT * FROM highway_restricted.highway_audit"), status: 200},
		{name: "admin, audit log by its bare name", method: "POST", path: "/api/v1/query", token: "OPS", body: q("SELECT * FROM highway_audit"), status: 400,
			err: `query refused: "highway_audit" is a restricted table: write it as highway_restricted.highway_audit`},
		{name: "admin, audit log in the open database", method: "POST", path: "/api/v1/query", token: "OPS", body: q("SELECT * FROM highway.highway_audit"), status: 400,
			err: `query refused: there is no table "highway.highway_audit" that you may read; GET /api/v1/me lists the tables you may read`},
		{name: "not the audit log", method: "POST", path: "/api/v1/query", token: "TD", body: q("SELECT * FROM highway_restricted.highway_audit"), status: 400,
			err: `query refused: there is no table "highway_restricted.highway_audit" that you may read; GET /api/v1/me lists the tables you may read`},
		{name: "not the audit log, bare name", method: "POST", path: "/api/v1/query", token: "TD", body: q("SELECT * FROM highway_audit"), status: 400,
			err: `query refused: there is no table "highway_audit" that you may read; GET /api/v1/me lists the tables you may read`},
		{name: "not the audit log, owner of restricted data", method: "POST", path: "/api/v1/query", token: "POLICE",
			body: q("SELECT * FROM highway_restricted.police_cases WHERE case_id IN (SELECT detail FROM highway_restricted.highway_audit)"), status: 400,
			err: `query refused: there is no table "highway_restricted.highway_audit" that you may read; GET /api/v1/me lists the tables you may read`},
		{name: "hostile", method: "POST", path: "/api/v1/query", token: "OPS", body: q("SELECT 1; DROP TABLE police_cases"), status: 400,
			err: "query refused: only one statement is allowed; remove everything after the ';'"},
		{name: "bad format", method: "POST", path: "/api/v1/query", token: "TD", body: `{"sql":"SELECT 1","format":"xml"}`, status: 400,
			err: `unknown format "xml"; use json, ndjson, csv or arrow`},
		{name: "unknown field", method: "POST", path: "/api/v1/query", token: "TD", body: `{"query":"SELECT 1"}`, status: 400,
			err: `the body is not valid JSON for this route: json: unknown field "query"`},
		{name: "too big", method: "POST", path: "/api/v1/query", token: "TD", body: `{"sql":"` + strings.Repeat("x", maxQueryBody) + `"}`, status: 413,
			err: "the body is larger than 1048576 bytes"},
	})
	// Only the queries that read a restricted table run as the user that
	// can read the restricted database.
	// The audit log is restricted data too: an admin's query of it runs
	// as the restricted user.
	wantOpen := []string{"SELECT * FROM td_traffic_cameras"}
	wantRestricted := []string{"SELECT * FROM highway_restricted.police_cases", "SELECT * FROM `highway_restricted`.police_cases",
		"SELECT * FROM highway_restricted.highway_audit"}
	if !slices.Equal(h.querier.sql, wantOpen) || !slices.Equal(h.restricted.sql, wantRestricted) {
		t.Errorf("open querier got %q, restricted querier %q; want %q and %q (refused queries must reach neither)",
			h.querier.sql, h.restricted.sql, wantOpen, wantRestricted)
	}
}

func TestQueryClickHouseError(t *testing.T) {
	h := newHarness(t, nil)
	h.querier.err = &store.QueryError{Code: 47, Message: "Missing columns: 'nope'"}
	runCases(t, h, []routeCase{
		{name: "user's fault", method: "POST", path: "/api/v1/query", token: "TD", body: `{"sql":"SELECT nope"}`, status: 400,
			err: "ClickHouse refused the query: Missing columns: 'nope'"},
	})
	h.querier.err = errors.New("connection refused")
	runCases(t, h, []routeCase{
		{name: "ClickHouse down", method: "POST", path: "/api/v1/query", token: "TD", body: `{"sql":"SELECT 1"}`, status: 502,
			err: "ClickHouse is not answering: connection refused"},
	})
}

func TestRouteMe(t *testing.T) {
	h := newHarness(t, nil)
	runCases(t, h, []routeCase{
		{name: "no token", method: "GET", path: "/api/v1/me", status: 401, err: errNoToken},
		{name: "department", method: "GET", path: "/api/v1/me", token: "EPD", status: 200, check: func(t *testing.T, rr *httptest.ResponseRecorder) {
			var m Me
			_ = json.Unmarshal(rr.Body.Bytes(), &m)
			if m.Department != "EPD" || m.Admin || !slices.Equal(m.Tables, []string{"epd_air_test", "highway_quality", "td_traffic_cameras"}) {
				t.Errorf("%+v", m)
			}
		}},
		{name: "admin", method: "GET", path: "/api/v1/me", token: "OPS", status: 200, check: func(t *testing.T, rr *httptest.ResponseRecorder) {
			var m Me
			_ = json.Unmarshal(rr.Body.Bytes(), &m)
			if !m.Admin || !slices.Contains(m.Tables, "highway_restricted.highway_audit") || slices.Contains(m.Tables, "highway_audit") ||
				!slices.Contains(m.Tables, "highway_restricted.police_cases") ||
				m.Database != "highway" || m.RestrictedDatabase != "highway_restricted" {
				t.Errorf("%+v", m)
			}
		}},
		{name: "granted department", method: "GET", path: "/api/v1/me", token: "TD", status: 200, check: func(t *testing.T, rr *httptest.ResponseRecorder) {
			var m Me
			_ = json.Unmarshal(rr.Body.Bytes(), &m)
			if want := []string{"epd_air_test", "highway_quality", "highway_restricted.police_cases", "td_traffic_cameras"}; !slices.Equal(m.Tables, want) {
				t.Errorf("tables %v, want %v", m.Tables, want)
			}
		}},
	})
}

func TestRouteLive(t *testing.T) {
	h := newHarness(t, nil)
	runCases(t, h, []routeCase{
		{name: "no token", method: "GET", path: "/api/v1/feeds/police.cases/live", status: 401, err: errNoToken},
		{name: "wrong department", method: "GET", path: "/api/v1/feeds/police.cases/live", token: "EPD", status: 404, err: "no feed called police.cases"},
	})
	// The right department gets the stream; read it from a real server.
	ts := httptest.NewServer(h.srv)
	defer ts.Close()
	for _, dept := range []string{"POLICE", "TD", "OPS"} {
		req, _ := http.NewRequest("GET", ts.URL+"/api/v1/feeds/police.cases/live", nil)
		req.Header.Set("Authorization", "Bearer "+h.tokens[dept])
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("%s: %d %s", dept, resp.StatusCode, resp.Header)
		}
		sc := bufio.NewScanner(resp.Body)
		var lines []string
		for sc.Scan() && !strings.HasPrefix(sc.Text(), "data:") {
			lines = append(lines, sc.Text())
		}
		if got := sc.Text(); got != `data: {"case_id":"C1"}` || !slices.Contains(lines, "id: 1-7") {
			t.Errorf("%s: stream %q then %q", dept, lines, got)
		}
		cancel()
		resp.Body.Close()
	}
}

// slowTail sends n records at once, then closes sent.
type slowTail struct {
	n    int
	sent chan struct{}
}

func (t slowTail) Tail(ctx context.Context, _ string, fn func(bus.Message) error) error {
	for i := 0; i < t.n; i++ {
		_ = fn(bus.Message{Partition: 0, Offset: int64(i), Value: []byte(`{"x":1}`)})
	}
	close(t.sent)
	<-ctx.Done()
	return nil
}

func TestLiveDropsSlowClient(t *testing.T) {
	tail := slowTail{n: 10, sent: make(chan struct{})}
	hub := newLiveHub(tail, 4, discardLogger(), newMetrics(prometheus.NewRegistry()))
	defer hub.close()
	sub := hub.subscribe(&catalog.Feed{Name: "a.b"})
	// A client that reads nothing: the tail sends 10 records into its
	// buffer of 4 without waiting for it, and drops it.
	select {
	case <-tail.sent:
	case <-time.After(5 * time.Second):
		t.Fatal("the tail waited for a client that does not read")
	}
	n := 0
	for range sub.ch {
		n++
	}
	if n != 4 || !errors.Is(sub.err, errTooSlow) {
		t.Errorf("got %d records and err %v, want 4 and errTooSlow", n, sub.err)
	}
}

func TestOpenData(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.OpenRate = Rate{PerSecond: 0.001, Burst: 6} })
	runCases(t, h, []routeCase{
		{name: "catalogue", method: "GET", path: "/open/v1/feeds", status: 200, check: func(t *testing.T, rr *httptest.ResponseRecorder) {
			var feeds []OpenFeed
			_ = json.Unmarshal(rr.Body.Bytes(), &feeds)
			if len(feeds) != 2 || feeds[1].Name != "td.traffic.cameras" || feeds[1].Licence == "" {
				t.Fatalf("open feeds %+v", feeds)
			}
			for _, f := range feeds[1].Fields {
				if f.Name == "plate" {
					t.Error("the personal field plate is in the open catalogue")
				}
			}
		}},
		{name: "restricted feed", method: "GET", path: "/open/v1/feeds/police.cases", status: 404, err: "no open feed called police.cases"},
		{name: "restricted data", method: "GET", path: "/open/v1/feeds/police.cases/data", token: "OPS", status: 404, err: "no open feed called police.cases"},
		{name: "data", method: "GET", path: "/open/v1/feeds/td.traffic.cameras/data?from=2026-11-26T00:00:00Z&to=1795651260000&format=csv", status: 200,
			check: func(t *testing.T, rr *httptest.ResponseRecorder) {
				if !slices.Equal(h.querier.columns, []string{"camera", "speed", "at"}) {
					t.Errorf("columns %v: the personal field must not be read", h.querier.columns)
				}
				if cd := rr.Header().Get("Content-Disposition"); !strings.Contains(cd, "td.traffic.cameras_20261126T000000Z") {
					t.Errorf("Content-Disposition %q", cd)
				}
			}},
		{name: "bad range", method: "GET", path: "/open/v1/feeds/td.traffic.cameras/data?from=2026-11-27T00:00:00Z&to=2026-11-26T00:00:00Z", status: 400,
			err: "from (2026-11-27T00:00:00Z) must be before to (2026-11-26T00:00:00Z)"},
		{name: "bad time", method: "GET", path: "/open/v1/feeds/td.traffic.cameras/data?from=yesterday", status: 400, err: `from: "yesterday" is not a time`},
		{name: "rate limited", method: "GET", path: "/open/v1/feeds", status: 429, err: "rate limit exceeded: at most 0.001 requests per second per client"},
	})
}

func TestOps(t *testing.T) {
	h := newHarness(t, nil)
	runCases(t, h, []routeCase{
		{name: "healthz", method: "GET", path: "/healthz", status: 200},
		{name: "readyz", method: "GET", path: "/readyz", status: 200},
		{name: "unknown route", method: "GET", path: "/api/v2/nothing", status: 404, err: "no route GET /api/v2/nothing"},
		{name: "wrong method", method: "DELETE", path: "/api/v1/feeds", status: 405, err: "DELETE is not allowed on /api/v1/feeds"},
		{name: "openapi needs no token", method: "GET", path: "/api/v1/openapi.json", status: 200},
	})
	// A failing dependency makes /readyz 503 and says which.
	h2 := newHarness(t, func(c *Config) {
		c.Ready = append(c.Ready, Check{Name: "kafka", Check: func(context.Context) error { return errors.New("no brokers") }})
	})
	rr := h2.do("GET", "/readyz", "", "")
	var rd Ready
	_ = json.Unmarshal(rr.Body.Bytes(), &rd)
	if rr.Code != 503 || rd.Checks["kafka"] != "no brokers" || rd.Checks["clickhouse"] != "ok" {
		t.Errorf("readyz %d %s", rr.Code, rr.Body)
	}
	// Metrics count requests by route and status, and refused queries by reason.
	h.do("POST", "/api/v1/query", "TD", `{"sql":"SELECT * FROM system.tables"}`)
	body := h.do("GET", "/metrics", "", "").Body.String()
	for _, want := range []string{
		`highway_api_requests_total{route="GET /healthz",status="200"} 1`,
		`highway_api_requests_total{route="unmatched",status="404"} 1`,
		`highway_api_query_rejected_total{reason="system_table"} 1`,
		`highway_api_request_seconds_bucket{route="GET /readyz"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestAbortedResponsesCounted: a csv or arrow result whose query fails
// after its first bytes is cut off (the client sees a broken transfer),
// and still counted in the request metrics with the status it had sent,
// and as aborted; json ends with its error instead and is not aborted.
func TestAbortedResponsesCounted(t *testing.T) {
	late := &store.QueryError{Code: 241, Message: "Memory limit exceeded"}
	for _, tc := range []struct {
		name, method, path, body string
		late                     error
		route                    string // the metrics' label
		aborted                  bool
	}{
		{name: "query csv fails late", method: "POST", path: "/api/v1/query", body: `{"sql":"SELECT * FROM td_traffic_cameras","format":"csv"}`,
			late: late, route: "POST /api/v1/query", aborted: true},
		{name: "query arrow fails late", method: "POST", path: "/api/v1/query", body: `{"sql":"SELECT * FROM td_traffic_cameras","format":"arrow"}`,
			late: late, route: "POST /api/v1/query", aborted: true},
		{name: "open data csv fails late", method: "GET", path: "/open/v1/feeds/td.traffic.cameras/data?from=2026-11-26T00:00:00Z&format=csv",
			late: late, route: "GET /open/v1/feeds/{feed}/data", aborted: true},
		{name: "query json fails late", method: "POST", path: "/api/v1/query", body: `{"sql":"SELECT * FROM td_traffic_cameras","format":"json"}`,
			late: late, route: "POST /api/v1/query", aborted: false},
		{name: "query csv succeeds", method: "POST", path: "/api/v1/query", body: `{"sql":"SELECT * FROM td_traffic_cameras","format":"csv"}`,
			route: "POST /api/v1/query", aborted: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.querier.late = tc.late
			ts := httptest.NewServer(h.srv)
			defer ts.Close()
			req, _ := http.NewRequest(tc.method, ts.URL+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer "+h.tokens["TD"])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, readErr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d, want 200 (the status goes out with the first bytes)", resp.StatusCode)
			}
			// The abort is kept: the client sees a broken transfer.
			if cut := errors.Is(readErr, io.ErrUnexpectedEOF); cut != tc.aborted {
				t.Errorf("reading the body: %v; cut off %v, want %v", readErr, cut, tc.aborted)
			}
			metrics := h.do("GET", "/metrics", "", "").Body.String()
			want := map[string]string{
				fmt.Sprintf(`highway_api_requests_total{route=%q,status="200"}`, tc.route):         "1",
				fmt.Sprintf(`highway_api_requests_aborted_total{route=%q,status="200"}`, tc.route): "",
				fmt.Sprintf(`highway_api_request_seconds_count{route=%q}`, tc.route):               "1",
			}
			if tc.aborted {
				want[fmt.Sprintf(`highway_api_requests_aborted_total{route=%q,status="200"}`, tc.route)] = "1"
			}
			for series, v := range want {
				if got := metricValue(metrics, series); got != v {
					t.Errorf("%s = %q, want %q", series, got, v)
				}
			}
		})
	}
}

// TestWrapAbortPanics: wrap counts a handler's http.ErrAbortHandler with
// the status it had sent (none if it sent nothing) and passes the panic on,
// so net/http still closes the connection.
func TestWrapAbortPanics(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before func(w http.ResponseWriter)
		status string
	}{
		{name: "nothing sent", before: func(http.ResponseWriter) {}, status: "none"},
		{name: "body started", before: func(w http.ResponseWriter) { _, _ = w.Write([]byte("a,b\n")) }, status: "200"},
		{name: "status sent", before: func(w http.ResponseWriter) { w.WriteHeader(http.StatusPartialContent) }, status: "206"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			handler := h.srv.wrap(route{method: "GET", path: "/test", auth: authNone, handle: func(w http.ResponseWriter, _ *http.Request, _ *principal) {
				tc.before(w)
				panic(http.ErrAbortHandler)
			}})
			func() {
				defer func() {
					if p := recover(); p != http.ErrAbortHandler {
						t.Errorf("panic %v, want http.ErrAbortHandler passed on", p)
					}
				}()
				handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/test", nil))
			}()
			metrics := h.do("GET", "/metrics", "", "").Body.String()
			for _, series := range []string{
				fmt.Sprintf(`highway_api_requests_total{route="GET /test",status=%q}`, tc.status),
				fmt.Sprintf(`highway_api_requests_aborted_total{route="GET /test",status=%q}`, tc.status),
			} {
				if got := metricValue(metrics, series); got != "1" {
					t.Errorf("%s = %q, want 1", series, got)
				}
			}
		})
	}
}

// metricValue returns the value of series in a Prometheus text exposition,
// or "" if it is not there.
func metricValue(exposition, series string) string {
	for _, line := range strings.Split(exposition, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

// TestOpenAPIMatchesRoutes: every registered route is in the document, and
// every operation of the document is served by a route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	h := newHarness(t, nil)
	rr := h.do("GET", "/api/v1/openapi.json", "", "")
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(rr.Body.Bytes(), &doc); err != nil || doc.OpenAPI == "" {
		t.Fatalf("%v: %s", err, rr.Body)
	}
	inDoc := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			key := strings.ToUpper(method) + " " + path
			inDoc[key] = true
			// The document's operation is served by the route of the same pattern.
			probe := httptest.NewRequest(strings.ToUpper(method), strings.ReplaceAll(path, "{feed}", "x.y"), nil)
			if _, pattern := h.srv.mux.Handler(probe); pattern != key {
				t.Errorf("%s is documented but served by %q", key, pattern)
			}
			if _, ok := op["responses"]; !ok {
				t.Errorf("%s has no responses", key)
			}
		}
	}
	for _, rt := range h.srv.routes {
		if !inDoc[rt.method+" "+rt.path] {
			t.Errorf("route %s %s is not in the document", rt.method, rt.path)
		}
	}
	if len(inDoc) != len(h.srv.routes) {
		t.Errorf("%d operations documented, %d routes", len(inDoc), len(h.srv.routes))
	}
}

// TestFailedAuthenticationsAreAudited: a refused token is an audit entry
// (who, when the token is known, the route and why), the token itself is
// not written, and a request without any Authorization header (the open
// routes, the portal) writes none.
func TestFailedAuthenticationsAreAudited(t *testing.T) {
	h := newHarness(t, nil)
	cases := []struct {
		name, token, header string
		status              int
		dept, why           string
	}{
		{name: "unknown token", token: "hw_not_a_token", status: 401, why: "unknown or revoked token"},
		{name: "revoked token", token: "revoked", status: 401, why: "unknown or revoked token"},
		{name: "not a bearer token", header: "Basic dXNlcjpwYXNz", status: 401, why: "not a bearer token"},
		{name: "token of an undeclared department", token: "GONE", status: 403, dept: "GONE", why: "the token's department is not declared"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.audit.mu.Lock()
			h.audit.entries = nil
			h.audit.mu.Unlock()
			r := httptest.NewRequest(http.MethodGet, "/api/v1/me", nil)
			secret := tc.header
			if tc.token != "" {
				secret = tc.token
				if tok, ok := h.tokens[tc.token]; ok {
					secret = tok
				}
				r.Header.Set("Authorization", "Bearer "+secret)
			} else {
				r.Header.Set("Authorization", tc.header)
			}
			rr := httptest.NewRecorder()
			h.srv.ServeHTTP(rr, r)
			if rr.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rr.Code, tc.status, rr.Body)
			}
			h.audit.mu.Lock()
			defer h.audit.mu.Unlock()
			if len(h.audit.entries) != 1 {
				t.Fatalf("%d audit entries, want 1: %+v", len(h.audit.entries), h.audit.entries)
			}
			e := h.audit.entries[0]
			if e.Action != AuditActionAuthFailed || e.Status != tc.status || e.Error != tc.why || e.Route != "GET /api/v1/me" || e.Department != tc.dept {
				t.Fatalf("audit entry %+v, want action %s status %d error %q department %q", e, AuditActionAuthFailed, tc.status, tc.why, tc.dept)
			}
			if strings.Contains(fmt.Sprintf("%+v", e), strings.TrimSpace(strings.TrimPrefix(secret, "Basic"))) {
				t.Fatalf("the audit entry holds the secret sent: %+v", e)
			}
		})
	}
	h.audit.mu.Lock()
	h.audit.entries = nil
	h.audit.mu.Unlock()
	if rr := h.do(http.MethodGet, "/api/v1/me", "", ""); rr.Code != 401 || len(h.audit.entries) != 0 {
		t.Fatalf("no Authorization header: status %d, %d audit entries, want 401 and none", rr.Code, len(h.audit.entries))
	}
}
