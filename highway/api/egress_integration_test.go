//go:build integration

package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/api"
	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/portal"
	"github.com/cityhighway/highway/internal/testenv"
)

// secret is the value of the personal field owner_name in every row newEnv
// writes: it must not leave through any path to anyone but the owner.
const secret = "Chan Tai Man"

// TestNoPersonalFieldLeaves drives every way out of the platform — open
// data, the catalogue, downloads in every format, SQL with the tricks the
// guard must see through, live tails, quality, the portal's pages and its
// CKAN API — for a feed with a personal field, as the public, another
// department and an admin, on the real ClickHouse and Kafka, and checks
// the field's value never appears. The owner's query shows it, so the
// check can fail.
func TestNoPersonalFieldLeaves(t *testing.T) {
	b, err := bus.New(bus.Config{Brokers: testenv.Kafka(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := newEnv(t, 500, func(c *api.Config) { c.Tail = b })
	ps, err := portal.New(portal.Config{API: e.srv})
	if err != nil {
		t.Fatal(err)
	}
	site := httptest.NewServer(ps)
	defer site.Close()
	feed, table := e.feed.Name, e.feed.Table()

	call := func(method, path, role, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, site.URL+path, strings.NewReader(body))
		if role != "" {
			req.Header.Set("Authorization", "Bearer "+e.tokens[role])
			req.AddCookie(&http.Cookie{Name: "hw_session", Value: e.tokens[role]})
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	query := func(sql string) string {
		b, _ := json.Marshal(api.QueryRequest{SQL: sql, Format: "json"})
		return string(b)
	}
	// The owner reads its own field: the secret is there to be found.
	if code, body := call("POST", "/api/v1/query", "TEST", query("SELECT owner_name FROM "+table+" LIMIT 1")); code != 200 || !strings.Contains(body, secret) {
		t.Fatalf("the owner's query: %d %s", code, body)
	}

	rng := "from=2026-11-25T00:00:00Z&to=2026-11-28T00:00:00Z"
	var paths []string
	for _, f := range []string{"csv", "json", "ndjson", "arrow"} {
		paths = append(paths, "/open/v1/feeds/"+feed+"/data?format="+f+"&"+rng, "/api/v1/feeds/"+feed+"/data?format="+f+"&"+rng)
	}
	paths = append(paths, "/open/v1/feeds", "/open/v1/feeds/"+feed, "/open/v1/feeds/"+feed+"/quality", "/api/v1/feeds", "/api/v1/feeds/"+feed,
		"/api/v1/feeds/"+feed+"/quality", "/api/v1/me",
		"/", "/feeds", "/feeds/"+feed, "/feeds/"+feed+"/download?from=2026-11-25&to=2026-11-28&format=csv", "/catalog.jsonld", "/jobs",
		"/api/3/action/package_list", "/api/3/action/package_show?id="+feed, "/api/3/action/group_list", "/api/3/action/group_show?id=TEST")
	tricks := []string{
		"SELECT * FROM %s LIMIT 5",
		"SELECT t.* FROM %s AS t LIMIT 5",
		"SELECT owner_name FROM %s LIMIT 5",
		"SELECT owner_name AS o FROM %s LIMIT 5",
		"SELECT `owner_name` FROM %s LIMIT 5",
		"SELECT x FROM (SELECT owner_name AS x FROM %s) LIMIT 5",
		"SELECT * FROM (SELECT * FROM %s) LIMIT 5",
		"WITH o AS (SELECT owner_name FROM %s) SELECT * FROM o LIMIT 5",
		"SELECT tuple(*) FROM %s LIMIT 5",
		"SELECT [owner_name] FROM %s LIMIT 5",
		"SELECT groupArray(owner_name) FROM %s",
		"SELECT toString(tuple(station, owner_name)) FROM %s LIMIT 5",
		"SELECT visitParamExtractString(concat('{\"o\":\"', owner_name, '\"}'), 'o') FROM %s LIMIT 5",
		"SELECT COLUMNS('owner') FROM %s LIMIT 5",
		"SELECT station FROM %s WHERE owner_name LIKE 'Chan%%' LIMIT 5",
	}
	for _, role := range []string{"", "OTHER", "OPS"} {
		for _, p := range paths {
			if code, body := call("GET", p, role, ""); strings.Contains(body, secret) {
				t.Errorf("GET %s as %q (%d) shows the personal field: %.300s", p, role, code, body)
			}
		}
		if role == "" {
			continue
		}
		for _, trick := range tricks {
			sql := fmt.Sprintf(trick, table)
			code, body := call("POST", "/api/v1/query", role, query(sql))
			if strings.Contains(body, secret) {
				t.Errorf("%s as %s (%d) shows the personal field: %.300s", sql, role, code, body)
			}
			if code != 400 || !strings.Contains(body, "personal field") && !strings.Contains(body, "personal fields") {
				t.Errorf("%s as %s: %d %.300s, want a 400 naming the personal field", sql, role, code, body)
			}
		}
		// The portal's signed-in pages and download of the feed.
		form := url.Values{"sql": {"SELECT * FROM " + table}}.Encode()
		if _, body := call("POST", "/feeds/"+feed, role, form); strings.Contains(body, secret) {
			t.Errorf("the portal's feed page as %s shows the personal field", role)
		}
	}

	// Live tails: another department sees the records without the field,
	// the owner with it.
	topic := e.feed.Topic()
	if err := b.EnsureTopics(ctx, 2, topic); err != nil {
		t.Fatal(err)
	}
	marker := testenv.Name("egress")
	p := b.NewProducer()
	defer p.Close()
	go func() {
		for ctx.Err() == nil {
			_ = p.Produce(ctx, bus.Message{Topic: topic, Key: []byte("s"),
				Value: []byte(`{"station":"` + marker + `","owner_name":"` + secret + `","value":1,"at":"2026-11-26T08:00:00+08:00"}`)})
			time.Sleep(200 * time.Millisecond)
		}
	}()
	for _, tc := range []struct {
		role string
		sees bool
	}{{"OTHER", false}, {"OPS", false}, {"TEST", true}} {
		lctx, lcancel := context.WithTimeout(ctx, 30*time.Second)
		req, _ := http.NewRequestWithContext(lctx, "GET", site.URL+"/api/v1/feeds/"+feed+"/live", nil)
		req.Header.Set("Authorization", "Bearer "+e.tokens[tc.role])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		var line string
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data: ") && strings.Contains(sc.Text(), marker) {
				line = sc.Text()
				break
			}
		}
		resp.Body.Close()
		lcancel()
		if line == "" {
			t.Fatalf("live tail as %s: no record arrived: %v", tc.role, sc.Err())
		}
		if strings.Contains(line, secret) != tc.sees {
			t.Errorf("live tail as %s: %s (the personal field shown: %v, want %v)", tc.role, line, !tc.sees, tc.sees)
		}
	}
}
