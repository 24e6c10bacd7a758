package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cityhighway/highway/highway/bus"
)

// Latency is measured with probes. The producer sends the records of a fixed
// rate in one batch per tick; the first record of every batch is a probe: a
// normal detector record whose detector_id is "~probe-<unix ns>", the time
// just before the batch is handed to the Kafka producer. Probe ids sort after
// every real detector id, and detector_id leads the table's ORDER BY, so a
// poller finds the visible probes through the primary index without scanning
// the table: every pollEvery it selects them, and a probe's latency is the
// time that query returned minus the time in its id. Figures are therefore
// high by up to pollEvery plus one query.
const (
	probePrefix = "~probe-"
	warmPrefix  = "~warm-"
	tick        = 20 * time.Millisecond
	pollEvery   = 50 * time.Millisecond
	producers   = 4
	poolRecords = 100_000
)

// latencyResult summarises one latency measurement.
type latencyResult struct {
	Wanted   int   // records/s asked for
	Achieved int64 // records/s produced
	Probes   int
	Missing  int // probes never seen within the wait
	P50, P99 time.Duration
	Max      time.Duration
	// Slices are p50/p99 per 5 s of produce time, to tell a steady
	// latency from one that grows because the consumer falls behind.
	Slices []string
}

// runLatency runs only the latency measurements, at -latency-rate, and
// prints their results.
func runLatency(ctx context.Context, o options, log *slog.Logger) error {
	e, err := newEnv(ctx, o, log)
	if e != nil {
		defer e.close()
	}
	if err != nil {
		return err
	}
	r := results{}
	if r.hwLat, r.hwLatUsage, err = e.highwayLatency(ctx, o.latencyRate); err != nil {
		return err
	}
	if o.engine {
		if r.engLat, err = e.engineLatency(ctx, o.latencyRate); err != nil {
			return err
		}
	}
	fmt.Printf("latency rate=%d p50_ms=%d p99_ms=%d engine_p50_ms=%d engine_p99_ms=%d rss_mb=%d\n", o.latencyRate,
		r.hwLat.P50.Milliseconds(), r.hwLat.P99.Milliseconds(), r.engLat.P50.Milliseconds(), r.engLat.P99.Milliseconds(), mib(r.hwLatUsage.VmHWM))
	return nil
}

// highwayLatency runs a `highway process` child on the latency feed and
// measures at the given rate.
func (e *env) highwayLatency(ctx context.Context, ratePerSec int) (latencyResult, usage, error) {
	feed := e.feeds[roleLatency]
	if err := e.bus.EnsureTopics(ctx, e.o.partitions, feed.Topic(), feed.DLQTopic()); err != nil {
		return latencyResult{}, usage{}, err
	}
	c, err := startHighway(e.o.highway, e.highwayArgs(feed, 0), filepath.Join(e.o.work, "highway-latency.log"))
	if err != nil {
		return latencyResult{}, usage{}, err
	}
	res, err := e.measureLatency(ctx, feed.Topic(), feed.Table(), ratePerSec, func() error {
		if !c.alive() {
			return c.failure()
		}
		return nil
	})
	u := c.stop()
	return res, u, err
}

// engineLatency attaches the Kafka engine to a fresh topic and measures at
// the given rate.
func (e *env) engineLatency(ctx context.Context, ratePerSec int) (latencyResult, error) {
	target := e.feeds[roleEngineLat]
	topic := target.Topic()
	if err := e.bus.EnsureTopics(ctx, e.o.partitions, topic); err != nil {
		return latencyResult{}, err
	}
	if err := e.attachEngine(ctx, topic, target, fmt.Sprintf(engineGroupFmt, e.o.run, "latency")); err != nil {
		return latencyResult{}, err
	}
	defer e.detachEngine(context.WithoutCancel(ctx), target)
	return e.measureLatency(ctx, topic, target.Table(), ratePerSec, func() error { return nil })
}

// measureLatency waits until a warm-up probe produced to topic is visible in
// table (so the consumer is running), then produces at ratePerSec for the
// run's latency duration and returns the probes' latencies.
func (e *env) measureLatency(ctx context.Context, topic, table string, ratePerSec int, check func() error) (latencyResult, error) {
	res := latencyResult{Wanted: ratePerSec}
	if ratePerSec < int(time.Second/tick) {
		return res, fmt.Errorf("latency rate %d/s is below one record per %s tick", ratePerSec, tick)
	}
	pool := e.gen.records(0, poolRecords, topic)
	var tmpl map[string]any
	if err := json.Unmarshal(pool[0].Value, &tmpl); err != nil {
		return res, fmt.Errorf("reading a record to make probes of: %w", err)
	}
	probe := func(id string) bus.Message {
		rec := make(map[string]any, len(tmpl))
		for k, v := range tmpl {
			rec[k] = v
		}
		rec["detector_id"] = id
		value, _ := json.Marshal(rec)
		return bus.Message{Topic: topic, Key: []byte(id + "|" + fmt.Sprint(rec["lane_id"])), Value: value, Headers: pool[0].Headers}
	}
	prod := e.bus.NewProducer()
	defer prod.Close()

	// Warm up: one probe every 2 s until one is visible. Not faster: 18.16's
	// Kafka engine ends a block only when a poll waits 500 ms for nothing
	// (or kafka_max_block_size rows arrive), so a probe every 500 ms would
	// never be flushed.
	warmed := false
	for i := 0; i < 60 && !warmed; i++ {
		if err := check(); err != nil {
			return res, err
		}
		if err := prod.Produce(ctx, probe(fmt.Sprintf("%s%04d", warmPrefix, i))); err != nil {
			return res, err
		}
		time.Sleep(2 * time.Second)
		ids, err := e.probes(ctx, table, warmPrefix)
		if err != nil {
			return res, err
		}
		warmed = len(ids) > 0
	}
	if !warmed {
		return res, &engineError{fmt.Sprintf("no warm-up probe became visible in %s within 2 minutes", table)}
	}
	e.log.Info("latency: consumer running; producing at a fixed rate", "table", table, "rate", ratePerSec, "duration", e.o.latencyFor)

	perTick := int(float64(ratePerSec) * tick.Seconds())
	ticks := int(e.o.latencyFor / tick)
	jobs := make(chan int, producers)
	var (
		produced atomic.Int64
		sent     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		failure  error
	)
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for w := 0; w < producers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range jobs {
				msgs := make([]bus.Message, perTick)
				for i := 1; i < perTick; i++ {
					msgs[i] = pool[(k*perTick+i)%len(pool)]
				}
				msgs[0] = probe(probePrefix + strconv.FormatInt(time.Now().UnixNano(), 10))
				if err := prod.Produce(pctx, msgs...); err != nil {
					mu.Lock()
					failure = err
					mu.Unlock()
					cancel()
					return
				}
				sent.Add(1)
				produced.Add(int64(perTick))
			}
		}()
	}

	lat := map[string]time.Duration{}
	sentAt := map[string]time.Time{}
	poll := func() error {
		ids, err := e.probes(ctx, table, probePrefix)
		if err != nil {
			return err
		}
		seen := time.Now()
		for _, id := range ids {
			if _, ok := lat[id]; ok {
				continue
			}
			ns, err := strconv.ParseInt(strings.TrimPrefix(id, probePrefix), 10, 64)
			if err != nil {
				return fmt.Errorf("unexpected probe id %q in %s", id, table)
			}
			lat[id] = seen.Sub(time.Unix(0, ns))
			sentAt[id] = time.Unix(0, ns)
		}
		return nil
	}

	// The schedule: tick k is due at began + k×tick; a late producer makes
	// the achieved rate lower, which the result says.
	began := time.Now()
	go func() {
		defer close(jobs)
		for k := 0; k < ticks; k++ {
			if d := time.Until(began.Add(time.Duration(k) * tick)); d > 0 {
				select {
				case <-time.After(d):
				case <-pctx.Done():
					return
				}
			}
			select {
			case jobs <- k:
			case <-pctx.Done():
				return
			}
		}
	}()
	producing := make(chan struct{})
	go func() { wg.Wait(); close(producing) }()
	stop := progress(ctx, e.log, "latency", func() []any {
		return []any{"table", table, "produced", produced.Load(), "probes_sent", sent.Load(), "probes_seen", len(lat), "load", loadavg()}
	})
	defer stop()
	// Poll while producing, then until every probe is seen or 2 minutes pass.
	var endProduce time.Time
	for {
		if err := poll(); err != nil {
			return res, err
		}
		if err := check(); err != nil {
			return res, err
		}
		select {
		case <-producing:
			if endProduce.IsZero() {
				endProduce = time.Now()
				res.Achieved = rate(produced.Load(), endProduce.Sub(began))
			}
		default:
		}
		if !endProduce.IsZero() && (len(lat) >= int(sent.Load()) || time.Since(endProduce) > 2*time.Minute) {
			break
		}
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		time.Sleep(pollEvery)
	}
	if failure != nil {
		return res, fmt.Errorf("producing at %d/s: %w", ratePerSec, failure)
	}
	res.Probes = int(sent.Load())
	res.Missing = res.Probes - len(lat)
	all := make([]time.Duration, 0, len(lat))
	for _, d := range lat {
		all = append(all, d)
	}
	slices.Sort(all)
	res.P50, res.P99 = percentile(all, 0.50), percentile(all, 0.99)
	if len(all) > 0 {
		res.Max = all[len(all)-1]
	}
	slices5 := map[int][]time.Duration{}
	for id, d := range lat {
		k := int(sentAt[id].Sub(began) / (5 * time.Second))
		slices5[k] = append(slices5[k], d)
	}
	for k := 0; k <= int(e.o.latencyFor/(5*time.Second)); k++ {
		ds := slices5[k]
		if len(ds) == 0 {
			continue
		}
		slices.Sort(ds)
		res.Slices = append(res.Slices, fmt.Sprintf("%ds:%d/%d", k*5, percentile(ds, 0.5).Milliseconds(), percentile(ds, 0.99).Milliseconds()))
	}
	e.log.Info("latency measured", "table", table, "wanted", res.Wanted, "achieved", res.Achieved, "probes", res.Probes, "missing", res.Missing,
		"p50", res.P50.Round(time.Millisecond), "p99", res.P99.Round(time.Millisecond), "max", res.Max.Round(time.Millisecond),
		"p50/p99_ms_per_5s", strings.Join(res.Slices, " "))
	return res, nil
}

// probes returns the detector ids starting with prefix in table, found
// through the primary index.
func (e *env) probes(ctx context.Context, table, prefix string) ([]string, error) {
	var ids []string
	// '~' sorts after every real id; the upper bound ends the prefix range.
	hi := prefix[:len(prefix)-1] + string(prefix[len(prefix)-1]+1)
	q := fmt.Sprintf("SELECT groupArray(detector_id) FROM %s.%s WHERE detector_id >= ? AND detector_id < ?", e.db, table)
	if err := e.store.QueryRow(ctx, []any{&ids}, q, prefix, hi); err != nil {
		return nil, fmt.Errorf("polling probes in %s: %w", table, err)
	}
	return ids, nil
}

// percentile returns the nearest-rank p-quantile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}
