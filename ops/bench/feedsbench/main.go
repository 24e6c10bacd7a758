// Command feedsbench is the Go half of ops/bench/feeds: many feeds in one
// `highway process` on the real Kafka and ClickHouse (issue 18). It
// measures, in one run:
//
//   - idle: the child's RSS, goroutines and open files with -feeds feeds
//     assigned and no records, and its heap and goroutine profiles;
//   - single: rows/s of a `highway process` of one feed draining
//     -feeds × -burst records of a pre-filled topic, the single-feed figure;
//   - burst: rows/s of the -feeds feeds, each with -burst records pre-filled,
//     until every row is in ClickHouse (ratio_single = burst / single), and
//     the peak RSS meanwhile (rss_mb);
//   - quiet: while feed 0 drains a backlog of -backlog records and feed 1
//     receives -storm records that are all rejected, feed 2 gets a record a
//     second: the p99 of produce → visible in ClickHouse (quiet_p99_ms), and
//     the peak RSS meanwhile (storm_rss_mb);
//   - every record exactly once, counted per producer id (the seq field):
//     rows of every table and dead letters of the storm feed.
//
// Its last line on stdout is
// `feeds n=N rss_mb=M goroutines=G fds=F burst_rows_per_s=R ratio_single=X quiet_p99_ms=Q storm_rss_mb=S lost=L duplicated=D`.
// Everything it creates is named after -run: the database bench_<run>, the
// topics and groups bench.<run>.*.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/cityhighway/highway/ops/bench/benchproc"
)

// options are the command-line flags.
type options struct {
	kafka, clickhouse string
	highway           string
	childFlags        string
	run, work         string
	feeds             int
	burst             int
	backlog, storm    int
	quietFor          time.Duration
	partitions        int
	metricsPort       int
	keep              bool
	// phases are the measurements to make (all by default).
	phases map[string]bool
}

// allPhases are the measurements, in the order they run.
var allPhases = []string{"single", "idle", "burst", "quiet"}

func main() {
	var o options
	fs := flag.NewFlagSet("feedsbench", flag.ContinueOnError)
	fs.StringVar(&o.kafka, "kafka", os.Getenv("HIGHWAY_KAFKA"), "Kafka bootstrap brokers (default $HIGHWAY_KAFKA)")
	fs.StringVar(&o.clickhouse, "clickhouse", os.Getenv("HIGHWAY_CLICKHOUSE"), "ClickHouse DSN of any database; the run creates its own (default $HIGHWAY_CLICKHOUSE)")
	fs.StringVar(&o.highway, "highway", "bin/highway", "the highway binary to run as `highway process`")
	fs.StringVar(&o.childFlags, "highway-flags", "", "extra flags for every `highway process` child, space-separated")
	fs.StringVar(&o.run, "run", "", "run id, lower-case letters and digits starting with a letter (required)")
	fs.StringVar(&o.work, "work", "", "folder for specs, child logs and profiles (required)")
	fs.IntVar(&o.feeds, "feeds", 500, "feeds in the one `highway process` (at least 3: a backlog, a reject storm, a quiet one)")
	fs.IntVar(&o.burst, "burst", 2000, "records every feed gets at once in the burst")
	fs.IntVar(&o.backlog, "backlog", 5_000_000, "records of the backlog feed 0 drains during the quiet measurement")
	fs.IntVar(&o.storm, "storm", 1_000_000, "rejected records feed 1 receives during the quiet measurement")
	fs.DurationVar(&o.quietFor, "quiet-for", 0, "least time the quiet feed is measured (default: until the backlog and the storm are through, at least 30s)")
	fs.IntVar(&o.partitions, "partitions", 2, "partitions of every topic")
	fs.IntVar(&o.metricsPort, "metrics-port", 19464, "port of the child's /metrics and /debug/pprof on 127.0.0.1")
	fs.BoolVar(&o.keep, "keep", false, "keep the database when done")
	phases := fs.String("phases", strings.Join(allPhases, ","), "the measurements to make, comma-separated: single (ratio_single needs it and burst), idle, burst, quiet")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	o.phases = map[string]bool{}
	for _, p := range strings.Split(*phases, ",") {
		o.phases[strings.TrimSpace(p)] = true
	}
	if err := o.validate(); err != nil {
		fmt.Fprintf(os.Stderr, "feedsbench: %v\n", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, log); err != nil {
		fmt.Fprintf(os.Stderr, "feedsbench: %v\n", err)
		os.Exit(1)
	}
}

func (o *options) validate() error {
	var errs []error
	if o.kafka == "" {
		errs = append(errs, errors.New("no Kafka: pass -kafka or set HIGHWAY_KAFKA"))
	}
	if o.clickhouse == "" {
		errs = append(errs, errors.New("no ClickHouse: pass -clickhouse or set HIGHWAY_CLICKHOUSE"))
	}
	if !benchproc.ValidRun(o.run) {
		errs = append(errs, fmt.Errorf("-run %q: use lower-case letters and digits, starting with a letter", o.run))
	}
	if o.work == "" {
		errs = append(errs, errors.New("-work is required"))
	}
	if o.feeds < 3 || o.burst < 1 || o.backlog < 1 || o.storm < 1 || o.partitions < 1 {
		errs = append(errs, fmt.Errorf("-feeds (%d) must be ≥ 3, -burst (%d), -backlog (%d), -storm (%d) and -partitions (%d) ≥ 1",
			o.feeds, o.burst, o.backlog, o.storm, o.partitions))
	}
	for p := range o.phases {
		if !slices.Contains(allPhases, p) {
			errs = append(errs, fmt.Errorf("-phases: no phase %q (there are %s)", p, strings.Join(allPhases, ", ")))
		}
	}
	return errors.Join(errs...)
}
