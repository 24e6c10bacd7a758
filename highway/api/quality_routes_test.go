package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/quality"
	"github.com/cityhighway/highway/highway/store"
)

// fakeLedger answers one bucket per feed, with a personal field's figures.
type fakeLedger struct{ step time.Duration }

func (l *fakeLedger) Summary(_ context.Context, f *catalog.Feed) (*quality.Summary, error) {
	return &quality.Summary{Score: 87.5, Parts: store.QualityParts{Completeness: 0.5, Validity: 1}, Buckets: 24, Formula: quality.Formula}, nil
}

func (l *fakeLedger) Range(_ context.Context, f *catalog.Feed, from, to time.Time, step time.Duration) ([]store.QualityRow, error) {
	l.step = step
	return []store.QualityRow{{Feed: f.Name, Bucket: from, Score: 87.5, MissingKeys: []string{"k1"},
		Fields: []store.FieldFigures{{Name: "camera"}, {Name: "plate", Nulls: 3}, {Name: "speed"}}}}, nil
}

// historyQuerier is a fakeQuerier that also answers as_of and changed_since,
// recording what it was asked.
type historyQuerier struct {
	fakeQuerier
	from, to time.Time
	h        store.History
}

func (q *historyQuerier) QueryFeedHistory(_ context.Context, _ *catalog.Feed, columns []string, from, to time.Time, h store.History, _ uint64, _ store.Limits, _ store.Format, w io.Writer) (store.QueryStats, error) {
	q.from, q.to, q.h = from, to, h
	q.columns = columns
	n, _ := fmt.Fprintf(w, "%s\n", strings.Join(columns, ","))
	return store.QueryStats{Columns: len(columns), Written: int64(n)}, nil
}

func TestQualityRoutes(t *testing.T) {
	ledger := &fakeLedger{}
	hq := &historyQuerier{}
	h := newHarness(t, func(c *Config) { c.Ledger = ledger; c.Querier = hq; c.RestrictedQuerier = hq })
	noPlate := func(t *testing.T, rr *httptest.ResponseRecorder) {
		var qb QualityBuckets
		if err := json.Unmarshal(rr.Body.Bytes(), &qb); err != nil || len(qb.Buckets) != 1 {
			t.Fatalf("body %s: %v", rr.Body, err)
		}
		for _, f := range qb.Buckets[0].Fields {
			if f.Name == "plate" {
				t.Errorf("the personal field's figures are served: %s", rr.Body)
			}
		}
		if len(qb.Buckets[0].Fields) != 2 || qb.Formula == "" {
			t.Errorf("buckets %+v", qb)
		}
	}
	runCases(t, h, []routeCase{
		{name: "ledger", method: "GET", path: "/api/v1/feeds/td.traffic.cameras/quality?from=2026-11-26T00:00:00Z&step=1h", token: "EPD", status: 200,
			check: func(t *testing.T, rr *httptest.ResponseRecorder) {
				noPlate(t, rr)
				if ledger.step != time.Hour {
					t.Errorf("step %s, want 1h", ledger.step)
				}
			}},
		{name: "open ledger", method: "GET", path: "/open/v1/feeds/td.traffic.cameras/quality", status: 200, check: noPlate},
		{name: "restricted ledger without a grant", method: "GET", path: "/api/v1/feeds/police.cases/quality", token: "EPD", status: 404, err: "no feed called police.cases"},
		{name: "restricted ledger in the open", method: "GET", path: "/open/v1/feeds/police.cases/quality", status: 404, err: "no open feed called police.cases"},
		{name: "bad step", method: "GET", path: "/api/v1/feeds/td.traffic.cameras/quality?step=soon", token: "EPD", status: 400, err: `step "soon" is not a duration of a second or more`},
		{name: "bad range", method: "GET", path: "/api/v1/feeds/td.traffic.cameras/quality?from=2026-11-27T00:00:00Z&to=2026-11-26T00:00:00Z", token: "EPD", status: 400,
			err: "from (2026-11-27T00:00:00Z) must be before to (2026-11-26T00:00:00Z)"},
		{name: "score in the catalogue", method: "GET", path: "/api/v1/feeds/td.traffic.cameras", token: "EPD", status: 200,
			check: func(t *testing.T, rr *httptest.ResponseRecorder) {
				var fi FeedInfo
				if err := json.Unmarshal(rr.Body.Bytes(), &fi); err != nil || fi.Score == nil || fi.Score.Score != 87.5 || fi.Score.Parts.Completeness != 0.5 {
					t.Errorf("score %+v: %s", fi.Score, rr.Body)
				}
			}},
		{name: "score in the open catalogue", method: "GET", path: "/open/v1/feeds", status: 200,
			check: func(t *testing.T, rr *httptest.ResponseRecorder) {
				var fs []OpenFeed
				if err := json.Unmarshal(rr.Body.Bytes(), &fs); err != nil || len(fs) == 0 {
					t.Fatalf("%s: %v", rr.Body, err)
				}
				for _, f := range fs {
					if f.Score == nil || f.Score.Score != 87.5 || f.Quality != "/open/v1/feeds/"+f.Name+"/quality" {
						t.Errorf("%s: score %+v, quality %q", f.Name, f.Score, f.Quality)
					}
				}
			}},
		{name: "as of", method: "GET", path: "/open/v1/feeds/td.traffic.cameras/data?as_of=2026-11-26T10:00:00Z", status: 200,
			check: func(t *testing.T, rr *httptest.ResponseRecorder) {
				if !hq.h.AsOf.Equal(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)) || !hq.h.ChangedSince.IsZero() || !hq.to.Equal(h.now) || strings.Contains(rr.Body.String(), "plate") {
					t.Errorf("asked %+v to %s; body %s", hq.h, hq.to, rr.Body)
				}
			}},
		{name: "changed since, alone: every event time", method: "GET", path: "/open/v1/feeds/td.traffic.cameras/data?changed_since=1795651200000", status: 200,
			check: func(t *testing.T, rr *httptest.ResponseRecorder) {
				if !hq.h.ChangedSince.Equal(time.UnixMilli(1795651200000)) || hq.from.Unix() != 0 || !hq.to.Equal(farFuture) {
					t.Errorf("asked %+v from %s to %s", hq.h, hq.from, hq.to)
				}
			}},
		{name: "changed since after as of", method: "GET", path: "/open/v1/feeds/td.traffic.cameras/data?as_of=2026-11-26T10:00:00Z&changed_since=2026-11-26T11:00:00Z", status: 400,
			err: "changed_since (2026-11-26T11:00:00Z) must be before as_of (2026-11-26T10:00:00Z)"},
		{name: "bad as of", method: "GET", path: "/open/v1/feeds/td.traffic.cameras/data?as_of=then", status: 400, err: `as_of: "then" is not a time`},
		{name: "api download of a granted restricted feed", method: "GET", path: "/api/v1/feeds/police.cases/data?changed_since=2026-11-26T00:00:00Z", token: "TD", status: 200},
		{name: "api download without a grant", method: "GET", path: "/api/v1/feeds/police.cases/data", token: "EPD", status: 404, err: "no feed called police.cases"},
		{name: "the open ledger in SQL", method: "POST", path: "/api/v1/query", token: "EPD", body: `{"sql": "SELECT feed, score FROM highway_quality WHERE feed = 'td.traffic.cameras'"}`, status: 200},
		{name: "the restricted ledger in SQL without admin", method: "POST", path: "/api/v1/query", token: "TD", body: `{"sql": "SELECT feed, score FROM highway_restricted.highway_quality"}`, status: 400},
		{name: "the restricted ledger in SQL for an admin", method: "POST", path: "/api/v1/query", token: "OPS", body: `{"sql": "SELECT feed, score FROM highway_restricted.highway_quality"}`, status: 200},
		{name: "api download needs a token", method: "GET", path: "/api/v1/feeds/td.traffic.cameras/data", status: 401},
		{name: "api download keeps personal fields out", method: "GET", path: "/api/v1/feeds/td.traffic.cameras/data", token: "TD", status: 200,
			check: func(t *testing.T, rr *httptest.ResponseRecorder) {
				if strings.Contains(rr.Body.String(), "plate") || !strings.Contains(rr.Body.String(), "camera") {
					t.Errorf("body %s", rr.Body)
				}
			}},
	})
	// A querier without history answers 501 for as_of.
	h2 := newHarness(t, nil)
	runCases(t, h2, []routeCase{{name: "no history", method: "GET", path: "/open/v1/feeds/td.traffic.cameras/data?as_of=2026-11-26T10:00:00Z", status: 501,
		err: "as_of and changed_since are not available on this server"},
		{name: "no ledger", method: "GET", path: "/open/v1/feeds/td.traffic.cameras/quality", status: 503, err: "no quality ledger on this server: it has no ClickHouse"}})
}
