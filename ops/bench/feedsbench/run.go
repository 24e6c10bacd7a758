package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/ops/bench/benchproc"
)

// figures are what the run measured.
type figures struct {
	idleRSS, burstRSS, stormRSS int64
	goroutines, fds             int
	singleRate, burstRate       float64
	quietP99, quietP50          time.Duration
	quietSamples                int
	cpuIdle, cpuBurst, cpuQuiet time.Duration
	cpuSingle                   time.Duration
	join                        time.Duration // from the child's start until every partition was claimed
	// burstEarly is the rows of the burst in ClickHouse when the last
	// partition was claimed: written during the join, not in burstRate.
	burstEarly int64
	tally      tally
}

func run(ctx context.Context, o options, log *slog.Logger) error {
	e, err := newEnv(ctx, o, log)
	if err != nil {
		return err
	}
	defer e.close()
	var f figures
	log.Info("run", "feeds", o.feeds, "burst", o.burst, "backlog", o.backlog, "storm", o.storm, "load", benchproc.Loadavg(), "work", o.work)

	total := int64(o.feeds) * int64(o.burst)
	if o.phases["single"] {
		if err := e.single1(ctx, &f, total); err != nil {
			return err
		}
	}
	if o.phases["idle"] {
		if err := e.idle(ctx, &f); err != nil {
			return err
		}
	}
	if o.phases["burst"] {
		if err := e.burst(ctx, &f, total); err != nil {
			return err
		}
	}
	if o.phases["quiet"] {
		if err := e.quiet(ctx, &f); err != nil {
			return err
		}
	}
	// Only the tables of the phases run exist.
	var counted []*catalog.Feed
	if o.phases["idle"] || o.phases["burst"] || o.phases["quiet"] {
		counted = slices.Clone(e.feeds)
	}
	if o.phases["single"] {
		counted = append(counted, e.single)
	}
	if f.tally, err = e.count(ctx, counted); err != nil {
		return err
	}
	report(o, f)
	return nil
}

// single1 measures one feed draining total pre-filled records alone.
func (e *env) single1(ctx context.Context, f *figures, total int64) error {
	o := e.o
	if err := e.produce(ctx, e.single, total, false); err != nil {
		return err
	}
	c, err := e.start("single", "single", e.single)
	if err != nil {
		return err
	}
	// Rows/s from when the partitions are claimed: joining the groups is
	// measured on its own (join).
	if err := e.waitAssigned(ctx, c, o.partitions); err != nil {
		c.stop()
		return err
	}
	began := time.Now()
	err = e.waitRows(ctx, total, drainTimeout(total), c.check, e.single.Table())
	f.singleRate = float64(total) / time.Since(began).Seconds()
	f.cpuSingle = c.cpu()
	c.stop()
	if err != nil {
		return fmt.Errorf("single feed: %w", err)
	}
	e.log.Info("single feed drained", "rows", total, "rows_per_s", int64(f.singleRate), "cpu", f.cpuSingle)
	return nil
}

// idle measures the child with every feed assigned and no records.
func (e *env) idle(ctx context.Context, f *figures) error {
	o := e.o
	c, err := e.start("many", "idle", e.feeds...)
	if err != nil {
		return err
	}
	if err := e.waitAssigned(ctx, c, o.feeds*o.partitions); err != nil {
		c.stop()
		return err
	}
	time.Sleep(3 * time.Second) // settle
	f.idleRSS, f.fds = c.rss(), c.fds()
	if f.goroutines, err = c.goroutines(ctx); err != nil {
		e.log.Warn("goroutine count unavailable", "err", err)
	}
	for _, p := range []string{"heap", "goroutine"} {
		if err := c.profile(ctx, p, filepath.Join(o.work, "idle-"+p+".pprof")); err != nil {
			e.log.Warn("profile unavailable", "profile", p, "err", err)
		}
	}
	f.cpuIdle = c.cpu()
	e.log.Info("idle", "rss_mb", mib(f.idleRSS), "goroutines", f.goroutines, "fds", f.fds)
	c.stop()
	return nil
}

// burst measures every feed draining burst records at once (pre-filled),
// in one process.
func (e *env) burst(ctx context.Context, f *figures, total int64) error {
	o := e.o
	if err := e.produceAll(ctx, e.feeds, int64(o.burst)); err != nil {
		return err
	}
	c, err := e.start("many", "burst", e.feeds...)
	if err != nil {
		return err
	}
	if err := e.waitAssigned(ctx, c, o.feeds*o.partitions); err != nil {
		c.stop()
		return err
	}
	// Rows/s from when every feed's partitions are claimed: the feeds that
	// joined first drain during the others' joins, so what landed by then
	// is left out of the rate (and said), and the join is its own figure.
	f.join = time.Since(c.Started)
	began := time.Now()
	if f.burstEarly, err = e.rows(ctx, tables(e.feeds)...); err != nil {
		c.stop()
		return fmt.Errorf("burst: %w", err)
	}
	err = e.waitRows(ctx, total, drainTimeout(total), c.check, tables(e.feeds)...)
	f.burstRate = float64(total-f.burstEarly) / time.Since(began).Seconds()
	if f.burstEarly > total/2 {
		e.log.Warn("most of the burst landed while the groups joined: burst_rows_per_s is of the rest only", "landed_during_join", f.burstEarly, "rows", total, "join", f.join)
	}
	f.burstRSS, f.cpuBurst = c.takePeak(), c.cpu()
	if err != nil {
		c.stop()
		return fmt.Errorf("burst: %w", err)
	}
	if err := c.profile(ctx, "heap", filepath.Join(o.work, "burst-heap.pprof")); err != nil {
		e.log.Warn("profile unavailable", "err", err)
	}
	e.log.Info("burst drained", "rows", total, "landed_during_join", f.burstEarly, "join", f.join, "rows_per_s", int64(f.burstRate), "peak_rss_mb", mib(f.burstRSS), "cpu", f.cpuBurst)
	c.stop()
	return nil
}

// quiet measures, while feed 0 drains a backlog (pre-filled) and feed 1
// gets a storm of bad records, feed 2's produce → visible latency at a
// record a second, from when every partition of the process is claimed
// (joining the groups is the join figure), and the peak RSS meanwhile.
func (e *env) quiet(ctx context.Context, f *figures) error {
	o := e.o
	backlog, storm, quiet := e.feeds[0], e.feeds[1], e.feeds[2]
	if err := e.produce(ctx, backlog, int64(o.backlog), false); err != nil {
		return err
	}
	c, err := e.start("many", "quiet", e.feeds...)
	if err != nil {
		return err
	}
	if err := e.waitAssigned(ctx, c, o.feeds*o.partitions); err != nil {
		c.stop()
		return err
	}
	c.resetPeak()
	cpu0 := c.cpu()
	qctx, stopQuiet := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var lat []time.Duration
	var probeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		lat, probeErr = e.probe(qctx, quiet, filepath.Join(o.work, "quiet-latency.tsv"), c.Started)
	}()
	stormErr := e.produce(ctx, storm, int64(o.storm), true)
	want := int64(o.backlog)
	if o.phases["burst"] {
		want += int64(o.burst)
	}
	drainErr := e.waitRows(ctx, want, drainTimeout(want), c.check, backlog.Table())
	if stormErr == nil && drainErr == nil {
		drainErr = e.waitRejected(ctx, c, storm, int64(o.storm))
	}
	least := max(o.quietFor, 30*time.Second)
	if wait := least - time.Since(c.Started); wait > 0 {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
	}
	stopQuiet()
	wg.Wait()
	f.stormRSS, f.cpuQuiet = c.takePeak(), c.cpu()-cpu0
	if err := c.profile(ctx, "heap", filepath.Join(o.work, "storm-heap.pprof")); err != nil {
		e.log.Warn("profile unavailable", "err", err)
	}
	// Let the quiet feed's last records land before counting.
	time.Sleep(2 * time.Second)
	c.stop()
	for _, err := range []error{stormErr, drainErr, probeErr} {
		if err != nil {
			return fmt.Errorf("quiet measurement: %w", err)
		}
	}
	slices.Sort(lat)
	f.quietSamples = len(lat)
	f.quietP50, f.quietP99 = percentile(lat, 0.5), percentile(lat, 0.99)
	e.log.Info("quiet measured", "samples", len(lat), "p50", f.quietP50, "p99", f.quietP99, "storm_peak_rss_mb", mib(f.stormRSS))
	return nil
}

// start runs a `highway process` of feeds in consumer groups named after
// group, logging to <work>/<tag>.log.
func (e *env) start(group, tag string, feeds ...*catalog.Feed) (*child, error) {
	c, err := startChild(e.o.highway, e.childArgs(group, feeds...), filepath.Join(e.o.work, tag+".log"), fmt.Sprintf("http://127.0.0.1:%d", e.o.metricsPort))
	if err != nil {
		return nil, err
	}
	c.Started = time.Now()
	return c, nil
}

// check fails once the child has exited.
func (c *child) check() error {
	if !c.alive() {
		return c.failure()
	}
	return nil
}

// waitAssigned waits until the child has claimed n distinct partitions
// (of all its feeds: a partition claimed again after a rebalance counts
// once).
func (e *env) waitAssigned(ctx context.Context, c *child, n int) error {
	deadline := time.Now().Add(3*time.Minute + time.Duration(n)*100*time.Millisecond)
	for c.assigned() < n {
		if err := c.check(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d partitions assigned", c.assigned(), n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// waitRejected waits until the child has sent n rejects of feed to its
// dead-letter topic (its highway_processor_rejects_total).
func (e *env) waitRejected(ctx context.Context, c *child, feed *catalog.Feed, n int64) error {
	deadline := time.Now().Add(drainTimeout(n))
	for {
		if got := c.metric(ctx, "highway_processor_rejects_total", `feed="`+feed.Name+`"`); got >= float64(n) {
			return nil
		}
		if err := c.check(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the storm's %d rejects not all sent after %s", n, drainTimeout(n))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// probe produces one record a second to feed until ctx ends and returns
// each one's time from produce to visible in ClickHouse. Each sample is
// written to path too: seconds since since, the seq, milliseconds.
func (e *env) probe(ctx context.Context, feed *catalog.Feed, path string, since time.Time) ([]time.Duration, error) {
	out, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	var lat []time.Duration
	sent := map[int64]time.Time{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return lat, nil
		case <-tick.C:
			e.mu.Lock()
			seq := e.sent[feed]
			e.mu.Unlock()
			at := time.Now()
			if err := e.produce(ctx, feed, 1, false); err != nil {
				if ctx.Err() != nil {
					return lat, nil
				}
				return lat, err
			}
			sent[seq] = at
		case <-poll.C:
			if len(sent) == 0 {
				continue
			}
			lowest := int64(-1)
			for s := range sent {
				if lowest < 0 || s < lowest {
					lowest = s
				}
			}
			var seqs []int64
			q := fmt.Sprintf("SELECT groupArray(seq) FROM %s.%s WHERE seq >= %d", e.db, feed.Table(), lowest)
			if err := e.store.QueryRow(ctx, []any{&seqs}, q); err != nil {
				if ctx.Err() != nil {
					return lat, nil
				}
				return lat, err
			}
			now := time.Now()
			for _, s := range seqs {
				if at, ok := sent[s]; ok {
					lat = append(lat, now.Sub(at))
					fmt.Fprintf(out, "%.1f\t%d\t%d\n", at.Sub(since).Seconds(), s, now.Sub(at).Milliseconds())
					delete(sent, s)
				}
			}
		}
	}
}

func report(o options, f figures) {
	fmt.Printf("feeds=%d burst=%d backlog=%d storm=%d partitions=%d highway=%s load=%s\n", o.feeds, o.burst, o.backlog, o.storm, o.partitions, o.highway, benchproc.Loadavg())
	fmt.Printf("single feed: %.0f rows/s, cpu %s\n", f.singleRate, f.cpuSingle.Round(10*time.Millisecond))
	fmt.Printf("idle: rss %d MiB, %d goroutines, %d open files, cpu %s\n", mib(f.idleRSS), f.goroutines, f.fds, f.cpuIdle.Round(10*time.Millisecond))
	fmt.Printf("burst: %.0f rows/s (%.2f × single) from when every partition was claimed, %s after the start (%d rows landed before, not counted), peak rss %d MiB, cpu %s\n", f.burstRate, ratio(f.burstRate, f.singleRate), f.join.Round(100*time.Millisecond), f.burstEarly, mib(f.burstRSS), f.cpuBurst.Round(10*time.Millisecond))
	fmt.Printf("quiet: %d samples, p50 %d ms, p99 %d ms; storm peak rss %d MiB, cpu %s\n", f.quietSamples, f.quietP50.Milliseconds(), f.quietP99.Milliseconds(), mib(f.stormRSS), f.cpuQuiet.Round(10*time.Millisecond))
	fmt.Printf("feeds n=%d rss_mb=%d goroutines=%d fds=%d burst_rows_per_s=%.0f ratio_single=%.2f quiet_p99_ms=%d storm_rss_mb=%d lost=%d duplicated=%d join_s=%.1f\n",
		o.feeds, mib(max(f.idleRSS, f.burstRSS)), f.goroutines, f.fds, f.burstRate, ratio(f.burstRate, f.singleRate), f.quietP99.Milliseconds(), mib(f.stormRSS), f.tally.lost, f.tally.duplicated, f.join.Seconds())
	os.Stdout.Sync()
}

// ratio is a / b, 0 when b is (a phase not run).
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func tables(feeds []*catalog.Feed) []string {
	out := make([]string, len(feeds))
	for i, f := range feeds {
		out[i] = f.Table()
	}
	return out
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(int(float64(len(sorted))*p), len(sorted)-1)]
}

func drainTimeout(n int64) time.Duration { return 3*time.Minute + time.Duration(n/5000)*time.Second }

func mib(b int64) int64 { return (b + 1<<19) >> 20 }
