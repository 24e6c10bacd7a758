package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	httppprof "net/http/pprof"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/highway/stream"
)

func runProcess(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("process", "process [flags]", `
Consumes feed topics from Kafka in micro-batches, validates each record
against its feed's spec, sends rejected records to the feed's dead-letter
topic (<feed>.dlq) with the reason, and writes the rest to the feed's
ClickHouse table. Rows carry their Kafka topic, partition and offset; on
start (and on every rebalance) each partition resumes where the batch ledger
in ClickHouse (<database>_restricted.highway_batches) says everything is
written, and inserts only the rows of later offsets that are not there yet,
so a crash, a cut connection or an insert that landed in part neither loses
nor duplicates rows (README: "Exactly once").

Run as many copies as you like, on any machines: they form one consumer
group per feed and Kafka spreads the partitions among them.`, stderr)
	var c common
	c.register(fs)
	kafka := fs.String("kafka", envOr("HIGHWAY_KAFKA", ""), "Kafka bootstrap brokers, comma-separated (default $HIGHWAY_KAFKA)")
	var topics topicFlags
	topics.register(fs)
	var ksec kafkaSecurity
	ksec.register(fs)
	dsn := fs.String("clickhouse", envOr("HIGHWAY_CLICKHOUSE", ""), "ClickHouse DSN, clickhouse://host:9000/database (default $HIGHWAY_CLICKHOUSE)")
	cluster := clickhouseCluster(fs)
	var opts processorOptions
	fs.StringVar(&opts.groupPrefix, "group-prefix", "highway", "consumer groups are <prefix>.<feed>")
	fs.IntVar(&opts.maxRows, "max-rows", catalog.DefaultBatch.Rows, "most records in one micro-batch (one INSERT: ClickHouse prefers few large ones)")
	fs.DurationVar(&opts.maxWait, "max-wait", 500*time.Millisecond, "longest a micro-batch waits to fill after its first record")
	fs.IntVar(&opts.partitions, "partitions", 2, "partitions of topics this command creates (existing topics are left alone)")
	metricsAddr := fs.String("metrics-addr", "127.0.0.1:9464", "address of the Prometheus /metrics endpoint; empty disables it")
	memLimit := fs.Int64("memory-limit", 160<<20, "soft limit of the Go heap in bytes (GOMEMLIMIT wins); the backlog stays in Kafka, so this bounds memory whatever the lag")
	memBudget := fs.Int64("memory-budget", 0, "bytes that records may occupy in the process (fetched, decoded, dead letters on their way), shared fairly by the feeds; when spent, fetching waits and the backlog stays in Kafka (default half of --memory-limit, at least 64 MiB)")
	copyDLQ := fs.Bool("copy-dead-letters", true, "also copy the where, when and why of each <feed>.dlq message into ClickHouse, for the quality ledger (one consumer group per DLQ, highway.quality.<feed>.dlq)")
	pprof := fs.Bool("pprof", false, "also serve Go's profiler at /debug/pprof/ on --metrics-addr (profiles, and a dump of every goroutine at /debug/pprof/goroutine?debug=2 for a processor that seems stuck; keep the address private)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *kafka == "" {
		return fmt.Errorf("%w: no Kafka brokers: pass --kafka host:port or set HIGHWAY_KAFKA", errUsage)
	}
	if *dsn == "" {
		return errNoClickHouse
	}
	if opts.maxRows < 1 || opts.maxWait <= 0 || opts.partitions < 1 {
		return fmt.Errorf("%w: --max-rows (%d), --max-wait (%s) and --partitions (%d) must be positive", errUsage, opts.maxRows, opts.maxWait, opts.partitions)
	}
	if *memBudget < 0 {
		return fmt.Errorf("%w: --memory-budget (%d) must not be negative", errUsage, *memBudget)
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	tuneGC(*memLimit)
	opts.budget = stream.NewBudget(memoryBudget(*memBudget, *memLimit))
	log.Info("memory budget", "bytes", opts.budget.Stats().Total, "memory_limit", debug.SetMemoryLimit(-1))
	cat, feeds, err := c.catalog()
	if err != nil {
		return err
	}
	b, err := ksec.open(ctx, topics.config(*kafka, log))
	if err != nil {
		return err
	}
	defer b.Close()
	st, err := store.Open(ctx, *dsn, log, cluster()...)
	if err != nil {
		return err
	}
	defer st.Close()
	log.Info("ClickHouse connected", "version", st.Version().String(), "database", st.Database())

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if *metricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		if *pprof {
			mux.HandleFunc("/debug/pprof/", httppprof.Index)
			mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
			mux.HandleFunc("/debug/pprof/symbol", httppprof.Symbol)
			mux.HandleFunc("/debug/pprof/trace", httppprof.Trace)
		}
		addr, err := serveHTTP(ctx, *metricsAddr, mux, log)
		if err != nil {
			return err
		}
		log.Info("metrics", "url", "http://"+addr+"/metrics")
	}
	p, err := startProcessing(ctx, b, st, cat, feeds, opts, reg, log)
	if err != nil {
		return err
	}
	if *copyDLQ {
		startDeadLetterCopy(ctx, b, st, feeds, log)
	}
	go statusLoop(ctx, 10*time.Second, log, func() []any {
		t := p.totals()
		return []any{"feeds", len(feeds), "in", t.In, "written", t.Written, "rejected", t.Rejected, "handed_back", t.HandedBack, "lag", t.Lag}
	})
	err = p.wait()
	t := p.totals()
	log.Info("stopped", "in", t.In, "written", t.Written, "rejected", t.Rejected, "handed_back", t.HandedBack)
	return err
}

// memoryBudget is --memory-budget, or, when 0, half of the Go heap's soft
// limit (GOMEMLIMIT wins over --memory-limit), at least 64 MiB: the rest is
// for what does not grow with the records (decoders, connections, the
// runtime).
func memoryBudget(budget, limit int64) int64 {
	if budget > 0 {
		return budget
	}
	if l := debug.SetMemoryLimit(-1); l > 0 && l < math.MaxInt64 {
		limit = l
	}
	return max(limit/2, 64<<20)
}
