package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// env is one run's connections and feeds: feeds[i] is
// bench.<run>.f<i>, single the feed of the single-feed measurement.
type env struct {
	o      options
	log    *slog.Logger
	db     string
	dsn    string
	specs  string
	bus    *bus.Bus
	prod   *bus.Producer
	admin  *store.Store
	store  *store.Store
	feeds  []*catalog.Feed
	single *catalog.Feed
	// sent[feed] is how many records of the feed were acknowledged: seq
	// 0 … sent−1; those from badFrom[feed] on are bad.
	mu      sync.Mutex
	sent    map[*catalog.Feed]int64
	badFrom map[*catalog.Feed]int64
}

// feedSpec is the shape of every feed of the run; a record with a value
// above 1000 is rejected.
const feedSpec = `kind: feed
name: %s
department: BENCH
fields:
  - {name: id, type: string, required: true}
  - {name: seq, type: int64, required: true}
  - {name: station, type: string}
  - {name: value, type: float64, min: 0, max: 1000}
  - {name: at, type: time, required: true}
key: [id]
event_time: at
interval: 1m
`

func newEnv(ctx context.Context, o options, log *slog.Logger) (*env, error) {
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", o.work, err)
	}
	e := &env{o: o, log: log, db: "bench_" + o.run, sent: map[*catalog.Feed]int64{}, badFrom: map[*catalog.Feed]int64{}}
	var docs []string
	for i := range o.feeds {
		docs = append(docs, fmt.Sprintf(feedSpec, e.feedName(i)))
	}
	docs = append(docs, fmt.Sprintf(feedSpec, "bench."+o.run+".single"))
	e.specs = filepath.Join(o.work, "feeds.yaml")
	data := []byte(strings.Join(docs, "---\n"))
	if err := os.WriteFile(e.specs, data, 0o644); err != nil {
		return nil, fmt.Errorf("writing feed specs: %w", err)
	}
	cat, err := catalog.Parse(e.specs, data)
	if err != nil {
		return nil, fmt.Errorf("the generated specs do not load (a bug in feedsbench): %w", err)
	}
	for i := range o.feeds {
		e.feeds = append(e.feeds, cat.Feed(e.feedName(i)))
	}
	e.single = cat.Feed("bench." + o.run + ".single")
	if e.bus, err = bus.New(bus.Config{Brokers: strings.Split(o.kafka, ","), BatchTimeout: 20 * time.Millisecond, Logger: log}); err != nil {
		return nil, err
	}
	e.prod = e.bus.NewProducer()
	if e.admin, err = store.Open(ctx, o.clickhouse, log); err != nil {
		return nil, err
	}
	if err := e.admin.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+e.db); err != nil {
		return nil, fmt.Errorf("creating database %s: %w", e.db, err)
	}
	if e.dsn, err = store.WithDatabase(o.clickhouse, e.db); err != nil {
		return nil, err
	}
	if e.store, err = store.Open(ctx, e.dsn, log); err != nil {
		return nil, err
	}
	var topics []string
	for _, f := range append(append([]*catalog.Feed(nil), e.feeds...), e.single) {
		topics = append(topics, f.Topic(), f.DLQTopic())
	}
	if err := e.bus.EnsureTopics(ctx, o.partitions, topics...); err != nil {
		return nil, fmt.Errorf("creating the run's topics: %w", err)
	}
	return e, nil
}

func (e *env) feedName(i int) string { return fmt.Sprintf("bench.%s.f%04d", e.o.run, i) }

func (e *env) close() {
	e.prod.Close()
	e.bus.Close()
	if e.store != nil {
		e.store.Close()
	}
	if e.admin != nil {
		if !e.o.keep {
			for _, db := range []string{e.db, e.db + "_restricted"} {
				if err := e.admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db); err != nil {
					e.log.Warn("dropping the run's database failed", "database", db, "err", err)
				}
			}
		}
		e.admin.Close()
	}
}

// childArgs are the flags of a `highway process` of feeds.
func (e *env) childArgs(group string, feeds ...*catalog.Feed) []string {
	names := make([]string, len(feeds))
	for i, f := range feeds {
		names[i] = f.Name
	}
	args := []string{
		"--kafka", e.o.kafka, "--clickhouse", e.dsn, "--specs", e.specs, "--feed", strings.Join(names, ","),
		"--group-prefix", "bench." + e.o.run + "." + group, "--partitions", strconv.Itoa(e.o.partitions),
		"--metrics-addr", fmt.Sprintf("127.0.0.1:%d", e.o.metricsPort), "--pprof", "--copy-dead-letters=false", "--log-level", "info",
	}
	return append(args, strings.Fields(e.o.childFlags)...)
}

// baseTime is the event time of seq 0; seq s happens s × 10 ms later, so
// 5M records stay within November 2026.
var baseTime = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)

// record is the JSON of record seq of a feed; a bad one's value is above
// the spec's maximum.
func record(seq int64, bad bool) []byte {
	value := seq % 997
	if bad {
		value = 5000
	}
	return fmt.Appendf(nil, `{"id":"e%d","seq":%d,"station":"s%02d","value":%d.%d,"at":%d}`,
		seq, seq, seq%50, value, seq%10, baseTime.Add(time.Duration(seq)*10*time.Millisecond).UnixMilli())
}

// produce sends n more records to feed (bad ones when bad), in chunks, and
// returns when every one is acknowledged; a chunk that fails is retried
// with only the records not written (bus.Unsent), so each is in Kafka once.
func (e *env) produce(ctx context.Context, feed *catalog.Feed, n int64, bad bool) error {
	e.mu.Lock()
	from := e.sent[feed]
	if bad {
		if _, ok := e.badFrom[feed]; !ok {
			e.badFrom[feed] = from
		}
	}
	e.mu.Unlock()
	const chunk = 5000
	for at := from; at < from+n; at += chunk {
		msgs := make([]bus.Message, 0, chunk)
		for s := at; s < min(at+chunk, from+n); s++ {
			msgs = append(msgs, bus.Message{Topic: feed.Topic(), Key: []byte("e" + strconv.FormatInt(s, 10)), Value: record(s, bad)})
		}
		for attempt := 1; len(msgs) > 0; attempt++ {
			err := e.prod.Produce(ctx, msgs...)
			if err == nil {
				break
			}
			if ctx.Err() != nil || attempt == 20 {
				return fmt.Errorf("producing to %s: %w", feed.Topic(), err)
			}
			msgs = bus.Unsent(msgs, err)
			time.Sleep(200 * time.Millisecond)
		}
		e.mu.Lock()
		e.sent[feed] = min(at+chunk, from+n)
		e.mu.Unlock()
	}
	return nil
}

// produceAll gives each of feeds n records, a few feeds at a time.
func (e *env) produceAll(ctx context.Context, feeds []*catalog.Feed, n int64) error {
	sem := make(chan struct{}, 8)
	errs := make(chan error, len(feeds))
	var wg sync.WaitGroup
	for _, f := range feeds {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs <- e.produce(ctx, f, n, false)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// rows is the rows of the run's database (its active parts), read fast
// enough to poll.
func (e *env) rows(ctx context.Context, tables ...string) (int64, error) {
	var n uint64
	q := fmt.Sprintf("SELECT sum(rows) FROM system.parts WHERE database = '%s' AND active", e.db)
	if len(tables) > 0 {
		q += " AND table IN ('" + strings.Join(tables, "','") + "')"
	}
	if err := e.store.QueryRow(ctx, []any{&n}, q); err != nil {
		return 0, fmt.Errorf("counting rows: %w", err)
	}
	return int64(n), nil
}

// waitRows polls until the tables hold want rows in all, check fails, or
// timeout passes.
func (e *env) waitRows(ctx context.Context, want int64, timeout time.Duration, check func() error, tables ...string) error {
	deadline := time.Now().Add(timeout)
	lastLog := time.Now()
	for {
		n, err := e.rows(ctx, tables...)
		if err != nil {
			return err
		}
		if n >= want {
			return nil
		}
		if err := check(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d rows after %s", n, want, timeout)
		}
		if time.Since(lastLog) > 5*time.Second {
			e.log.Info("waiting for rows", "have", n, "want", want)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
