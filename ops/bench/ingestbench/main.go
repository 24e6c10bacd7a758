// Command ingestbench is the Go half of ops/bench/ingest: on the real Kafka
// and ClickHouse, with one data set (connectors/sim's td.traffic.detectors
// records) and one table shape (the feed's table as highway/store creates
// it), it measures
//
//   - highway: rows/s of `highway process` (a child process, so its CPU time
//     and peak RSS are its own) draining a pre-filled topic until every row
//     is in ClickHouse;
//   - kafka_engine: rows/s of ClickHouse's Kafka table engine with a
//     materialized view draining the same topic into the same table shape;
//   - ceiling: rows/s of the same rows sent from memory with clickhouse-go's
//     columnar batch (store.InsertColumns), and, for reference, through
//     store.Insert from pre-built Arrow batches;
//   - latency: at a fixed produce rate of half highway's rate, p50 and p99
//     from produce to visible in ClickHouse, for highway and the engine.
//
// It prints progress on stderr and, on stdout, a summary ending with the
// line `ingest rows=N highway=R kafka_engine=R ceiling=R ratio_engine=X
// ratio_ceiling=Y p99_ms=Z engine_p99_ms=W rss_mb=M`.
//
// With -mode profile it instead runs a stream.Processor in this process under
// runtime/pprof on a pre-filled topic and writes CPU and allocation profiles.
//
// Everything it creates is named after -run: the database bench_<run>, the
// topics and consumer groups bench.<run>.*. The entry script deletes them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/ops/bench/benchproc"
)

// options are the command-line flags.
type options struct {
	mode         string
	kafka        string
	clickhouse   string
	highway      string
	childFlags   string
	baseline     string
	ceilBatch    int
	run          string
	work         string
	rows         int
	partitions   int
	latencyFor   time.Duration
	latencyRate  int
	engine       bool
	repeat       int
	engineCons   int
	chPIDFile    string
	kafkaPIDFile string
	chLog        string
	keep         bool
	built        string
	// -mode secure (secure.go): the SASL_SSL listener beside -kafka
	secureKafka, secureFlags string
	// -mode scale (scale.go): the cluster beside -kafka and -clickhouse
	clusterKafka      string
	clusterClickhouse string
	storeCluster      string // set on the cluster side's options: the ClickHouse cluster's name
}

func main() {
	var o options
	fs := flag.NewFlagSet("ingestbench", flag.ContinueOnError)
	fs.StringVar(&o.mode, "mode", "bench", "bench (every measurement), latency (only the latency measurements, at -latency-rate), profile (in-process processor under pprof) or scale (single server against -cluster-kafka and -cluster-clickhouse, 1 processor against 2) or secure (plaintext against -secure-kafka's SASL_SSL)")
	fs.StringVar(&o.kafka, "kafka", os.Getenv("HIGHWAY_KAFKA"), "Kafka bootstrap brokers (default $HIGHWAY_KAFKA)")
	fs.StringVar(&o.clickhouse, "clickhouse", os.Getenv("HIGHWAY_CLICKHOUSE"), "ClickHouse DSN of any database; the run creates its own (default $HIGHWAY_CLICKHOUSE)")
	fs.StringVar(&o.highway, "highway", "bin/highway", "the highway binary to run as `highway process`")
	fs.StringVar(&o.baseline, "baseline", "", "another highway binary (e.g. built from the commit before a change) that drains the same topic in rotation with -highway; the last line gains baseline= and ratio_baseline=")
	fs.StringVar(&o.childFlags, "highway-flags", "", "extra flags for every `highway process` child, space-separated (e.g. \"--max-rows 50000\"), to try settings")
	fs.IntVar(&o.ceilBatch, "ceiling-batch", catalog.DefaultBatch.Rows, "rows per insert of the ceiling, and per micro-batch of -mode profile (default highway's --max-rows default)")
	fs.StringVar(&o.run, "run", "", "run id, lower-case letters and digits starting with a letter; names the database, topics and groups (required)")
	fs.StringVar(&o.work, "work", "", "folder for specs, logs and profiles (required)")
	fs.IntVar(&o.rows, "rows", 5_000_000, "records in the pre-filled topic")
	fs.IntVar(&o.partitions, "partitions", 2, "partitions of every topic the run creates")
	fs.DurationVar(&o.latencyFor, "latency-duration", 30*time.Second, "how long each latency measurement produces")
	fs.IntVar(&o.latencyRate, "latency-rate", 0, "records/s of the latency measurements; default half of highway's measured rate")
	fs.BoolVar(&o.engine, "engine", true, "measure ClickHouse's Kafka engine too")
	fs.IntVar(&o.repeat, "repeat", 1, "attempts of each throughput measurement, in rotation; the best counts")
	fs.IntVar(&o.engineCons, "engine-consumers", 1, "kafka_num_consumers of the Kafka engine table")
	fs.StringVar(&o.chPIDFile, "clickhouse-pid-file", "", "pid file of clickhouse-server, to report its CPU time per phase (optional)")
	fs.StringVar(&o.kafkaPIDFile, "kafka-pid-file", "", "pid file of the Kafka broker, to report its CPU time while highway drains (optional)")
	fs.StringVar(&o.chLog, "clickhouse-log", "", "clickhouse-server's error log, quoted when the Kafka engine cannot consume (optional)")
	fs.StringVar(&o.secureKafka, "secure-kafka", "", "-mode secure: the broker's SASL_SSL listener (ops/kafka/start KAFKA_SECURITY=sasl_ssl)")
	fs.StringVar(&o.secureFlags, "secure-flags", "", "-mode secure: the Kafka TLS and SASL flags of the SASL_SSL side's `highway process` (--kafka-tls-ca ... --kafka-sasl-mechanism ...)")
	fs.StringVar(&o.clusterKafka, "cluster-kafka", "", "-mode scale: the Kafka cluster's brokers (ops/kafka/cluster)")
	fs.StringVar(&o.clusterClickhouse, "cluster-clickhouse", "", "-mode scale: a DSN of the ClickHouse cluster (ops/clickhouse/cluster)")
	fs.StringVar(&o.storeCluster, "clickhouse-cluster", "", "-mode scale: the ClickHouse cluster's name (remote_servers): the cluster side's processors run with --clickhouse-cluster; empty: they write to -cluster-clickhouse as one server")
	fs.StringVar(&o.built, "built", "", "what the highway binary was built from, for the report")
	fs.BoolVar(&o.keep, "keep", false, "keep the database when done")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := o.validate(); err != nil {
		fmt.Fprintf(os.Stderr, "ingestbench: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch o.mode {
	case "bench":
		err = runBench(ctx, o, log)
	case "profile":
		err = runProfile(ctx, o, log)
	case "latency":
		err = runLatency(ctx, o, log)
	case "scale":
		err = runScale(ctx, o, log)
	case "secure":
		err = runSecure(ctx, o, log)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ingestbench: %v\n", err)
		os.Exit(1)
	}
}

func (o *options) validate() error {
	var errs []error
	if o.mode != "bench" && o.mode != "profile" && o.mode != "latency" && o.mode != "scale" && o.mode != "secure" {
		errs = append(errs, fmt.Errorf("-mode %q: use bench, latency, profile, scale or secure", o.mode))
	}
	if o.mode == "secure" && (o.secureKafka == "" || o.secureFlags == "") {
		errs = append(errs, errors.New("-mode secure needs -secure-kafka and -secure-flags (ops/bench/ingest --sasl-ssl sets them)"))
	}
	if o.mode == "scale" && (o.clusterKafka == "" || o.clusterClickhouse == "") {
		errs = append(errs, errors.New("-mode scale needs -cluster-kafka and -cluster-clickhouse (ops/bench/ingest --cluster sets them)"))
	}
	if o.mode == "latency" && o.latencyRate <= 0 {
		errs = append(errs, errors.New("-mode latency needs -latency-rate"))
	}
	if o.kafka == "" {
		errs = append(errs, errors.New("no Kafka: pass -kafka or set HIGHWAY_KAFKA (eval \"$(ops/services up)\")"))
	}
	if o.clickhouse == "" {
		errs = append(errs, errors.New("no ClickHouse: pass -clickhouse or set HIGHWAY_CLICKHOUSE (eval \"$(ops/services up)\")"))
	}
	if !validRun(o.run) {
		errs = append(errs, fmt.Errorf("-run %q: use lower-case letters and digits, starting with a letter", o.run))
	}
	if o.work == "" {
		errs = append(errs, errors.New("-work is required"))
	}
	if o.rows < 1000 || o.partitions < 1 || o.repeat < 1 || o.ceilBatch < 1 || o.latencyFor < time.Second || o.engineCons < 1 {
		errs = append(errs, fmt.Errorf("-rows (%d) must be ≥ 1000, -partitions (%d), -repeat (%d) and -engine-consumers (%d) ≥ 1, -latency-duration (%s) ≥ 1s",
			o.rows, o.partitions, o.repeat, o.engineCons, o.latencyFor))
	}
	return errors.Join(errs...)
}

func validRun(s string) bool { return benchproc.ValidRun(s) }
