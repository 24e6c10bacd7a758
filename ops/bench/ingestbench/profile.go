package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/stream"
)

// writeProfile writes the named runtime/pprof profile to path.
func writeProfile(name, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("writing the %s profile to %s: %w", name, path, err)
	}
	return f.Close()
}

// runProfile fills a topic, then runs one stream.Processor in this process,
// configured as `highway process` configures it (a Bus with default
// settings, --max-rows as -ceiling-batch, --max-wait 500ms), under the CPU profiler
// until every row is in ClickHouse. It writes cpu.pprof, allocs.pprof and
// heap.pprof (the live heap halfway through) to the work folder and prints the allocation and GC figures per row.
func runProfile(ctx context.Context, o options, log *slog.Logger) error {
	e, err := newEnv(ctx, o, log)
	if e != nil {
		defer e.close()
	}
	if err != nil {
		return err
	}
	feed := e.feeds[roleProfile]
	if err := e.bus.EnsureTopics(ctx, o.partitions, feed.Topic(), feed.DLQTopic()); err != nil {
		return err
	}
	if err := e.fill(ctx, feed.Topic(), o.rows); err != nil {
		return err
	}
	n, err := e.topicSize(ctx, feed.Topic())
	if err != nil {
		return err
	}
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, err := bus.New(bus.Config{Brokers: strings.Split(o.kafka, ","), Logger: quiet})
	if err != nil {
		return err
	}
	defer b.Close()
	prod := b.NewProducer()
	defer prod.Close()
	reg := prometheus.NewRegistry()
	proc, err := stream.NewProcessor(stream.Config{
		Feed: feed, Group: "bench." + o.run + ".profile", MaxRows: o.ceilBatch, MaxWait: catalog.DefaultBatch.MaxWait, Logger: quiet,
		Metrics: stream.NewMetrics(reg),
	}, b, e.store, prod)
	if err != nil {
		return err
	}

	cpuPath := filepath.Join(o.work, "cpu.pprof")
	f, err := os.Create(cpuPath)
	if err != nil {
		return fmt.Errorf("creating %s: %w", cpuPath, err)
	}
	defer f.Close()
	runtime.GC()
	// Allocations so far (the fill) are subtracted with pprof -diff_base.
	if err := writeProfile("allocs", filepath.Join(o.work, "allocs-base.pprof")); err != nil {
		return err
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpuBefore := selfCPU()
	if err := pprof.StartCPUProfile(f); err != nil {
		return fmt.Errorf("starting the CPU profile: %w", err)
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- proc.Run(pctx) }()
	log.Info("profiling an in-process processor", "rows", n, "cpu_profile", cpuPath)
	heapPath := filepath.Join(o.work, "heap.pprof")
	heapDone := false
	t, werr := e.waitRows(ctx, feed.Table(), n, time.Now(), drainTimeout(n), func(have int64) error {
		if !heapDone && have >= n/2 {
			// Halfway, the processor is in its steady state: what is live then?
			heapDone = true
			if err := writeProfile("heap", heapPath); err != nil {
				return err
			}
		}
		select {
		case err := <-errc:
			return fmt.Errorf("processor stopped early: %v", err)
		default:
			return nil
		}
	})
	cpu := selfCPU() - cpuBefore
	cancel()
	pprof.StopCPUProfile()
	runtime.ReadMemStats(&after)
	if werr != nil {
		return werr
	}
	if err := writeProfile("allocs", filepath.Join(o.work, "allocs.pprof")); err != nil {
		return err
	}
	batches, meanRows, meanSecs := batchFigures(reg)
	log.Info("micro-batches", "count", batches, "mean_records", int(meanRows), "mean_ms", int(meanSecs*1000))
	st := proc.Stats()
	fmt.Printf("profile rows=%d rate=%d took_s=%.1f cpu_s_per_m=%.2f batches=%d mean_batch_rows=%.0f mean_batch_ms=%.0f alloc_bytes_per_row=%.0f allocs_per_row=%.1f gc_cycles=%d gc_pause_ms=%.1f heap_inuse_mib=%d written=%d load=%s\n",
		t.Rows, t.Rate, t.Took.Seconds(), cpu.Seconds()/float64(t.Rows)*1e6, batches, meanRows, meanSecs*1000,
		float64(after.TotalAlloc-before.TotalAlloc)/float64(t.Rows), float64(after.Mallocs-before.Mallocs)/float64(t.Rows),
		after.NumGC-before.NumGC, float64(after.PauseTotalNs-before.PauseTotalNs)/1e6, after.HeapInuse>>20, st.Written, loadavg())
	return nil
}

// batchFigures reads the processor's batch histograms: how many micro-batches
// it wrote, their mean size and their mean time to decode and insert.
func batchFigures(reg *prometheus.Registry) (count uint64, meanRows, meanSecs float64) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, 0, 0
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			h := m.GetHistogram()
			if h == nil || h.GetSampleCount() == 0 {
				continue
			}
			switch mf.GetName() {
			case "highway_processor_batch_records":
				count, meanRows = h.GetSampleCount(), h.GetSampleSum()/float64(h.GetSampleCount())
			case "highway_processor_batch_seconds":
				meanSecs = h.GetSampleSum() / float64(h.GetSampleCount())
			}
		}
	}
	return count, meanRows, meanSecs
}

// selfCPU is this process's user+system CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
