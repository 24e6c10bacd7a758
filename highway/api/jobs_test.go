package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeScheduler answers like a highway schedule node and records what the
// API forwarded.
type fakeScheduler struct {
	mu       sync.Mutex
	calls    []string
	sawToken bool
}

func (f *fakeScheduler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path+" by "+r.Header.Get("X-Highway-Department"))
	if r.Header.Get("Authorization") != "" {
		f.sawToken = true
	}
	f.mu.Unlock()
	switch {
	case r.Method == "GET" && r.URL.Path == "/api/v1/jobs/td.speeds":
		json.NewEncoder(w).Encode(map[string]any{"name": "td.speeds", "spec": map[string]any{"department": "TD"}})
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/api/v1/jobs/") && strings.Count(r.URL.Path, "/") == 4:
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":"no job"}`))
	default:
		w.Write([]byte(`{"ok":true}`))
	}
}

func TestJobRoutes(t *testing.T) {
	sched := &fakeScheduler{}
	ts := httptest.NewServer(sched)
	defer ts.Close()
	u, err := SchedulerURL(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *Config) { c.Scheduler = u })
	runCases(t, h, []routeCase{
		{name: "no token", method: "GET", path: "/api/v1/jobs", status: 401, err: errNoToken},
		{name: "any department reads jobs", method: "GET", path: "/api/v1/jobs", token: "EPD", status: 200},
		{name: "and the cluster", method: "GET", path: "/api/v1/cluster", token: "EPD", status: 200},
		{name: "and a job's runs", method: "GET", path: "/api/v1/jobs/td.speeds/runs", token: "EPD", status: 200},
		{name: "another department cannot pause a job", method: "POST", path: "/api/v1/jobs/td.speeds/pause", token: "EPD", status: 403,
			err: `job "td.speeds" belongs to department TD, not EPD`},
		{name: "its own department can", method: "POST", path: "/api/v1/jobs/td.speeds/trigger", token: "TD", status: 200},
		{name: "an admin can", method: "DELETE", path: "/api/v1/jobs/td.speeds", token: "OPS", status: 200},
		{name: "a missing job", method: "POST", path: "/api/v1/jobs/none/resume", token: "TD", status: 404, err: `no job called "none"`},
		{name: "create for your own department", method: "POST", path: "/api/v1/jobs", token: "TD", status: 200,
			body: "kind: job\nname: td.new\ndepartment: TD\n"},
		{name: "not for another's", method: "POST", path: "/api/v1/jobs", token: "EPD", status: 403,
			body: `{"kind":"job","name":"td.new","department":"TD"}`, err: `job "" belongs to department TD, not EPD`},
		{name: "a spec without department", method: "POST", path: "/api/v1/jobs", token: "TD", status: 400,
			body: "kind: job\nname: x\n", err: "the job spec names no department"},
	})
	want := []string{
		"GET /api/v1/jobs by EPD", "GET /api/v1/cluster by EPD", "GET /api/v1/jobs/td.speeds/runs by EPD",
		"GET /api/v1/jobs/td.speeds by ", // the owner lookup
		"GET /api/v1/jobs/td.speeds by ", "POST /api/v1/jobs/td.speeds/trigger by TD",
		"DELETE /api/v1/jobs/td.speeds by OPS",
		"GET /api/v1/jobs/none by ",
		"POST /api/v1/jobs by TD",
	}
	if strings.Join(sched.calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("forwarded:\n%s\nwant:\n%s", strings.Join(sched.calls, "\n"), strings.Join(want, "\n"))
	}
	if sched.sawToken {
		t.Error("the API forwarded a bearer token to the scheduler")
	}

	none := newHarness(t, nil)
	runCases(t, none, []routeCase{{name: "no scheduler", method: "GET", path: "/api/v1/jobs", token: "TD", status: 503,
		err: "no scheduler is configured for this API server"}})
}
