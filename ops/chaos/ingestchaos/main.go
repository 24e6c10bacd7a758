// Command ingestchaos is the Go half of ops/chaos/ingest: while a producer
// writes records to a feed at a steady rate, it SIGKILLs the `highway
// process` child at random moments (restarting it each time; a kill waits
// until the child holds partitions, then lands at a random point of its
// fetch, insert and commit cycle), restarts ClickHouse and restarts the
// Kafka broker (each with the ops/ scripts, down for 1-5 s; every other
// ClickHouse restart, the first included, is a SIGKILL), and injects
// network faults between the child and each service (faults.go: toxiproxy
// in this process, in front of Kafka and of ClickHouse; latency, resets,
// connections cut mid-insert, timeouts, a blackhole; each lasts 1 s to
// -fault-max while the next events go on), in a random order with random
// pauses, then lets the processor catch up and compares what the
// producer had acknowledged, what Kafka holds and what ClickHouse holds. The
// last line of stdout is
//
//	chaos produced=N rows=N distinct=N lost=0 duplicated=0 windows_ok=true dlq_lost=0 dlq_dup=0 acked=N ...
//
// and the exit status is 1 when any check fails.
//
// # What is counted
//
// Every record carries a unique sequence number, its producer id (seq, and
// id = "e<seq>"). The producer sends one batch per tick and retries a failed
// batch, with the same records, until Kafka acknowledges it; only then does
// it count the batch. So the acknowledged records are exactly seq 0 …
// produced−1, each acknowledged once. A failed attempt may still have landed
// (wholly or per partition), so Kafka may hold a record twice, at two
// offsets; a department sent it once, so it must be one row all the same.
// The records' event times alternate between two months (-months,
// producer.go), so nearly every micro-batch spans two partitions of the
// table. The producer reaches Kafka through the same proxy as the
// processor (-producer-direct: not), so network faults also make it retry.
//
// Every -bad-every-th record (1 %) is bad: its value is above the feed's
// maximum, so the processor must reject it to the dead-letter topic.
//
// The figures of the last line, counted per seq whatever Kafka holds:
//
//   - produced: good records acknowledged by Kafka.
//   - rows: rows in the feed's ClickHouse table.
//   - distinct: distinct seqs among those rows.
//   - lost: acknowledged good seqs with no row in ClickHouse.
//   - duplicated: rows whose seq another row has already (rows − distinct).
//   - windows_ok: see below.
//   - dlq_lost: acknowledged bad seqs missing from <feed>.dlq; dlq_dup:
//     dead letters beyond one per bad seq.
//
// and after them, for finding out where a hole is:
//
//   - acked, bad: records acknowledged, and the bad ones among them;
//     bad_rows: rows of bad records; dlq_records: records in <feed>.dlq.
//   - dup_seqs: seqs with more than one row.
//   - kafka_records, kafka_distinct: records in the topic, distinct seqs
//     among them; kafka_dup = kafka_records − kafka_distinct, the producer's
//     copies that Kafka holds.
//   - offset_dup: rows beyond one per Kafka record (_partition, _offset): a
//     processor that wrote a batch twice.
//   - kafka_records_without_row: good Kafka records with no row at their
//     offset (a producer copy whose seq has its row elsewhere counts here
//     too).
//   - misattributed: rows whose (_partition, _offset) holds another seq in
//     Kafka; unacknowledged_rows: rows with a seq never acknowledged.
//
// The run passes when lost, duplicated, dlq_lost, dlq_dup, bad_rows,
// misattributed and unacknowledged_rows are 0, rows = produced and
// windows_ok is true.
//
// windows_ok is a stand-in for the pipeline's window aggregates until they
// are wired here: for every 5-minute window of event time (intDiv(at, 300)),
// the number of distinct seqs ClickHouse's raw rows hold must equal the
// producer's own tally of acknowledged records in that window, and no window
// may exist on one side only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// options are the command-line flags.
type options struct {
	kafka, clickhouse string
	highway           string
	ops               string
	run, work         string
	rate              int
	kills             int
	chRestarts        int
	kafkaRestarts     int
	faults            int
	faultMax          time.Duration
	kafkaProxy        string // where the Kafka proxy listens (the broker advertises it)
	kafkaProxied      string // the broker's extra listener, the Kafka proxy's upstream
	clickhouseProxy   string // where the ClickHouse proxy listens
	producerDirect    bool
	months            int
	badEvery          int
	gapMin, gapMax    time.Duration
	seed              uint64
	keep              bool
	cluster           bool   // -kafka and -clickhouse are clusters (cluster.go)
	replicas          string // the ClickHouse cluster's replicas, comma-separated
	clickhouseCluster string // its name in remote_servers
	storeCluster      bool   // the processor runs the store's cluster mode (--clickhouse-cluster)
	zkRestarts        int
}

func main() {
	var o options
	fs := flag.NewFlagSet("ingestchaos", flag.ContinueOnError)
	fs.StringVar(&o.kafka, "kafka", os.Getenv("HIGHWAY_KAFKA"), "the chaos Kafka broker (default $HIGHWAY_KAFKA); it is restarted, so never a shared one")
	fs.StringVar(&o.clickhouse, "clickhouse", os.Getenv("HIGHWAY_CLICKHOUSE"), "the chaos ClickHouse DSN (default $HIGHWAY_CLICKHOUSE); it is restarted, so never a shared one")
	fs.StringVar(&o.highway, "highway", "bin/highway", "the highway binary")
	fs.StringVar(&o.ops, "ops", "ops", "the ops/ folder whose kafka/ and clickhouse/ start and stop scripts restart the services (they read HIGHWAY_RUN and the *_PORT variables)")
	fs.StringVar(&o.run, "run", "", "run id: lower-case letters and digits, starting with a letter (required)")
	fs.StringVar(&o.work, "work", "", "folder for the spec, child logs and service logs (required)")
	fs.IntVar(&o.rate, "rate", 2000, "records per second the producer writes")
	fs.IntVar(&o.kills, "kills", 20, "SIGKILLs of highway process")
	fs.IntVar(&o.chRestarts, "clickhouse-restarts", 5, "restarts of ClickHouse")
	fs.IntVar(&o.kafkaRestarts, "kafka-restarts", 5, "restarts of the Kafka broker")
	fs.IntVar(&o.faults, "faults", 10, "network faults between highway process and the services (toxiproxy): latency, reset, cut, timeout and blackhole in turn, on Kafka and ClickHouse")
	fs.DurationVar(&o.faultMax, "fault-max", 5*time.Second, "longest time a network fault lasts (at least 1 s)")
	fs.StringVar(&o.kafkaProxy, "kafka-proxy", "", "127.0.0.1:PORT where the Kafka proxy listens; the broker must advertise this address on the listener -kafka-proxied (required)")
	fs.StringVar(&o.kafkaProxied, "kafka-proxied", "", "the broker's extra listener, host:port, that the Kafka proxy forwards to (required)")
	fs.StringVar(&o.clickhouseProxy, "clickhouse-proxy", "", "127.0.0.1:PORT where the ClickHouse proxy listens (required)")
	fs.BoolVar(&o.producerDirect, "producer-direct", false, "the producer writes to -kafka directly instead of through the Kafka proxy (then no network fault hits it)")
	fs.IntVar(&o.months, "months", 2, "months the records' event times cycle through (1-60): each micro-batch spans about this many table partitions")
	fs.IntVar(&o.badEvery, "bad-every", 100, "every N-th record is bad (a value above the feed's maximum) and must reach the dead-letter topic once; 0: none")
	fs.DurationVar(&o.gapMin, "gap-min", 3*time.Second, "shortest pause between two chaos events")
	fs.DurationVar(&o.gapMax, "gap-max", 8*time.Second, "longest pause between two chaos events")
	fs.Uint64Var(&o.seed, "seed", 0, "random seed of the event schedule; 0 picks one (printed, to replay a run)")
	fs.BoolVar(&o.keep, "keep", false, "keep the database when done")
	fs.BoolVar(&o.cluster, "cluster", false, "-kafka is a Kafka cluster (ops/kafka/cluster) and -clickhouse a replica of a ClickHouse cluster (ops/clickhouse/cluster): a Kafka restart SIGKILLs one broker, a ClickHouse restart one replica, and ZooKeeper restarts; no proxies, no network faults")
	fs.StringVar(&o.replicas, "clickhouse-replicas", "s1r1,s1r2,s2r1,s2r2", "with -cluster: the replicas a ClickHouse restart picks from (names of ops/clickhouse/cluster)")
	fs.StringVar(&o.clickhouseCluster, "clickhouse-cluster", "highway", "with -cluster: the ClickHouse cluster's name (remote_servers), for the test database's ON CLUSTER DDL")
	fs.BoolVar(&o.storeCluster, "store-cluster", false, "with -cluster: the processor runs with --clickhouse-cluster (replicated tables behind Distributed ones); else it writes to -clickhouse as one server")
	fs.IntVar(&o.zkRestarts, "zookeeper-restarts", 2, "with -cluster: restarts of ZooKeeper")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if err := o.validate(); err != nil {
		fmt.Fprintf(os.Stderr, "ingestchaos: %v\n", err)
		os.Exit(2)
	}
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, o, log)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ingestchaos: %v\n", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

func (o *options) validate() error {
	var errs []error
	if o.kafka == "" || o.clickhouse == "" {
		errs = append(errs, errors.New("-kafka and -clickhouse (or HIGHWAY_KAFKA and HIGHWAY_CLICKHOUSE) must name the PRIVATE chaos services; ops/chaos/ingest starts them"))
	}
	if o.run == "" || o.run[0] < 'a' || o.run[0] > 'z' || strings.Trim(o.run, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		errs = append(errs, fmt.Errorf("-run %q: use lower-case letters and digits, starting with a letter", o.run))
	}
	if o.work == "" {
		errs = append(errs, errors.New("-work is required"))
	}
	if o.rate < 20 || o.kills < 0 || o.chRestarts < 0 || o.kafkaRestarts < 0 || o.faults < 0 {
		errs = append(errs, fmt.Errorf("-rate (%d) must be ≥ 20 and the event counts (%d, %d, %d, %d) ≥ 0", o.rate, o.kills, o.chRestarts, o.kafkaRestarts, o.faults))
	}
	if o.cluster && (o.faults > 0 || o.replicas == "" || o.zkRestarts < 0) {
		errs = append(errs, fmt.Errorf("-cluster: -faults must be 0 (%d; there are no proxies), -clickhouse-replicas not empty and -zookeeper-restarts ≥ 0 (%d)", o.faults, o.zkRestarts))
	}
	if !o.cluster && (o.kafkaProxy == "" || o.kafkaProxied == "" || o.clickhouseProxy == "") {
		errs = append(errs, errors.New("-kafka-proxy, -kafka-proxied and -clickhouse-proxy are required; ops/chaos/ingest sets them"))
	}
	if o.badEvery < 0 || o.badEvery == 1 {
		errs = append(errs, fmt.Errorf("-bad-every %d: use 0 (no bad records) or 2 and up", o.badEvery))
	}
	if o.months < 1 || o.months > 60 {
		errs = append(errs, fmt.Errorf("-months %d: use 1 to 60", o.months))
	}
	if o.faultMax < time.Second {
		errs = append(errs, fmt.Errorf("-fault-max (%s) must be at least 1s", o.faultMax))
	}
	if o.gapMin <= 0 || o.gapMax < o.gapMin {
		errs = append(errs, fmt.Errorf("-gap-min (%s) must be positive and at most -gap-max (%s)", o.gapMin, o.gapMax))
	}
	return errors.Join(errs...)
}

// eventKind is what a chaos event does.
type eventKind string

const (
	evKill       eventKind = "kill highway"
	evClickHouse eventKind = "restart clickhouse"
	evKafka      eventKind = "restart kafka"
	evFault      eventKind = "network fault"
	evZooKeeper  eventKind = "restart zookeeper"
)

// event is one chaos action; a network fault also says which fault and on
// which service's proxy.
type event struct {
	kind   eventKind
	fault  fault
	target string
}

// firstTarget is the service each fault kind hits first; the next round of
// kinds hits the other one, and so on, so -faults 5 has every kind once and
// both services, and -faults 10 every kind on each service.
var firstTarget = map[fault]string{
	faultLatency:   targetKafka,
	faultReset:     targetClickHouse,
	faultCut:       targetClickHouse,
	faultTimeout:   targetKafka,
	faultBlackhole: targetClickHouse,
}

// schedule returns the run's events in a random order.
func schedule(o options, rng *rand.Rand) []event {
	var evs []event
	for range o.kills {
		evs = append(evs, event{kind: evKill})
	}
	for range o.chRestarts {
		evs = append(evs, event{kind: evClickHouse})
	}
	for range o.kafkaRestarts {
		evs = append(evs, event{kind: evKafka})
	}
	if o.cluster {
		for range o.zkRestarts {
			evs = append(evs, event{kind: evZooKeeper})
		}
	}
	for i := range o.faults {
		f := faultKinds[i%len(faultKinds)]
		target := firstTarget[f]
		if (i/len(faultKinds))%2 == 1 {
			target = map[string]string{targetKafka: targetClickHouse, targetClickHouse: targetKafka}[target]
		}
		evs = append(evs, event{kind: evFault, fault: f, target: target})
	}
	rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	return evs
}

// between returns a random duration in [lo, hi].
func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
}
