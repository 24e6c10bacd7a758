package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"

	"gopkg.in/yaml.v3"
)

// Jobs routes are served by the analytics scheduler (highway schedule, any
// node: followers forward writes to the leader); the API proxies them with
// its own auth. Any department may read jobs and runs; a job is created,
// changed, paused, resumed or triggered by its own department or an admin;
// cluster membership is changed by admins only.

var jobParam = param{name: "job", in: "path", required: true, desc: "the job's name, e.g. city.district_hourly"}

// jobAccess says who may call a proxied route.
type jobAccess int

const (
	jobRead  jobAccess = iota // any department
	jobOwner                  // the job's department or an admin
	jobAdmin                  // admins only
)

func (s *Server) jobRoutes() []route {
	errs := func(extra map[int]string) map[int]string {
		return merge(errAuth, map[int]string{
			502: "the scheduler does not answer", 503: "no scheduler configured (highway serve --scheduler URL)",
		}, extra)
	}
	proxied := func(method, path, summary string, access jobAccess, params []param, extra map[int]string) route {
		return route{method: method, path: path, auth: authToken, tag: "jobs", summary: summary, params: params,
			ok:     okResponse{status: 200, types: []string{"application/json"}, desc: "the scheduler's answer"},
			errors: errs(extra), handle: s.proxyJobs(access)}
	}
	forbidden := map[int]string{403: "the job belongs to another department"}
	notFound := map[int]string{404: "no such job"}
	return []route{
		proxied("GET", "/api/v1/cluster", "The scheduler cluster: members, leader, term, applied index", jobRead, nil, nil),
		proxied("GET", "/api/v1/jobs", "Every analytics job with its run counts", jobRead, nil, nil),
		proxied("POST", "/api/v1/jobs", "Create a job (its spec as YAML or JSON) of your department", jobOwner, nil,
			merge(forbidden, map[int]string{400: "the spec is invalid (problems listed)", 409: "a job of that name exists"})),
		proxied("GET", "/api/v1/jobs/{job}", "One job", jobRead, []param{jobParam}, notFound),
		proxied("PUT", "/api/v1/jobs/{job}", "Replace a job's definition", jobOwner, []param{jobParam}, merge(forbidden, notFound)),
		proxied("DELETE", "/api/v1/jobs/{job}", "Delete a job and its record", jobOwner, []param{jobParam}, merge(forbidden, notFound)),
		proxied("POST", "/api/v1/jobs/{job}/pause", "Pause a job", jobOwner, []param{jobParam}, merge(forbidden, notFound)),
		proxied("POST", "/api/v1/jobs/{job}/resume", "Resume a job", jobOwner, []param{jobParam}, merge(forbidden, notFound)),
		proxied("POST", "/api/v1/jobs/{job}/trigger", "Run a slot of a job now (?slot=time; default the last ended slot)", jobOwner,
			[]param{jobParam, {name: "slot", in: "query", desc: "a time in the slot to run, RFC 3339"}}, merge(forbidden, notFound)),
		proxied("GET", "/api/v1/jobs/{job}/runs", "A job's runs: slot, attempt, state, node, times, rows, error", jobRead,
			[]param{jobParam, {name: "limit", in: "query", desc: "at most this many (default 100; 0 for all)"}}, notFound),
	}
}

// proxyJobs forwards the request to the scheduler after checking access.
func (s *Server) proxyJobs(access jobAccess) func(http.ResponseWriter, *http.Request, *principal) {
	return func(w http.ResponseWriter, r *http.Request, who *principal) {
		if s.cfg.Scheduler == nil {
			writeError(w, http.StatusServiceUnavailable, "no scheduler is configured for this API server",
				"start it with --scheduler http://<a highway schedule node's --http-addr>")
			return
		}
		if access != jobRead && !who.dept.Admin {
			owner, body, status, err := s.jobOwner(r)
			if err != nil {
				writeError(w, status, err.Error(), "check the job's name and spec")
				return
			}
			if access == jobAdmin || owner != who.dept.Name {
				writeError(w, http.StatusForbidden, fmt.Sprintf("job %q belongs to department %s, not %s", r.PathValue("job"), owner, who.dept.Name),
					"only a job's own department or an admin may change it")
				return
			}
			if body != nil {
				r.Body = io.NopCloser(bytes.NewReader(body))
				r.ContentLength = int64(len(body))
			}
		}
		proxy := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(s.cfg.Scheduler)
				pr.Out.URL.Path, pr.Out.URL.RawPath = r.URL.Path, r.URL.RawPath
				pr.Out.Header.Del("Authorization") // the scheduler needs no secret of ours
				pr.Out.Header.Set("X-Highway-Department", who.dept.Name)
			},
			ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
				writeError(w, http.StatusBadGateway, "the scheduler at "+s.cfg.Scheduler.String()+" does not answer: "+err.Error(),
					"check that a highway schedule node runs there")
			},
		}
		proxy.ServeHTTP(w, r)
	}
}

// jobOwner finds the department of the job a request changes: from the
// spec in the body for a create, else from the scheduler. It returns the
// body it read, to be sent on.
func (s *Server) jobOwner(r *http.Request) (owner string, body []byte, status int, err error) {
	if r.PathValue("job") == "" || r.Method == http.MethodPut {
		body, err = io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return "", nil, http.StatusBadRequest, fmt.Errorf("reading the job spec: %w", err)
		}
		var spec struct {
			Department string `json:"department" yaml:"department"`
		}
		if err := yaml.Unmarshal(body, &spec); err != nil || spec.Department == "" {
			return "", nil, http.StatusBadRequest, fmt.Errorf("the job spec names no department")
		}
		if r.PathValue("job") == "" {
			return spec.Department, body, 0, nil
		}
		// A PUT must be allowed for the job as it is and as it will be.
		current, _, status, err := s.fetchJobOwner(r)
		if err != nil {
			return "", nil, status, err
		}
		if current != spec.Department {
			return current + " (and the new spec says " + spec.Department + ")", body, 0, nil
		}
		return current, body, 0, nil
	}
	return s.fetchJobOwner(r)
}

func (s *Server) fetchJobOwner(r *http.Request) (string, []byte, int, error) {
	u := s.cfg.Scheduler.JoinPath("/api/v1/jobs", r.PathValue("job"))
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, u.String(), nil)
	if err != nil {
		return "", nil, http.StatusBadRequest, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", nil, http.StatusBadGateway, fmt.Errorf("the scheduler does not answer: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return "", nil, http.StatusNotFound, fmt.Errorf("no job called %q", r.PathValue("job"))
	}
	var job struct {
		Spec struct {
			Department string `json:"department"`
		} `json:"spec"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&job) != nil {
		return "", nil, http.StatusBadGateway, fmt.Errorf("the scheduler answered %s for job %q", resp.Status, r.PathValue("job"))
	}
	return job.Spec.Department, nil, 0, nil
}

// SchedulerURL parses the --scheduler flag's value.
func SchedulerURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("scheduler URL %q: want http://host:port of a highway schedule node's --http-addr", raw)
	}
	return u, nil
}
