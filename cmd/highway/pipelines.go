package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/highway/stream"
)

// processing is the set of processors of one process, one per feed.
type processing struct {
	procs  []*stream.Processor
	feeds  []*catalog.Feed
	failed sync.Map // feed name → error
	wg     sync.WaitGroup
}

// processorOptions are the flags that shape every processor.
type processorOptions struct {
	groupPrefix string
	maxRows     int
	maxWait     time.Duration
	partitions  int
	// budget is the memory budget every processor shares; nil: one of
	// stream.DefaultMemoryBudget bytes.
	budget *stream.Budget
}

// startProcessing creates the feeds' topics and starts a processor for each
// feed. A processor that fails (an incompatible schema change, say) is
// logged and stops alone; the others go on.
func startProcessing(ctx context.Context, b *bus.Bus, st *store.Store, cat *catalog.Catalog, feeds []*catalog.Feed, opts processorOptions, reg prometheus.Registerer, log *slog.Logger) (*processing, error) {
	var topics []string
	for _, f := range feeds {
		topics = append(topics, f.Topic(), f.DLQTopic())
	}
	if err := ensureTopics(ctx, b, opts.partitions, topics, log); err != nil {
		return nil, err
	}
	metrics := stream.NewMetrics(reg)
	budget := opts.budget
	if budget == nil {
		budget = stream.NewBudget(stream.DefaultMemoryBudget)
	}
	budget.Register(reg)
	producer := b.NewProducer()
	p := &processing{feeds: feeds}
	for _, f := range feeds {
		proc, err := stream.NewProcessor(stream.Config{
			Feed: f, Pipeline: cat.PipelineOf(f.Name), Group: opts.groupPrefix + "." + f.Name, MaxRows: opts.maxRows, MaxWait: opts.maxWait,
			Budget: budget, Logger: log, Metrics: metrics,
		}, b, st, producer)
		if err != nil {
			return nil, err
		}
		p.procs = append(p.procs, proc)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if err := proc.Run(ctx); err != nil {
				p.failed.Store(f.Name, err)
				log.Error("processor stopped; fix the cause and restart", "feed", f.Name, "err", err)
			}
		}()
	}
	go func() {
		p.wg.Wait()
		producer.Close()
	}()
	return p, nil
}

// totals sums the processors' counters.
func (p *processing) totals() stream.Stats {
	var t stream.Stats
	for _, proc := range p.procs {
		s := proc.Stats()
		t.In += s.In
		t.Written += s.Written
		t.Rejected += s.Rejected
		t.HandedBack += s.HandedBack
		t.Lag += s.Lag
	}
	return t
}

// wait waits for every processor and returns an error naming those that failed.
func (p *processing) wait() error {
	p.wg.Wait()
	var errs []error
	p.failed.Range(func(k, v any) bool {
		errs = append(errs, fmt.Errorf("%s: %w", k, v.(error)))
		return true
	})
	return errors.Join(errs...)
}

// serveHTTP serves h on addr until ctx ends.
func serveHTTP(ctx context.Context, addr string, h http.Handler, log *slog.Logger) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listening on %s (is another highway running? pick another address with --addr): %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("HTTP server failed", "addr", addr, "err", err)
		}
	}()
	return ln.Addr().String(), nil
}

// statusLoop logs one line of progress every interval until ctx ends.
func statusLoop(ctx context.Context, every time.Duration, log *slog.Logger, line func() []any) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			log.Info("status", line()...)
		}
	}
}

// tuneGC trades memory for CPU in the processing commands: the ingest
// profile (docs/BENCHMARKS.md) spent about a fifth of its CPU in garbage
// collection at Go's defaults. GOGC=400 collects a quarter as often, and a
// soft limit keeps the heap bounded all the same. GOGC and GOMEMLIMIT in the
// environment win.
func tuneGC(limit int64) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" && limit > 0 {
		debug.SetMemoryLimit(limit)
	}
}

// ensureTopics creates the topics that are missing. Kafka may still be
// starting (or restarting), or the broker it asks may be the one that is
// down: it waits and asks again, saying so, until ctx ends.
func ensureTopics(ctx context.Context, b *bus.Bus, partitions int, topics []string, log *slog.Logger) error {
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		err := b.EnsureTopics(ctx, partitions, topics...)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("creating topics (is Kafka reachable at %v?): %w", b.Brokers(), err)
		}
		log.Warn("cannot create topics yet; is Kafka up? retrying", "brokers", b.Brokers(), "wait", wait, "err", err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
	}
}
