package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/cityhighway/highway/analytics/scheduler"
)

func runJobs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("jobs", "jobs list | get NAME | create FILE | update FILE | delete NAME | pause NAME | resume NAME | trigger NAME [SLOT] | runs NAME | cluster | drain ID | undrain ID | remove ID [flags]", `
Manages analytics jobs over the scheduler's HTTP API (any member; writes go
to the leader). create and update read a job spec in YAML or JSON ("-" for
standard input); trigger runs the slot containing SLOT (RFC 3339), by
default the last slot that ended, now, replacing its earlier output.`, stderr)
	server := fs.String("server", envOr("HIGHWAY_SCHEDULER", "127.0.0.1:7080"), "HTTP address of a scheduler node (default $HIGHWAY_SCHEDULER)")
	asJSON := fs.Bool("json", false, "print the API's JSON instead of tables")
	limit := fs.Int("limit", 50, "runs: most attempts to show (0 for all)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return fmt.Errorf("%w: say what to do: list, get, create, update, delete, pause, resume, trigger, runs, cluster, drain, undrain or remove", errUsage)
	}
	base := *server
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	cl := &apiClient{base: strings.TrimRight(base, "/"), http: &http.Client{Timeout: 15 * time.Second}}
	verb := rest[0]
	// Flags may also follow the verb: jobs runs --limit 5 NAME.
	if err := parseFlags(fs, rest[1:]); err != nil {
		return err
	}
	args = fs.Args()
	need := func(what string) (string, error) {
		if len(args) != 1 {
			return "", fmt.Errorf("%w: jobs %s takes one %s", errUsage, verb, what)
		}
		return args[0], nil
	}
	var (
		out []byte
		err error
	)
	switch verb {
	case "list":
		out, err = cl.do(ctx, http.MethodGet, "/api/v1/jobs", nil)
		if err == nil && !*asJSON {
			return printJobs(stdout, out)
		}
	case "get":
		var name string
		if name, err = need("job name"); err == nil {
			out, err = cl.do(ctx, http.MethodGet, "/api/v1/jobs/"+url.PathEscape(name), nil)
		}
	case "create", "update":
		var file string
		if file, err = need("spec file"); err != nil {
			return err
		}
		var spec []byte
		if file == "-" {
			spec, err = io.ReadAll(os.Stdin)
		} else {
			spec, err = os.ReadFile(file)
		}
		if err != nil {
			return fmt.Errorf("reading the job spec: %w", err)
		}
		if verb == "create" {
			out, err = cl.do(ctx, http.MethodPost, "/api/v1/jobs", spec)
		} else {
			var probe struct{ Name string }
			if name, ok := specName(spec); ok {
				probe.Name = name
			}
			out, err = cl.do(ctx, http.MethodPut, "/api/v1/jobs/"+url.PathEscape(probe.Name), spec)
		}
	case "delete", "pause", "resume":
		var name string
		if name, err = need("job name"); err == nil {
			method, path := http.MethodPost, "/api/v1/jobs/"+url.PathEscape(name)+"/"+verb
			if verb == "delete" {
				method, path = http.MethodDelete, "/api/v1/jobs/"+url.PathEscape(name)
			}
			out, err = cl.do(ctx, method, path, nil)
		}
	case "trigger":
		if len(args) < 1 || len(args) > 2 {
			return fmt.Errorf("%w: jobs trigger NAME [SLOT]", errUsage)
		}
		path := "/api/v1/jobs/" + url.PathEscape(args[0]) + "/trigger"
		if len(args) == 2 {
			path += "?slot=" + url.QueryEscape(args[1])
		}
		out, err = cl.do(ctx, http.MethodPost, path, nil)
	case "runs":
		var name string
		if name, err = need("job name"); err == nil {
			out, err = cl.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/jobs/%s/runs?limit=%d", url.PathEscape(name), *limit), nil)
			if err == nil && !*asJSON {
				return printRuns(stdout, out)
			}
		}
	case "cluster":
		out, err = cl.do(ctx, http.MethodGet, "/api/v1/cluster", nil)
		if err == nil && !*asJSON {
			return printCluster(stdout, out)
		}
	case "drain", "undrain":
		var id string
		if id, err = need("node ID"); err == nil {
			out, err = cl.do(ctx, http.MethodPost, "/api/v1/cluster/members/"+url.PathEscape(id)+"/"+verb, nil)
		}
	case "remove":
		var id string
		if id, err = need("node ID"); err == nil {
			out, err = cl.do(ctx, http.MethodDelete, "/api/v1/cluster/members/"+url.PathEscape(id), nil)
		}
	default:
		return fmt.Errorf("%w: unknown jobs command %q", errUsage, verb)
	}
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}

// specName finds the name of a job spec without validating it (the server does).
func specName(spec []byte) (string, bool) {
	for _, line := range strings.Split(string(spec), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "name:"); ok {
			return strings.Trim(strings.TrimSpace(v), `"'`), true
		}
	}
	var j struct{ Name string }
	if json.Unmarshal(spec, &j) == nil && j.Name != "" {
		return j.Name, true
	}
	return "", false
}

type apiClient struct {
	base string
	http *http.Client
}

// do sends a request and returns the body of a 2xx answer; other answers
// become errors with the server's message and problems.
func (c *apiClient) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/yaml")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reaching the scheduler at %s (is `highway schedule` running? --server picks another): %w", c.base, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s: %w", c.base, err)
	}
	if resp.StatusCode/100 == 2 {
		return out, nil
	}
	var e struct {
		Error    string
		Problems []string
	}
	if json.Unmarshal(out, &e) == nil && e.Error != "" {
		if len(e.Problems) > 0 {
			return nil, fmt.Errorf("%s: %s:\n%s", resp.Status, e.Error, strings.Join(e.Problems, "\n"))
		}
		return nil, fmt.Errorf("%s: %s", resp.Status, e.Error)
	}
	return nil, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(out))
}

func printJobs(w io.Writer, body []byte) error {
	var v struct{ Jobs []scheduler.JobView }
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("decoding the job list: %w", err)
	}
	tb := newTable(w, "JOB", "SCHEDULE", "PAUSED", "NEXT SLOT", "SUCCEEDED", "RUNNING", "FAILED", "LAST")
	for _, j := range v.Jobs {
		sched := j.Spec.Cron + " " + j.Spec.TimeZone
		if j.Spec.Every > 0 {
			sched = "every " + j.Spec.Every.String()
		}
		last := "-"
		if j.Last != nil {
			last = cell(j.Last.SlotStart) + " " + string(j.Last.SlotState)
		}
		tb.row(j.Name, sched, j.Paused, j.Next, j.Succeeded, j.Running, j.Failed, last)
	}
	return tb.flush()
}

func printRuns(w io.Writer, body []byte) error {
	var v struct{ Runs []scheduler.RunView }
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("decoding the runs: %w", err)
	}
	tb := newTable(w, "SLOT", "ATTEMPT", "NODE", "STATE", "ROWS", "ASSIGNED", "TOOK", "ERROR")
	for _, r := range v.Runs {
		took := "-"
		if r.EndedAt != nil {
			took = r.EndedAt.Sub(r.AssignedAt).Round(time.Millisecond).String()
		}
		tb.row(r.SlotStart, r.Attempt, r.Node, r.State, r.Rows, r.AssignedAt, took, r.Error)
	}
	return tb.flush()
}

func printCluster(w io.Writer, body []byte) error {
	var v scheduler.ClusterView
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("decoding the cluster: %w", err)
	}
	fmt.Fprintf(w, "leader %s  term %d  applied index %d  (as seen by %s, %s)\n", v.Leader, v.Term, v.AppliedIndex, v.Node, v.State)
	tb := newTable(w, "ID", "RAFT", "HTTP", "SUFFRAGE", "LEADER", "DRAINING", "RUNNING", "ASSIGNED")
	for _, m := range v.Members {
		tb.row(m.ID, m.Raft, m.HTTP, m.Suffrage, m.Leader, m.Draining, m.Running, m.Assigned)
	}
	return tb.flush()
}
