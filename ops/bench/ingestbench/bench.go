package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// throughput is the result of draining the pre-filled topic once.
type throughput struct {
	Rows     int64
	Took     time.Duration // from start (child started, view created) to the last row visible
	FirstRow time.Duration // from start to the first row visible
	Rate     int64         // Rows / Took
	Usage    usage         // highway's child only
	CHCPU    time.Duration // clickhouse-server's CPU time meanwhile (0 when unknown)
	KafkaCPU time.Duration // the Kafka broker's CPU time meanwhile (0 when unknown)
	Load     string        // 1-minute load average at the end
}

// fillSource creates the topics of the feed highway drains, fills its topic
// with o.rows records and waits for the machine to settle; it returns the
// feed and how many records its topic holds (every one of them must land).
func (e *env) fillSource(ctx context.Context, o options, log *slog.Logger, step string) (*catalog.Feed, int64, error) {
	src := e.feeds[roleHighway]
	if err := e.bus.EnsureTopics(ctx, o.partitions, src.Topic(), src.DLQTopic()); err != nil {
		return nil, 0, err
	}
	log.Info(step, "topic", src.Topic(), "rows", o.rows, "partitions", o.partitions, "load", loadavg())
	if err := e.fill(ctx, src.Topic(), o.rows); err != nil {
		return nil, 0, err
	}
	n, err := e.topicSize(ctx, src.Topic())
	if err != nil {
		return nil, 0, err
	}
	if n != int64(o.rows) {
		log.Warn("the topic holds a different number of records than produced (producer retries); every record in it must land", "produced", o.rows, "in_topic", n)
	}
	e.quiesce(ctx)
	return src, n, nil
}

// runBench runs every measurement and prints the summary and the last line.
// The three throughput measurements run -repeat times in rotation (highway,
// engine, ceiling, highway, ...), each into a fresh table after ClickHouse
// has finished merging the previous one; the best of each counts, so a burst
// of load from other work on the machine hurts none of them more than the
// others.
func runBench(ctx context.Context, o options, log *slog.Logger) error {
	e, err := newEnv(ctx, o, log)
	if e != nil {
		defer e.close()
	}
	if err != nil {
		return err
	}
	src, n, err := e.fillSource(ctx, o, log, "phase 1/4: filling the topic")
	if err != nil {
		return err
	}

	var (
		r         results
		engineWhy string
		cb        *ceilingData
	)
	defer func() {
		if cb != nil {
			cb.release()
		}
	}()
	if !o.engine {
		engineWhy = "not measured (-engine=false)"
	}
	for a := 1; a <= o.repeat; a++ {
		log.Info("phase 2/4: throughput", "attempt", a, "of", o.repeat)
		log.Info("highway drains the topic", "attempt", a, "rows", n, "load", loadavg())
		hw, err := e.measureHighway(ctx, src, n, a)
		if err != nil {
			return err
		}
		log.Info("highway done", "attempt", a, "rows", hw.Rows, "took", hw.Took.Round(time.Millisecond), "rate", hw.Rate,
			"cpu", hw.Usage.CPU.Round(time.Millisecond), "peak_rss_mib", mib(hw.Usage.VmHWM), "load", hw.Load)
		r.highway = append(r.highway, hw)
		e.quiesce(ctx)

		if o.baseline != "" {
			log.Info("the baseline build drains the same topic", "attempt", a, "binary", o.baseline, "rows", n, "load", loadavg())
			bl, err := e.measureBinary(ctx, o.baseline, "baseline", src, n, a)
			if err != nil {
				return fmt.Errorf("baseline %s: %w", o.baseline, err)
			}
			log.Info("baseline done", "attempt", a, "rows", bl.Rows, "took", bl.Took.Round(time.Millisecond), "rate", bl.Rate,
				"cpu", bl.Usage.CPU.Round(time.Millisecond), "peak_rss_mib", mib(bl.Usage.VmHWM), "load", bl.Load)
			r.baseline = append(r.baseline, bl)
			e.quiesce(ctx)
		}

		if engineWhy == "" {
			log.Info("ClickHouse's Kafka engine drains the same topic", "attempt", a, "rows", n, "load", loadavg())
			eng, err := e.measureEngine(ctx, src.Topic(), e.feeds[roleEngine], n, fmt.Sprintf("tput%d", a))
			if err != nil {
				var ee *engineError
				if !errors.As(err, &ee) {
					return err
				}
				engineWhy = ee.Error()
				log.Error("the Kafka engine could not consume", "why", engineWhy)
			} else {
				log.Info("kafka engine done", "attempt", a, "rows", eng.Rows, "took", eng.Took.Round(time.Millisecond), "rate", eng.Rate, "load", eng.Load)
				r.engine = append(r.engine, eng)
			}
			e.quiesce(ctx)
		}

		if cb == nil {
			log.Info("ceiling: decoding the same rows into Arrow batches in memory (not timed)", "rows", n)
			if cb, err = e.prepareCeiling(int(n)); err != nil {
				return err
			}
		}
		log.Info("ceiling: the same rows from memory", "attempt", a, "rows", n, "load", loadavg())
		c, err := e.measureCeiling(ctx, cb)
		if err != nil {
			return err
		}
		r.ceiling = append(r.ceiling, c)
		e.quiesce(ctx)
	}
	cb.release()
	cb = nil

	hw := best(r.highway)
	latRate := o.latencyRate
	if latRate <= 0 {
		latRate = int(hw.Rate / 2)
	}
	log.Info("phase 3/4: highway latency at a fixed rate", "rate", latRate, "duration", o.latencyFor, "load", loadavg())
	if r.hwLat, r.hwLatUsage, err = e.highwayLatency(ctx, latRate); err != nil {
		return err
	}
	e.quiesce(ctx)
	if engineWhy == "" {
		log.Info("phase 4/4: Kafka engine latency at the same rate", "rate", latRate, "duration", o.latencyFor, "load", loadavg())
		r.engLat, err = e.engineLatency(ctx, latRate)
		if err != nil {
			var ee *engineError
			if !errors.As(err, &ee) {
				return err
			}
			log.Error("the Kafka engine could not consume the latency topic", "why", ee.Error())
		}
	}
	r.engineWhy = engineWhy
	report(os.Stdout, o, e, r)
	return nil
}

// results are every figure of a run.
type results struct {
	highway, engine []throughput
	baseline        []throughput // the -baseline build's attempts, if any
	ceiling         []ceiling
	engineWhy       string // why the engine has no figures, or ""
	hwLat, engLat   latencyResult
	hwLatUsage      usage
}

// best returns the attempt with the highest rate (the zero value if none).
func best(ts []throughput) throughput {
	var b throughput
	for _, t := range ts {
		if t.Rate > b.Rate {
			b = t
		}
	}
	return b
}

// quiesce waits (up to 3 minutes) until ClickHouse has no merges running in
// the run's database, so that one measurement's background merges do not
// slow the next.
func (e *env) quiesce(ctx context.Context) {
	began := time.Now()
	for i := 0; i < 900; i++ {
		var n uint64
		if err := e.store.QueryRow(ctx, []any{&n}, "SELECT count() FROM system.merges WHERE database = ?", e.db); err != nil {
			e.log.Warn("reading system.merges failed", "err", err)
			return
		}
		if n == 0 {
			if d := time.Since(began); d > time.Second {
				e.log.Info("ClickHouse's merges finished", "waited", d.Round(100*time.Millisecond))
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
	e.log.Warn("ClickHouse still merging after 3 minutes; going on")
}

// highwayArgs are the flags of a `highway process` child that runs feed;
// attempt makes its consumer group new.
func (e *env) highwayArgs(feed *catalog.Feed, attempt int) []string {
	return e.childArgs(groupHighway, feed, attempt)
}

// childArgs are the flags of a `highway process` child whose consumer
// groups start with group and the attempt's number.
func (e *env) childArgs(group string, feed *catalog.Feed, attempt int) []string {
	args := []string{
		"--kafka", e.o.kafka, "--clickhouse", e.dsn, "--specs", e.specs, "--feed", feed.Name,
		"--group-prefix", fmt.Sprintf("bench.%s.%s%d", e.o.run, group, attempt), "--partitions", strconv.Itoa(e.o.partitions),
		"--metrics-addr", "", "--log-level", "info",
	}
	return append(args, strings.Fields(e.o.childFlags)...)
}

// dropTable drops a table of the run's database, so an attempt starts from
// an empty one.
func (e *env) dropTable(ctx context.Context, table string) error {
	if e.o.storeCluster != "" {
		if err := e.store.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s", e.db, table+store.LocalSuffix, e.onCluster())); err != nil {
			return err
		}
	}
	return e.store.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s", e.db, table, e.onCluster()))
}

// measureHighway runs `highway process` on feed's pre-filled topic until its
// (new) table holds n rows, then stops it and returns its figures.
func (e *env) measureHighway(ctx context.Context, feed *catalog.Feed, n int64, attempt int) (throughput, error) {
	return e.measureBinary(ctx, e.o.highway, groupHighway, feed, n, attempt)
}

// measureBinary is measureHighway with another highway binary (the
// -baseline build), whose groups start with group.
func (e *env) measureBinary(ctx context.Context, binary, group string, feed *catalog.Feed, n int64, attempt int) (throughput, error) {
	if err := e.dropTable(ctx, feed.Table()); err != nil {
		return throughput{}, err
	}
	meter, kafkaMeter := newCPUMeter(e.o.chPIDFile), newCPUMeter(e.o.kafkaPIDFile)
	c, err := startHighway(binary, e.childArgs(group, feed, attempt), filepath.Join(e.o.work, fmt.Sprintf("%s-throughput-%d.log", group, attempt)))
	if err != nil {
		return throughput{}, err
	}
	t, err := e.waitRows(ctx, feed.Table(), n, c.Started, drainTimeout(n), func(int64) error {
		if !c.alive() {
			return c.failure()
		}
		return nil
	})
	t.Usage = c.stop()
	t.CHCPU, t.KafkaCPU = meter.since(), kafkaMeter.since()
	return t, err
}

// drainTimeout bounds a drain of n rows: 3 minutes plus 1 s per 5000 rows.
func drainTimeout(n int64) time.Duration {
	return 3*time.Minute + time.Duration(n/5000)*time.Second
}

// waitRows polls table every 100 ms until it holds n rows, check (given
// the rows so far) returns an error, or timeout passes; it logs progress every 5 s. Times are measured
// from began.
func (e *env) waitRows(ctx context.Context, table string, n int64, began time.Time, timeout time.Duration, check func(have int64) error) (throughput, error) {
	t := throughput{}
	var have int64
	stop := progress(ctx, e.log, "draining", func() []any {
		el := time.Since(began)
		return []any{"table", table, "rows", have, "of", n, "elapsed", el.Round(time.Second), "rate", rate(have, el), "load", loadavg()}
	})
	defer stop()
	deadline := time.Now().Add(timeout)
	for {
		got, err := e.rows(ctx, table)
		if err != nil {
			e.log.Warn("counting rows failed; retrying", "err", err)
		} else {
			have = got
		}
		if have > 0 && t.FirstRow == 0 {
			t.FirstRow = time.Since(began)
		}
		if have >= n {
			t.Took = time.Since(began)
			t.Rows = have
			t.Rate = rate(have, t.Took)
			t.Load = loadavg()
			if have > n {
				return t, fmt.Errorf("%s holds %d rows but the topic had %d: duplicates", table, have, n)
			}
			return t, nil
		}
		if err := check(have); err != nil {
			return t, err
		}
		if time.Now().After(deadline) {
			return t, fmt.Errorf("%s holds %d of %d rows after %s: giving up", table, have, n, timeout)
		}
		select {
		case <-ctx.Done():
			return t, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func mib(b int64) int64 { return (b + 1<<19) >> 20 }
