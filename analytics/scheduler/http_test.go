package scheduler

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestJobsAPIThroughAFollower(t *testing.T) {
	r := newFakeRunner(5 * time.Millisecond)
	c := newCluster(t, r, nil, "n1", "n2", "n3")
	l := c.leader()
	var follower *Node
	for _, id := range c.ids {
		if id != l.ID() {
			follower = c.nodes[id]
			break
		}
	}
	srv := httptest.NewServer(follower.Handler())
	defer srv.Close()
	call := func(method, path, body string) (int, string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			// The follower may not know the leader's address for a moment.
			if resp.StatusCode == http.StatusServiceUnavailable && time.Now().Before(deadline) {
				continue
			}
			return resp.StatusCode, string(b)
		}
	}
	spec := "name: api.tick\ndepartment: X\nevery: 1s\nconcurrency: allow\nsql: SELECT {slot_start} AS s\n"
	tests := []struct {
		name, method, path, body string
		status                   int
		contains                 string
	}{
		{"invalid job", "POST", "/api/v1/jobs", "name: api.bad\ndepartment: X\nsql: DROP TABLE x\n", 400, "must be one SELECT"},
		{"create", "POST", "/api/v1/jobs", spec, 201, `"name": "api.tick"`},
		{"create twice", "POST", "/api/v1/jobs", spec, 409, "job exists"},
		{"update with another name", "PUT", "/api/v1/jobs/api.other", spec, 400, "names job"},
		{"update", "PUT", "/api/v1/jobs/api.tick", strings.Replace(spec, "SELECT", "SELECT 1 AS one,", 1), 200, "one"},
		{"get", "GET", "/api/v1/jobs/api.tick", "", 200, `"version": 2`},
		{"unknown job", "POST", "/api/v1/jobs/api.nope/pause", "", 404, "no such job"},
		{"pause", "POST", "/api/v1/jobs/api.tick/pause", "", 200, "pause"},
		{"resume", "POST", "/api/v1/jobs/api.tick/resume", "", 200, "resume"},
		{"trigger", "POST", "/api/v1/jobs/api.tick/trigger?slot=2026-01-01T00:00:00Z", "", 202, "2026-01-01T00:00:00Z"},
		{"bad trigger", "POST", "/api/v1/jobs/api.tick/trigger?slot=yesterday", "", 400, "RFC 3339"},
		{"list", "GET", "/api/v1/jobs", "", 200, "api.tick"},
	}
	for _, tt := range tests {
		status, body := call(tt.method, tt.path, tt.body)
		if status != tt.status || !strings.Contains(body, tt.contains) {
			t.Errorf("%s: %s %s = %d %s, want %d with %q", tt.name, tt.method, tt.path, status, body, tt.status, tt.contains)
		}
	}
	// The triggered slot of 2026 and the scheduled slots run.
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body := call("GET", "/api/v1/jobs/api.tick/runs?limit=0", "")
		var v struct{ Runs []RunView }
		if status != 200 || json.Unmarshal([]byte(body), &v) != nil {
			t.Fatalf("runs: %d %s", status, body)
		}
		triggered, scheduled := false, 0
		for _, r := range v.Runs {
			if r.State == string(AttemptSucceeded) {
				if r.SlotStart.Year() == 2026 && r.SlotStart.Month() == 1 && r.SlotStart.Day() == 1 {
					triggered = true
				} else {
					scheduled++
				}
			}
		}
		if triggered && scheduled >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("triggered %v, scheduled %d: %s", triggered, scheduled, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	status, body := call("GET", "/api/v1/cluster", "")
	var cv ClusterView
	if status != 200 || json.Unmarshal([]byte(body), &cv) != nil || len(cv.Members) != 3 || cv.Leader != l.ID() || cv.Term == 0 {
		t.Errorf("cluster: %d %s", status, body)
	}
}
