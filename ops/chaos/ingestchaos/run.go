package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// spec is the chaos feed: one unique record per seq, keyed by its id so no
// de-duplication step can take two records for one.
const spec = `kind: feed
name: %s
department: OPS
description: Records of the ingest chaos test (ops/chaos/ingest).
fields:
  - {name: id, type: string, required: true, description: "e<seq>"}
  - {name: seq, type: int64, required: true, description: unique sequence number of the record}
  - {name: station, type: string, required: true}
  - {name: value, type: float64, min: 0, max: 1000}
  - {name: at, type: time, required: true}
key: [id]
event_time: at
interval: 1s
`

// run does one chaos run and reports whether every check passed.
func run(ctx context.Context, o options, log *slog.Logger) (bool, error) {
	rng := rand.New(rand.NewPCG(o.seed, 1))
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		return false, fmt.Errorf("creating %s: %w", o.work, err)
	}
	name := "chaos." + o.run + ".events"
	specPath := filepath.Join(o.work, "chaos-feed.yaml")
	data := fmt.Appendf(nil, spec, name)
	if err := os.WriteFile(specPath, data, 0o644); err != nil {
		return false, fmt.Errorf("writing the feed spec: %w", err)
	}
	cat, err := catalog.Parse(specPath, data)
	if err != nil {
		return false, fmt.Errorf("the chaos feed spec does not load: %w", err)
	}
	feed := cat.Feed(name)

	b, err := bus.New(bus.Config{Brokers: strings.Split(o.kafka, ","), Logger: quietLogger()})
	if err != nil {
		return false, err
	}
	defer b.Close()
	if err := b.EnsureTopics(ctx, 2, feed.Topic(), feed.DLQTopic()); err != nil {
		return false, err
	}
	db := "chaos_" + o.run
	admin, err := store.Open(ctx, o.clickhouse, quietLogger())
	if err != nil {
		return false, err
	}
	create := "CREATE DATABASE IF NOT EXISTS " + db
	if o.cluster {
		create += " ON CLUSTER " + o.clickhouseCluster
	}
	if err := admin.Exec(ctx, create); err != nil {
		admin.Close()
		return false, err
	}
	admin.Close()
	dsn, err := store.WithDatabase(o.clickhouse, db)
	if err != nil {
		return false, err
	}

	// highway process reaches Kafka and ClickHouse through toxiproxy only
	// (on a cluster, directly: the kills are the faults).
	chURL, err := url.Parse(dsn)
	if err != nil {
		return false, fmt.Errorf("the ClickHouse DSN %q: %w", dsn, err)
	}
	kafkaAddr, proxiedDSN := o.kafka, dsn
	nf := &netFaults{}
	if !o.cluster {
		if nf, err = newNetFaults(o.kafkaProxy, o.kafkaProxied, o.clickhouseProxy, chURL.Host); err != nil {
			return false, err
		}
		defer nf.close()
		chURL.Host = o.clickhouseProxy
		kafkaAddr, proxiedDSN = o.kafkaProxy, chURL.String()
	}

	events := schedule(o, rng)
	log.Info("chaos run", "run", o.run, "seed", o.seed, "rate", o.rate, "events", len(events), "kills", o.kills,
		"clickhouse_restarts", o.chRestarts, "kafka_restarts", o.kafkaRestarts, "network_faults", o.faults, "months", o.months, "producer_direct", o.producerDirect,
		"topic", feed.Topic(), "database", db, "kafka_proxy", o.kafkaProxy+"→"+o.kafkaProxied, "clickhouse_proxy", o.clickhouseProxy+"→"+chURL.Host, "work", o.work)

	childArgs := []string{
		"--kafka", kafkaAddr, "--clickhouse", proxiedDSN, "--specs", specPath, "--feed", name,
		"--group-prefix", "chaos." + o.run, "--partitions", "2", "--metrics-addr", "", "--log-level", "info",
	}
	if o.cluster && o.storeCluster {
		childArgs = append(childArgs, "--clickhouse-cluster", o.clickhouseCluster)
	}
	sup := newSupervisor(o.highway, childArgs, o.work, log)
	supCtx, stopSup := context.WithCancel(ctx)
	defer func() { stopSup(); <-sup.done }()
	go sup.run(supCtx)

	// The producer goes through the Kafka proxy too (unless
	// -producer-direct): a fault that loses a produce's answer makes it
	// retry records Kafka already has.
	pb := b
	if !o.producerDirect && !o.cluster {
		if pb, err = bus.New(bus.Config{Brokers: []string{o.kafkaProxy}, Logger: quietLogger()}); err != nil {
			return false, err
		}
		defer pb.Close()
	}
	prod := &producer{prod: pb.NewProducer(), plan: recordPlan{months: o.months, badEvery: int64(o.badEvery)}, topic: feed.Topic(), rate: o.rate, log: log}
	defer prod.prod.Close()
	prodCtx, stopProd := context.WithCancel(ctx)
	defer stopProd()
	prodErr := make(chan error, 1)
	prodBegan := time.Now()
	go func() { prodErr <- prod.run(prodCtx, 2*time.Minute) }()

	svc := services{ops: o.ops, work: o.work, log: log, cluster: o.cluster, replicas: strings.Split(o.replicas, ","), rng: rng,
		figures: &failovers{}, dbPrefix: db}
	if o.cluster {
		if svc.probe, err = newFailoverProbe(ctx, b, "chaos."+o.run+".probe", brokerCount(), log); err != nil {
			return false, err
		}
		defer svc.probe.close()
		if svc.replicaAddrs, err = replicaAddrs(ctx, o.clickhouse, o.clickhouseCluster, svc.replicas); err != nil {
			return false, err
		}
	}
	zkRestarts := 0
	// A direct connection that watches for inserts, to SIGKILL ClickHouse
	// in the middle of one.
	watch, err := store.Open(ctx, dsn, quietLogger())
	if err != nil {
		return false, err
	}
	defer watch.Close()
	chMidInsert := 0
	sleep(ctx, 5*time.Second) // records flow before the first event
	began := time.Now()
	killsWorking, chRestarts := 0, 0
	var (
		faults     sync.WaitGroup
		faultMu    sync.Mutex
		faultsDone = map[string]int{} // "kind@target" → count
		faultErrs  []error
		faultLocks = map[string]*sync.Mutex{targetKafka: {}, targetClickHouse: {}}
	)
	for i, ev := range events {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		gap := between(rng, o.gapMin, o.gapMax)
		switch ev.kind {
		case evFault:
			// A fault runs beside the events that follow it; faults on one
			// service's proxy take turns (the loop waits for the one
			// before to end), so their toxics never meet.
			sleep(ctx, between(rng, o.gapMin/2, o.gapMax/2))
			hold := between(rng, time.Second, o.faultMax)
			txs, err := toxicsOf(ev.fault, ev.target, rng)
			if err != nil {
				return false, err
			}
			faultLocks[ev.target].Lock()
			log.Info("chaos: network fault", "event", i+1, "of", len(events), "fault", ev.fault, "on", ev.target, "for", hold.Round(time.Millisecond), "acked", prod.acked())
			faults.Add(1)
			go func(ev event) {
				defer faults.Done()
				defer faultLocks[ev.target].Unlock()
				desc, err := nf.inject(ctx, ev.fault, ev.target, txs, hold)
				faultMu.Lock()
				defer faultMu.Unlock()
				if err != nil {
					faultErrs = append(faultErrs, err)
					return
				}
				faultsDone[string(ev.fault)+"@"+ev.target]++
				log.Info("chaos: network fault removed", "fault", ev.fault, "on", ev.target, "toxics", desc)
			}(ev)
		case evKill:
			// Kill a processor that is working: once it has partitions, at
			// a random moment of its fetch, insert and commit cycle.
			assigned := sup.waitAssigned(ctx, 90*time.Second)
			if assigned {
				killsWorking++
				gap = between(rng, 100*time.Millisecond, o.gapMax/2)
			}
			sleep(ctx, gap)
			down := between(rng, 0, time.Second)
			up, ok := sup.kill(down)
			// No child at that moment (one was between exit and restart):
			// wait for the next to work, so that every kill event kills.
			for retry := 0; !ok && retry < 3 && ctx.Err() == nil; retry++ {
				assigned = sup.waitAssigned(ctx, 90*time.Second)
				sleep(ctx, between(rng, 100*time.Millisecond, time.Second))
				up, ok = sup.kill(down)
			}
			log.Info("chaos: SIGKILL highway process", "event", i+1, "of", len(events), "was_up", up.Round(100*time.Millisecond), "running", ok,
				"had_partitions", assigned, "restart_after", down.Round(time.Millisecond), "acked", prod.acked())
		case evClickHouse:
			// Every other restart, starting with the first, is a SIGKILL
			// timed to land in an insert, which then may have landed part
			// by part.
			sleep(ctx, gap)
			down := between(rng, time.Second, 5*time.Second)
			hard := chRestarts%2 == 0
			chRestarts++
			midInsert := false
			if hard {
				// In the middle of an insert, a few milliseconds into it.
				if midInsert = waitInsert(ctx, watch, feed.Table(), 30*time.Second); midInsert {
					chMidInsert++
				}
				sleep(ctx, between(rng, 0, 5*time.Millisecond))
			}
			log.Info("chaos: restarting ClickHouse", "event", i+1, "of", len(events), "sigkill", hard, "mid_insert", midInsert, "down_for", down.Round(time.Millisecond), "acked", prod.acked())
			if err := svc.restart(ctx, "clickhouse", down, hard); err != nil {
				return false, err
			}
		case evZooKeeper:
			sleep(ctx, gap)
			down := between(rng, time.Second, 5*time.Second)
			zkRestarts++
			log.Info("chaos: restarting ZooKeeper", "event", i+1, "of", len(events), "down_for", down.Round(time.Millisecond), "acked", prod.acked())
			if err := svc.restart(ctx, "zookeeper", down, false); err != nil {
				return false, err
			}
		case evKafka:
			sleep(ctx, gap)
			down := between(rng, time.Second, 5*time.Second)
			log.Info("chaos: restarting the Kafka broker", "event", i+1, "of", len(events), "down_for", down.Round(time.Millisecond), "acked", prod.acked())
			if err := svc.restart(ctx, "kafka", down, false); err != nil {
				return false, err
			}
		}
	}
	faults.Wait()
	if err := errors.Join(faultErrs...); err != nil {
		return false, err
	}
	log.Info("chaos events done; records flow 5 s more, then the producer stops", "took", time.Since(began).Round(time.Second))
	sleep(ctx, 5*time.Second)
	stopProd()
	if err := <-prodErr; err != nil {
		return false, err
	}
	produced := prod.acked()
	retries, outage := prod.failures()
	achieved := float64(produced) / time.Since(prodBegan).Seconds()
	log.Info("producer stopped", "acknowledged", produced, "rate", int(achieved), "failed_attempts", retries, "time_retrying", outage.Round(100*time.Millisecond))

	// Let the processor drain everything Kafka holds.
	st, err := store.Open(ctx, dsn, quietLogger())
	if err != nil {
		return false, err
	}
	defer func() {
		if !o.keep && o.cluster {
			_ = st.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+db+" ON CLUSTER "+o.clickhouseCluster)
		} else if !o.keep {
			_ = st.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+db)
		}
		st.Close()
	}()
	inKafka, err := topicSize(ctx, b, feed.Topic())
	if err != nil {
		return false, err
	}
	plan := recordPlan{months: o.months, badEvery: int64(o.badEvery)}
	bad := plan.countBad(produced)
	countQuery := "SELECT sum(rows) FROM system.parts WHERE database = ? AND table = ? AND active"
	if o.cluster && o.storeCluster {
		// the Distributed table: one replica of each shard, after every
		// replica has fetched what its shard was sent
		countQuery = "SELECT toUInt64(count()) FROM " + db + "." + feed.Table() + " WHERE ? != ?"
	}
	if err := drain(ctx, st, countQuery, db, feed.Table(), inKafka-bad, produced-bad, 3*time.Minute, log); err != nil {
		log.Error("the processor did not catch up; checking what there is", "err", err)
	}
	stopSup()
	<-sup.done
	starts, kills, selfExits := sup.counts()
	if o.cluster && o.storeCluster {
		if err := syncReplicas(ctx, st, o.clickhouseCluster, db, feed.Table()+store.LocalSuffix, log); err != nil {
			return false, err
		}
	}

	v, err := verify(ctx, b, st, db, feed, produced, plan, log)
	if err != nil {
		return false, err
	}
	faultsTotal := 0
	for _, n := range faultsDone {
		faultsTotal += n
	}
	fmt.Printf("chaos seed=%d months=%d producer_direct=%t rate=%d achieved_rate=%.0f kills=%d kills_with_partitions=%d clickhouse_restarts=%d clickhouse_sigkills_mid_insert=%d kafka_restarts=%d zookeeper_restarts=%d cluster=%t store_cluster=%t network_faults=%d (%s) highway_starts=%d self_exits=%d producer_failed_attempts=%d\n",
		o.seed, o.months, o.producerDirect, o.rate, achieved, kills, killsWorking, o.chRestarts, chMidInsert, o.kafkaRestarts, zkRestarts, o.cluster, o.cluster && o.storeCluster, faultsTotal, faultSummary(faultsDone), starts, len(selfExits), retries)
	if o.cluster {
		fmt.Println(svc.figures.line())
	}
	for i, why := range selfExits {
		if i == 5 {
			fmt.Printf("  … %d more self-exits (logs in %s)\n", len(selfExits)-5, o.work)
			break
		}
		fmt.Printf("  self-exit: %s\n", why)
	}
	ok := v.lost == 0 && v.duplicated == 0 && v.misattributed == 0 && v.unacked == 0 && v.windowsOK && v.rows == v.good &&
		v.badRows == 0 && v.dlqLost == 0 && v.dlqDup == 0
	fmt.Printf("chaos produced=%d rows=%d distinct=%d lost=%d duplicated=%d windows_ok=%t dlq_lost=%d dlq_dup=%d acked=%d bad=%d bad_rows=%d dlq_records=%d dup_seqs=%d kafka_records=%d kafka_distinct=%d kafka_dup=%d offset_dup=%d kafka_records_without_row=%d misattributed=%d unacknowledged_rows=%d windows=%d windows_bad=%d network_faults=%d\n",
		v.good, v.rows, v.distinct, v.lost, v.duplicated, v.windowsOK, v.dlqLost, v.dlqDup, produced, v.bad, v.badRows, v.dlqRecords, v.dupSeqs,
		v.kafkaRecords, v.kafkaDistinct, v.kafkaRecords-v.kafkaDistinct, v.offsetDup, v.kafkaWithoutRow, v.misattributed, v.unacked, v.windows, v.windowsBad, faultsTotal)
	if !ok {
		log.Error("chaos check FAILED", "work", o.work)
	}
	return ok, nil
}

// faultSummary lists the network faults done, "kind@target×n", sorted.
func faultSummary(done map[string]int) string {
	keys := slices.Sorted(maps.Keys(done))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, done[k])
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// drain waits, for at most timeout, until table holds want rows (or more),
// or at least least rows and no new one for 10 s (Kafka may hold copies of
// bad records, which have no rows, so want may be out of reach), or no new
// row for 30 s (the processor has written all it will: rows were lost).
func drain(ctx context.Context, st *store.Store, countQuery, db, table string, want, least int64, timeout time.Duration, log *slog.Logger) error {
	deadline := time.Now().Add(timeout)
	last := time.Now()
	var prev uint64
	changed := time.Now()
	for {
		var n uint64
		err := st.QueryRow(ctx, []any{&n}, countQuery, db, table)
		if n != prev {
			prev, changed = n, time.Now()
		}
		if err == nil && (int64(n) >= want || int64(n) >= least && time.Since(changed) > 10*time.Second || n > 0 && time.Since(changed) > 30*time.Second) {
			log.Info("processor caught up", "rows", n, "want", want, "at_least", least)
			return nil
		}
		if time.Since(last) > 5*time.Second {
			log.Info("waiting for the processor to catch up", "rows", n, "want", want, "err", err)
			last = time.Now()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s holds %d rows of %d after %s", table, n, want, timeout)
		}
		sleep(ctx, 500*time.Millisecond)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// topicSize is the number of records in topic.
func topicSize(ctx context.Context, b *bus.Bus, topic string) (int64, error) {
	var (
		ends map[int]int64
		err  error
	)
	for i := 0; i < 30; i++ { // the broker may still be settling after a restart
		if ends, err = b.EndOffsets(ctx, topic); err == nil {
			break
		}
		sleep(ctx, time.Second)
	}
	if err != nil {
		return 0, err
	}
	var n int64
	for _, o := range ends {
		n += o
	}
	return n, nil
}

// services restarts the private Kafka and ClickHouse with the ops scripts.
type services struct {
	ops, work string
	log       *slog.Logger
	cluster   bool       // restart one member of a cluster (cluster.go)
	replicas  []string   // the ClickHouse replicas to pick from
	rng       *rand.Rand // picks the member
	// With -cluster: the failover figures (failover.go), the probe that
	// times a broker's, and where a replica's are read.
	figures      *failovers
	probe        *failoverProbe
	replicaAddrs map[string]string // replica name → host:port
	dbPrefix     string            // the run's databases
}

// restart stops the service with ops/<name>/stop (SIGTERM), or with
// SIGKILL to the pid in $HIGHWAY_RUN/<name>/<name>.pid when hard, waits
// down, and starts it again with ops/<name>/start, which returns when it is
// ready.
func (s services) restart(ctx context.Context, name string, down time.Duration, hard bool) error {
	if s.cluster && name != "zookeeper" {
		return s.restartMember(ctx, name, down, hard)
	}
	if hard {
		if err := s.kill(ctx, name); err != nil {
			return err
		}
	} else if err := s.script(ctx, name, "stop"); err != nil {
		return err
	}
	sleep(ctx, down)
	began := time.Now()
	if err := s.script(ctx, name, "start"); err != nil {
		return err
	}
	s.log.Info("chaos: "+name+" is back", "start_took", time.Since(began).Round(100*time.Millisecond))
	return nil
}

// kill SIGKILLs the service whose pid ops/<name>/start wrote, and waits
// until it is gone.
func (s services) kill(ctx context.Context, name string) error {
	pidPath := filepath.Join(os.Getenv("HIGHWAY_RUN"), name, name+".pid")
	data, err := os.ReadFile(pidPath)
	if err != nil {
		return fmt.Errorf("SIGKILL %s: reading its pid (HIGHWAY_RUN must be the chaos services' folder): %w", name, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("SIGKILL %s: %s holds %q, not a pid", name, pidPath, data)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("SIGKILL %s (pid %d): %w", name, pid, err)
	}
	for syscall.Kill(pid, 0) == nil && ctx.Err() == nil {
		sleep(ctx, 50*time.Millisecond)
	}
	return nil
}

func (s services) script(ctx context.Context, name, verb string, args ...string) error {
	logPath := filepath.Join(s.work, name+"-"+verb+".log")
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.CommandContext(ctx, filepath.Join(s.ops, name, verb), args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ops/%s/%s %s failed (%v); see %s", name, verb, strings.Join(args, " "), err, logPath)
	}
	return nil
}

// quietLogger drops the libraries' chatter below warnings.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
