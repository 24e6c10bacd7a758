package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	if err := admin.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db); err != nil {
		admin.Close()
		return false, err
	}
	admin.Close()
	dsn, err := store.WithDatabase(o.clickhouse, db)
	if err != nil {
		return false, err
	}

	events := schedule(o, rng)
	log.Info("chaos run", "run", o.run, "seed", o.seed, "rate", o.rate, "events", len(events), "kills", o.kills,
		"clickhouse_restarts", o.chRestarts, "kafka_restarts", o.kafkaRestarts, "topic", feed.Topic(), "database", db, "work", o.work)

	sup := newSupervisor(o.highway, []string{
		"--kafka", o.kafka, "--clickhouse", dsn, "--specs", specPath, "--feed", name,
		"--group-prefix", "chaos." + o.run, "--partitions", "2", "--metrics-addr", "", "--log-level", "info",
	}, o.work, log)
	supCtx, stopSup := context.WithCancel(ctx)
	defer func() { stopSup(); <-sup.done }()
	go sup.run(supCtx)

	prod := &producer{prod: b.NewProducer(), topic: feed.Topic(), rate: o.rate, log: log}
	defer prod.prod.Close()
	prodCtx, stopProd := context.WithCancel(ctx)
	defer stopProd()
	prodErr := make(chan error, 1)
	prodBegan := time.Now()
	go func() { prodErr <- prod.run(prodCtx, 2*time.Minute) }()

	svc := services{ops: o.ops, work: o.work, log: log}
	sleep(ctx, 5*time.Second) // records flow before the first event
	began := time.Now()
	killsWorking := 0
	for i, ev := range events {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		gap := between(rng, o.gapMin, o.gapMax)
		switch ev {
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
			sleep(ctx, gap)
			down := between(rng, time.Second, 5*time.Second)
			log.Info("chaos: restarting ClickHouse", "event", i+1, "of", len(events), "down_for", down.Round(time.Millisecond), "acked", prod.acked())
			if err := svc.restart(ctx, "clickhouse", down); err != nil {
				return false, err
			}
		case evKafka:
			sleep(ctx, gap)
			down := between(rng, time.Second, 5*time.Second)
			log.Info("chaos: restarting the Kafka broker", "event", i+1, "of", len(events), "down_for", down.Round(time.Millisecond), "acked", prod.acked())
			if err := svc.restart(ctx, "kafka", down); err != nil {
				return false, err
			}
		}
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
		if !o.keep {
			_ = st.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+db)
		}
		st.Close()
	}()
	inKafka, err := topicSize(ctx, b, feed.Topic())
	if err != nil {
		return false, err
	}
	if err := drain(ctx, st, db, feed.Table(), inKafka, 3*time.Minute, log); err != nil {
		log.Error("the processor did not catch up; checking what there is", "err", err)
	}
	stopSup()
	<-sup.done
	starts, kills, selfExits := sup.counts()

	v, err := verify(ctx, b, st, db, feed, produced, log)
	if err != nil {
		return false, err
	}
	fmt.Printf("chaos seed=%d rate=%d achieved_rate=%.0f kills=%d kills_with_partitions=%d clickhouse_restarts=%d kafka_restarts=%d highway_starts=%d self_exits=%d producer_failed_attempts=%d\n",
		o.seed, o.rate, achieved, kills, killsWorking, o.chRestarts, o.kafkaRestarts, starts, len(selfExits), retries)
	for i, why := range selfExits {
		if i == 5 {
			fmt.Printf("  … %d more self-exits (logs in %s)\n", len(selfExits)-5, o.work)
			break
		}
		fmt.Printf("  self-exit: %s\n", why)
	}
	fmt.Printf("chaos kafka_records=%d kafka_distinct=%d producer_copies=%d misattributed=%d kafka_records_without_row=%d unacknowledged_rows=%d windows=%d windows_bad=%d\n",
		v.kafkaRecords, v.kafkaDistinct, v.kafkaRecords-v.kafkaDistinct, v.misattributed, v.kafkaWithoutRow, v.unacked, v.windows, v.windowsBad)
	ok := v.lost == 0 && v.duplicated == 0 && v.misattributed == 0 && v.kafkaWithoutRow == 0 && v.unacked == 0 && v.windowsOK && v.rows == v.kafkaRecords
	fmt.Printf("chaos produced=%d rows=%d distinct=%d lost=%d duplicated=%d windows_ok=%t\n", produced, v.rows, v.distinct, v.lost, v.duplicated, v.windowsOK)
	if !ok {
		log.Error("chaos check FAILED", "work", o.work)
	}
	return ok, nil
}

// drain waits until table holds want rows (or more), for at most timeout.
func drain(ctx context.Context, st *store.Store, db, table string, want int64, timeout time.Duration, log *slog.Logger) error {
	deadline := time.Now().Add(timeout)
	last := time.Now()
	for {
		var n uint64
		err := st.QueryRow(ctx, []any{&n}, "SELECT sum(rows) FROM system.parts WHERE database = ? AND table = ? AND active", db, table)
		if err == nil && int64(n) >= want {
			log.Info("processor caught up", "rows", n, "kafka_records", want)
			return nil
		}
		if time.Since(last) > 5*time.Second {
			log.Info("waiting for the processor to catch up", "rows", n, "kafka_records", want, "err", err)
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
}

// restart stops the service with ops/<name>/stop, waits down, and starts it
// again with ops/<name>/start, which returns when it is ready.
func (s services) restart(ctx context.Context, name string, down time.Duration) error {
	if err := s.script(ctx, name, "stop"); err != nil {
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

func (s services) script(ctx context.Context, name, verb string) error {
	logPath := filepath.Join(s.work, name+"-"+verb+".log")
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.CommandContext(ctx, filepath.Join(s.ops, name, verb))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ops/%s/%s failed (%v); see %s", name, verb, err, logPath)
	}
	return nil
}

// quietLogger drops the libraries' chatter below warnings.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
