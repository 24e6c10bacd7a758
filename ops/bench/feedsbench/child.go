package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cityhighway/highway/ops/bench/benchproc"
)

// child is one `highway process` run, whose RSS is sampled every 100 ms.
type child struct {
	*benchproc.Child
	metrics string // base URL of /metrics and /debug/pprof

	mu   sync.Mutex
	peak int64 // bytes, since the last resetPeak
}

// startChild runs `bin process args...`, logging to logPath.
func startChild(bin string, args []string, logPath, metrics string) (*child, error) {
	c := &child{metrics: metrics}
	pc, err := benchproc.Start(bin, args, logPath, 100*time.Millisecond, c.sample)
	if err != nil {
		return nil, err
	}
	c.Child = pc
	return c, nil
}

// sample keeps the highest RSS of the process pid.
func (c *child) sample(pid int) {
	if rss := benchproc.StatusBytes(pid, "VmRSS"); rss > 0 {
		c.mu.Lock()
		c.peak = max(c.peak, rss)
		c.mu.Unlock()
	}
}

// alive says whether the child still runs; failure says why it ended.
func (c *child) alive() bool { return c.Alive() }

func (c *child) failure() error { return c.Failure(15) }

// stop ends the child with SIGTERM (SIGKILL after 30 s).
func (c *child) stop() { c.Stop(30 * time.Second) }

// rss is the child's resident set now, in bytes.
func (c *child) rss() int64 { return benchproc.StatusBytes(c.Pid(), "VmRSS") }

// resetPeak starts a new peak; takePeak returns the peak since.
func (c *child) resetPeak() {
	c.mu.Lock()
	c.peak = c.rss()
	c.mu.Unlock()
}

func (c *child) takePeak() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return max(c.peak, c.rss())
}

// fds is the number of the child's open files (sockets included).
func (c *child) fds() int {
	es, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", c.Pid()))
	return len(es)
}

// cpu is the child's CPU time so far (user + system).
func (c *child) cpu() time.Duration {
	d, _ := benchproc.CPU(c.Pid())
	return d
}

// goroutines reads the child's goroutine count from its profiler.
func (c *child) goroutines(ctx context.Context) (int, error) {
	body, err := c.get(ctx, "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(body), "\n")
	n, err := strconv.Atoi(strings.TrimPrefix(line, "goroutine profile: total "))
	if err != nil {
		return 0, fmt.Errorf("goroutine profile: first line %q", line)
	}
	return n, nil
}

// profile saves the child's profile name (heap, goroutine) to path.
func (c *child) profile(ctx context.Context, name, path string) error {
	body, err := c.get(ctx, "/debug/pprof/"+name)
	if err != nil {
		return err
	}
	return os.WriteFile(path, body, 0o644)
}

// metric returns the sum of the samples of the Prometheus series name
// whose labels contain labels (e.g. `feed="x"`), or -1 when there is none.
func (c *child) metric(ctx context.Context, name, labels string) float64 {
	body, err := c.get(ctx, "/metrics")
	if err != nil {
		return -1
	}
	sum, found := 0.0, false
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		series, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		n, lbl, _ := strings.Cut(series, "{")
		if n != name || !strings.Contains(lbl, labels) {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			sum, found = sum+v, true
		}
	}
	if !found {
		return -1
	}
	return sum
}

func (c *child) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.metrics+path, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", path, res.Status)
	}
	return io.ReadAll(res.Body)
}

// assignedLine matches the log line of a claimed partition.
var assignedLine = regexp.MustCompile(`msg="partition assigned" feed=(\S+) partition=(\d+)`)

// assigned counts the distinct partitions (feed and partition) the child's
// log says were claimed.
func (c *child) assigned() int {
	data, _ := os.ReadFile(c.LogPath)
	seen := map[string]struct{}{}
	for _, m := range assignedLine.FindAllSubmatch(data, -1) {
		seen[string(m[1])+"/"+string(m[2])] = struct{}{}
	}
	return len(seen)
}
