//go:build integration

package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cityhighway/highway/highway/api"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/internal/testenv"
)

// splitSpecs: an open feed and a restricted one of unique names, a
// department granted the restricted feed and one without grants. They live
// in "default", the database ops/clickhouse/start's highway_open may read.
const splitSpecs = `
kind: feed
name: test.%[1]s_open
department: OTHER
fields:
  - {name: station, type: string, required: true}
  - {name: at, type: time, required: true}
key: [station]
event_time: at
interval: 1m
---
kind: feed
name: test.%[1]s_secret
department: POLICE
access: restricted
fields:
  - {name: station, type: string, required: true}
  - {name: at, type: time, required: true}
key: [station]
event_time: at
interval: 1m
---
kind: department
name: GRANTED
grants: [test.%[1]s_secret]
---
kind: department
name: OTHER
---
kind: department
name: ADMIN
admin: true
`

// TestRestrictedQueriesThroughTheirOwnUser runs the API as `highway serve`
// does, with the open-data user (denied default_restricted) and the reader
// of granted callers, on the real ClickHouse: granted departments read the
// restricted feed, others are refused with a reason and a position; an
// admin reads the audit log (in default_restricted, so only through the
// reader), others are refused it.
func TestRestrictedQueriesThroughTheirOwnUser(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := testenv.DefaultStore(t)
	prefix := testenv.Name("apisplit")
	cat, err := catalog.Parse("split.yaml", []byte(fmt.Sprintf(splitSpecs, prefix)))
	if err != nil {
		t.Fatal(err)
	}
	open, secret := cat.Feed("test."+prefix+"_open"), cat.Feed("test."+prefix+"_secret")
	layout := admin.Layout()
	for _, f := range []*catalog.Feed{open, secret} {
		if err := admin.EnsureFeedTable(ctx, f); err != nil {
			t.Fatal(err)
		}
		db := layout.FeedDatabase(f)
		defer admin.Exec(context.Background(), fmt.Sprintf("DROP TABLE IF EXISTS `%s`.`%s`", db, f.Table()))
		q := fmt.Sprintf("INSERT INTO `%s`.`%s` (station, at, _topic, _partition, _offset, _ingested_at) "+
			"SELECT concat('s', toString(number)), toDateTime(1795651200 + number), 't', 0, toInt64(number), now() FROM system.numbers LIMIT %d",
			db, f.Table(), len(f.Name))
		if err := admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	// The audit log, under a unique name, with one entry.
	auditName := "test_" + prefix + "_audit"
	al, err := admin.OpenAuditLog(ctx, store.AuditConfig{Table: auditName})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Exec(context.Background(), fmt.Sprintf("DROP TABLE IF EXISTS `%s`.`%s`", al.Database(), auditName))
	al.Record(store.AuditEntry{At: time.Now(), Department: "GRANTED", Action: "query", Detail: "SELECT 'audited'", Status: 200})
	if err := al.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if al.Database() != layout.Restricted {
		t.Fatalf("the audit log is in %s, want %s", al.Database(), layout.Restricted)
	}
	auditTable := layout.Restricted + "." + auditName // as callers name it
	queriers := map[string]*store.Store{}
	for _, u := range []string{store.OpenReaderUser, store.ReaderUser} {
		s, err := store.Open(ctx, testenv.As(t, u), nil)
		if err != nil {
			t.Fatalf("connecting as %s (is ops/clickhouse/start's users.xml in use?): %v", u, err)
		}
		defer s.Close()
		queriers[u] = s
	}
	tf, err := api.OpenTokenFile(filepath.Join(t.TempDir(), "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	for _, d := range []string{"GRANTED", "OTHER", "ADMIN"} {
		if tokens[d], _, err = tf.Create(d, ""); err != nil {
			t.Fatal(err)
		}
	}
	srv := api.New(api.Config{Catalog: cat, Stats: admin, Gatherer: prometheus.NewRegistry(), Tokens: tf,
		Querier: queriers[store.OpenReaderUser], RestrictedQuerier: queriers[store.ReaderUser], Database: admin.Database(), AuditTable: auditName,
		OpenRate: api.Rate{PerSecond: 100, Burst: 100}, TokenRate: api.Rate{PerSecond: 100, Burst: 100}})
	defer srv.Close()
	ts := httptest.NewServer(srv)
	defer ts.Close()

	secretTable := layout.Restricted + "." + secret.Table() // as callers name it
	nOpen, nSecret := len(open.Name), len(secret.Name)
	for _, tc := range []struct {
		name, dept, method, path, sql string
		status                        int
		want                          string // in the body
	}{
		{name: "granted reads the restricted feed", dept: "GRANTED", sql: "SELECT count() AS n FROM " + secretTable,
			status: 200, want: fmt.Sprintf(`{"n":%d}`, nSecret)},
		{name: "granted joins open and restricted", dept: "GRANTED",
			sql:    fmt.Sprintf("SELECT count() AS n FROM %s AS s ANY INNER JOIN %s AS o USING (station)", secretTable, open.Table()),
			status: 200, want: fmt.Sprintf(`{"n":%d}`, min(nOpen, nSecret))},
		{name: "granted reads open data", dept: "GRANTED", sql: "SELECT count() AS n FROM " + open.Table(), status: 200, want: fmt.Sprintf(`{"n":%d}`, nOpen)},
		{name: "granted, bare restricted name", dept: "GRANTED", sql: "SELECT count() FROM " + secret.Table(), status: 400,
			want: `"error": "query refused: \"` + secret.Table() + `\" is a restricted table: write it as ` + secretTable + `"`},
		{name: "not granted", dept: "OTHER", sql: "SELECT count() FROM " + secretTable, status: 400,
			want: `"position": 20`},
		{name: "not granted, in a subquery", dept: "OTHER", sql: "SELECT * FROM " + open.Table() + " WHERE station IN (SELECT station FROM " + secretTable + ")",
			status: 400, want: `"code": "unknown_table"`},
		{name: "not granted, bare name", dept: "OTHER", sql: "SELECT count() FROM " + secret.Table(), status: 400,
			want: `there is no table \"` + secret.Table() + `\" that you may read`},
		{name: "not granted reads open data", dept: "OTHER", sql: "SELECT count() AS n FROM " + open.Table(), status: 200, want: fmt.Sprintf(`{"n":%d}`, nOpen)},
		{name: "catalogue names the restricted table", dept: "GRANTED", method: "GET", path: "/api/v1/feeds/" + secret.Name, status: 200,
			want: `"table": "` + secretTable + `"`},
		{name: "restricted feed hidden from the catalogue", dept: "OTHER", method: "GET", path: "/api/v1/feeds/" + secret.Name, status: 404,
			want: `"error": "no feed called ` + secret.Name + `"`},
		{name: "admin reads the audit log", dept: "ADMIN", sql: "SELECT department, detail FROM " + auditTable,
			status: 200, want: `{"department":"GRANTED","detail":"SELECT 'audited'"}`},
		{name: "admin, audit log by its bare name", dept: "ADMIN", sql: "SELECT count() FROM " + auditName, status: 400,
			want: `"error": "query refused: \"` + auditName + `\" is a restricted table: write it as ` + auditTable + `"`},
		{name: "granted, not the audit log", dept: "GRANTED", sql: "SELECT count() FROM " + auditTable, status: 400,
			want: `there is no table \"` + auditTable + `\" that you may read`},
		{name: "not granted, not the audit log", dept: "OTHER", sql: "SELECT count() FROM " + auditTable, status: 400,
			want: `"code": "unknown_table"`},
		{name: "me lists the audit log for an admin", dept: "ADMIN", method: "GET", path: "/api/v1/me", status: 200,
			want: `"` + auditTable + `"`},
		{name: "open data of the open feed", method: "GET", path: "/open/v1/feeds/" + open.Name + "/data?from=2026-11-20T00:00:00Z&to=2026-12-01T00:00:00Z&format=csv",
			status: 200, want: "station,at\r\ns0,"},
		{name: "no open data of the restricted feed", method: "GET", path: "/open/v1/feeds/" + secret.Name + "/data", status: 404,
			want: `"error": "no open feed called ` + secret.Name + `"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method, path, body := tc.method, tc.path, ""
			if method == "" {
				b, _ := json.Marshal(api.QueryRequest{SQL: tc.sql, Format: "ndjson"})
				method, path, body = "POST", "/api/v1/query", string(b)
			}
			req, err := http.NewRequestWithContext(ctx, method, ts.URL+path, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.dept != "" {
				req.Header.Set("Authorization", "Bearer "+tokens[tc.dept])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.Contains(string(got), tc.want) {
				t.Errorf("status %d, body %s; want %d with %s", resp.StatusCode, got, tc.status, tc.want)
			}
		})
	}
}
