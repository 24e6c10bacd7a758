// Command scheduler is the scheduler's chaos test: it starts three real
// `highway schedule` processes on 127.0.0.1, schedules a job every second
// that records its slot and the node that ran it (chaos.tick, into
// ClickHouse), and then, trial after trial, kills the leader with SIGKILL
// and restarts it; every third trial it also pauses a node with SIGSTOP for
// longer than its lease, every fifth it restarts a follower. At the end it
// checks that every slot of the period ran exactly once — one visible
// result row and one succeeded run in the log — and prints, last:
//
//	scheduler trials=N slots=S duplicates=D missed=M failover_p50_ms=X failover_p99_ms=Y election_timeout_ms=E
//
// Failover is the time from the SIGKILL of the leader to the first slot
// the next leader assigns. Run it with ops/chaos/scheduler/run, or
// `go run ./ops/chaos/scheduler --trials 30`; it needs HIGHWAY_CLICKHOUSE.
// It exits 1 when a slot is duplicated or missed.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/cityhighway/highway/analytics/scheduler"
	"github.com/cityhighway/highway/highway/store"
)

// options configure one chaos run.
type options struct {
	trials   int
	binary   string
	dsn      string
	basePort int
	election time.Duration
	lease    time.Duration
	workDir  string
	out      io.Writer
}

func main() {
	var o options
	flag.IntVar(&o.trials, "trials", 30, "leader kills")
	short := flag.Bool("short", false, "3 trials, for tests")
	flag.StringVar(&o.binary, "binary", "", "the highway binary (default: go build ./cmd/highway into the work dir)")
	flag.StringVar(&o.dsn, "clickhouse", os.Getenv("HIGHWAY_CLICKHOUSE"), "ClickHouse DSN (default $HIGHWAY_CLICKHOUSE)")
	flag.IntVar(&o.basePort, "base-port", 17400, "nodes use ports base+1.. (raft) and base+11.. (HTTP)")
	flag.DurationVar(&o.election, "election-timeout", 500*time.Millisecond, "raft election timeout of the nodes")
	flag.DurationVar(&o.lease, "lease", 3*time.Second, "lease of an assigned slot")
	flag.StringVar(&o.workDir, "dir", "", "work dir for data and logs (default: a new temporary dir)")
	flag.Parse()
	if *short {
		o.trials = 3
	}
	o.out = os.Stdout
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	if res.duplicates > 0 || res.missed > 0 {
		os.Exit(1)
	}
}

// result is what a run measured.
type result struct {
	trials, slots, duplicates, missed int
	reexecuted                        int
	failovers                         []time.Duration
}

// line is the summary line, exactly as the issue asks.
func (r result) line(election time.Duration) string {
	return fmt.Sprintf("scheduler trials=%d slots=%d duplicates=%d missed=%d failover_p50_ms=%d failover_p99_ms=%d election_timeout_ms=%d",
		r.trials, r.slots, r.duplicates, r.missed, pct(r.failovers, 50).Milliseconds(), pct(r.failovers, 99).Milliseconds(), election.Milliseconds())
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

const jobSpec = `kind: job
name: chaos.tick
department: PLATFORM
description: Records each one-second slot and the node that ran it.
every: 1s
catchup: 1h
concurrency: allow
retries: 5
backoff: 1s
timeout: 10s
table: chaos_tick
sql: SELECT {slot_start} AS tick
`

// node is one highway schedule process.
type node struct {
	id, raft, http, dir, log string
	args                     []string
	cmd                      *exec.Cmd
	done                     chan struct{}
}

func run(ctx context.Context, o options) (result, error) {
	var res result
	if o.dsn == "" {
		return res, errors.New("no ClickHouse: set HIGHWAY_CLICKHOUSE or pass --clickhouse (`eval \"$(ops/services up)\"` starts one)")
	}
	if o.workDir == "" {
		d, err := os.MkdirTemp("", "highway-chaos-")
		if err != nil {
			return res, err
		}
		o.workDir = d
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(o.out, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
	}
	logf("work dir %s", o.workDir)
	if o.binary == "" {
		o.binary = filepath.Join(o.workDir, "highway")
		build := exec.CommandContext(ctx, "go", "build", "-o", o.binary, "./cmd/highway")
		build.Dir = repoRoot()
		if out, err := build.CombinedOutput(); err != nil {
			return res, fmt.Errorf("building highway: %v\n%s", err, out)
		}
	}

	// A fresh database for the job's results.
	st, err := store.Open(ctx, o.dsn, nil)
	if err != nil {
		return res, err
	}
	db := fmt.Sprintf("chaos_%d", time.Now().UnixNano())
	if err := st.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		st.Close()
		return res, err
	}
	defer func() {
		// Runs after the nodes are stopped (deferred below), so nothing
		// writes into the database while it is dropped.
		st, err := store.Open(context.Background(), o.dsn, nil)
		if err == nil {
			if err := st.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db); err != nil {
				fmt.Fprintf(os.Stderr, "dropping %s: %v\n", db, err) // stdout's last line stays the summary
			}
			st.Close()
		}
	}()
	st.Close()
	dsn := withDatabase(o.dsn, db)
	if st, err = store.Open(ctx, dsn, nil); err != nil {
		return res, err
	}
	defer st.Close()
	specs := filepath.Join(o.workDir, "specs")
	if err := os.MkdirAll(specs, 0o755); err != nil {
		return res, err
	}
	if err := os.WriteFile(filepath.Join(specs, "chaos.yaml"), []byte(jobSpec), 0o644); err != nil {
		return res, err
	}

	nodes := make([]*node, 3)
	for i := range nodes {
		n := &node{
			id:   fmt.Sprintf("n%d", i+1),
			raft: fmt.Sprintf("127.0.0.1:%d", o.basePort+1+i),
			http: fmt.Sprintf("127.0.0.1:%d", o.basePort+11+i),
		}
		n.dir = filepath.Join(o.workDir, n.id)
		n.log = filepath.Join(o.workDir, n.id+".log")
		n.args = []string{"schedule", "--id", n.id, "--raft-addr", n.raft, "--http-addr", n.http, "--data-dir", n.dir,
			"--clickhouse", dsn, "--specs", specs, "--jobs", "chaos.tick", "--election-timeout", o.election.String(),
			"--lease", o.lease.String(), "--log-level", "warn", "--control-secret", "chaos-control-secret"}
		if i == 0 {
			n.args = append(n.args, "--bootstrap")
		} else {
			n.args = append(n.args, "--join", nodes[0].http)
		}
		nodes[i] = n
	}
	defer func() {
		for _, n := range nodes {
			n.kill(syscall.SIGCONT)
			n.kill(syscall.SIGKILL)
			n.wait()
		}
	}()
	for _, n := range nodes {
		if err := n.start(o.binary); err != nil {
			return res, err
		}
		if n.id == "n1" {
			if _, err := waitLeader(ctx, nodes[:1], 20*time.Second); err != nil {
				return res, fmt.Errorf("%w; see %s", err, n.log)
			}
		}
	}
	if err := waitMembers(ctx, nodes, 3, 20*time.Second); err != nil {
		return res, err
	}
	if err := waitRuns(ctx, nodes, 3, 20*time.Second); err != nil {
		return res, err
	}
	logf("3 nodes up, chaos.tick running")

	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	for trial := 1; trial <= o.trials; trial++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		leader, err := waitLeader(ctx, nodes, 20*time.Second)
		if err != nil {
			return res, err
		}
		killed := time.Now()
		leader.kill(syscall.SIGKILL)
		leader.wait()
		var alive []*node
		for _, n := range nodes {
			if n != leader {
				alive = append(alive, n)
			}
		}
		at, err := firstAssignmentAfter(ctx, alive, killed, 20*time.Second)
		if err != nil {
			return res, fmt.Errorf("trial %d: %w", trial, err)
		}
		fo := at.Sub(killed)
		res.failovers = append(res.failovers, fo)
		res.trials++
		logf("trial %d: killed leader %s, next slot assigned after %s", trial, leader.id, fo.Round(time.Millisecond))
		if err := leader.start(o.binary); err != nil {
			return res, err
		}
		if err := waitMembers(ctx, nodes, 3, 20*time.Second); err != nil {
			return res, err
		}
		if trial%3 == 0 {
			n := nodes[rng.IntN(len(nodes))]
			pause := o.lease + time.Second
			logf("trial %d: pausing %s (SIGSTOP) for %s", trial, n.id, pause)
			n.kill(syscall.SIGSTOP)
			sleep(ctx, pause)
			n.kill(syscall.SIGCONT)
		}
		if trial%5 == 0 {
			l, err := waitLeader(ctx, nodes, 20*time.Second)
			if err != nil {
				return res, err
			}
			for _, n := range nodes {
				if n != l {
					logf("trial %d: restarting follower %s", trial, n.id)
					n.kill(syscall.SIGKILL)
					n.wait()
					if err := n.start(o.binary); err != nil {
						return res, err
					}
					break
				}
			}
		}
		sleep(ctx, 1500*time.Millisecond)
	}

	// Let the cluster finish what the last trial left, then check.
	end := time.Now()
	logf("chaos over; waiting for the slots up to %s to settle", end.Format("15:04:05"))
	slots, err := settle(ctx, nodes, end, 60*time.Second)
	if err != nil {
		return res, err
	}
	rows, err := st.QueryRows(ctx, "SELECT toUInt32(_slot), count(), uniqExact(_attempt), any(_node) FROM chaos_tick_latest GROUP BY _slot")
	if err != nil {
		return res, err
	}
	visible := map[int64]uint64{}
	for _, r := range rows {
		visible[int64(r[0].(uint32))] = r[1].(uint64)
	}
	raw, err := st.QueryRows(ctx, "SELECT toUInt32(_slot), uniqExact(_attempt) FROM chaos_tick GROUP BY _slot HAVING uniqExact(_attempt) > 1")
	if err != nil {
		return res, err
	}
	res.reexecuted = len(raw)
	var first int64
	for st := range slots {
		if first == 0 || st < first {
			first = st
		}
	}
	for s := first; s+1 <= end.Unix(); s++ {
		res.slots++
		sl, ok := slots[s]
		switch {
		case !ok || sl.SlotState != scheduler.SlotSucceeded || visible[s] == 0:
			res.missed++
			logf("slot %s missed: log %+v, %d visible rows", time.Unix(s, 0).UTC().Format(time.RFC3339), sl, visible[s])
		case visible[s] > 1:
			res.duplicates++
			logf("slot %s duplicated: %d visible rows", time.Unix(s, 0).UTC().Format(time.RFC3339), visible[s])
		}
	}
	logf("%d slots, %d re-executed after a lost lease (output replaced, not doubled)", res.slots, res.reexecuted)
	fmt.Fprintln(o.out, res.line(o.election))
	return res, nil
}

func (n *node) start(binary string) error {
	f, err := os.OpenFile(n.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	n.cmd = exec.Command(binary, n.args...)
	n.cmd.Stdout, n.cmd.Stderr = f, f
	if err := n.cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("starting %s: %w", n.id, err)
	}
	n.done = make(chan struct{})
	go func() {
		_ = n.cmd.Wait()
		f.Close()
		close(n.done)
	}()
	return nil
}

func (n *node) kill(sig syscall.Signal) {
	if n.cmd != nil && n.cmd.Process != nil {
		_ = n.cmd.Process.Signal(sig)
	}
}

func (n *node) wait() {
	if n.done != nil {
		<-n.done
	}
}

func (n *node) alive() bool {
	if n.done == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

var client = &http.Client{Timeout: 500 * time.Millisecond}

func get(n *node, path string, v any) error {
	resp, err := client.Get("http://" + n.http + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s", n.id, path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// waitLeader returns the node that leads, as a live node reports it.
func waitLeader(ctx context.Context, nodes []*node, timeout time.Duration) (*node, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		for _, n := range nodes {
			var c scheduler.ClusterView
			if !n.alive() || get(n, "/api/v1/cluster", &c) != nil || c.Leader == "" {
				continue
			}
			for _, m := range nodes {
				if m.id == c.Leader && m.alive() {
					return m, nil
				}
			}
		}
		sleep(ctx, 20*time.Millisecond)
	}
	return nil, fmt.Errorf("no leader within %s", timeout)
}

// waitMembers waits until a leader reports want members, all registered
// and alive, and every live node has caught up with the leader's log.
func waitMembers(ctx context.Context, nodes []*node, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		l, err := waitLeader(ctx, nodes, time.Until(deadline))
		if err != nil {
			return err
		}
		var c scheduler.ClusterView
		if get(l, "/api/v1/cluster", &c) == nil && len(c.Members) == want {
			ok := true
			for _, m := range c.Members {
				ok = ok && m.HTTP != ""
			}
			for _, n := range nodes {
				var nc scheduler.ClusterView
				ok = ok && get(n, "/api/v1/cluster", &nc) == nil && nc.AppliedIndex+50 >= c.AppliedIndex && nc.Leader == c.Leader
			}
			if ok {
				return nil
			}
		}
		sleep(ctx, 50*time.Millisecond)
	}
	return fmt.Errorf("the cluster did not gather %d members within %s", want, timeout)
}

func runsOf(n *node, limit int) ([]scheduler.RunView, error) {
	var v struct{ Runs []scheduler.RunView }
	err := get(n, fmt.Sprintf("/api/v1/jobs/chaos.tick/runs?limit=%d", limit), &v)
	return v.Runs, err
}

func waitRuns(ctx context.Context, nodes []*node, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if runs, err := runsOf(nodes[0], want); err == nil && len(runs) >= want {
			return nil
		}
		sleep(ctx, 100*time.Millisecond)
	}
	return fmt.Errorf("chaos.tick did not run within %s", timeout)
}

// firstAssignmentAfter polls the live nodes for the first attempt assigned
// after t.
func firstAssignmentAfter(ctx context.Context, nodes []*node, t time.Time, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		for _, n := range nodes {
			runs, err := runsOf(n, 40)
			if err != nil {
				continue
			}
			var first time.Time
			for _, r := range runs {
				if r.AssignedAt.After(t) && (first.IsZero() || r.AssignedAt.Before(first)) {
					first = r.AssignedAt
				}
			}
			if !first.IsZero() {
				return first, nil
			}
		}
		sleep(ctx, 20*time.Millisecond)
	}
	return time.Time{}, fmt.Errorf("no slot assigned within %s of the leader's death", timeout)
}

// settle waits until every slot that ended by end has a record and none is
// running or waiting for a retry, and returns the leader's record of every
// slot; after timeout it fails.
func settle(ctx context.Context, nodes []*node, end time.Time, timeout time.Duration) (map[int64]scheduler.RunView, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		l, err := waitLeader(ctx, nodes, time.Until(deadline))
		if err != nil {
			return nil, err
		}
		runs, err := runsOf(l, 0)
		if err != nil {
			sleep(ctx, 200*time.Millisecond)
			continue
		}
		slots := map[int64]scheduler.RunView{}
		busy := false
		for _, r := range runs {
			s := r.SlotStart.Unix()
			if prev, ok := slots[s]; !ok || r.Attempt > prev.Attempt {
				slots[s] = r
			}
			if !r.SlotEnd.After(end) && (r.SlotState == scheduler.SlotRunning || r.SlotState == scheduler.SlotRetry) {
				busy = true
			}
		}
		// A slot that ended by end but has no record yet is still to be
		// assigned (the leader assigns a slot once it has ended, and may
		// just have been elected): wait for it too.
		var first int64
		for st := range slots {
			if first == 0 || st < first {
				first = st
			}
		}
		for st := first; first != 0 && st+1 <= end.Unix() && !busy; st++ {
			if _, ok := slots[st]; !ok {
				busy = true
			}
		}
		if !busy && len(slots) > 0 {
			return slots, nil
		}
		sleep(ctx, 200*time.Millisecond)
	}
	return nil, fmt.Errorf("slots not settled %s after the end: still running, waiting for a retry, or never assigned (a missed slot)", timeout)
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// withDatabase points a DSN at another database.
func withDatabase(dsn, db string) string {
	i := strings.LastIndex(dsn, "/")
	if i < len("clickhouse://") {
		return dsn + "/" + db
	}
	rest := dsn[i+1:]
	q := ""
	if j := strings.Index(rest, "?"); j >= 0 {
		q = rest[j:]
	}
	return dsn[:i+1] + db + q
}

// repoRoot finds the module root from the working directory.
func repoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}
