package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cityhighway/highway/connectors/sim"
	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// sourceFeed is the built-in feed whose records and table shape every
// measurement uses.
const sourceFeed = "td.traffic.detectors"

// env is one run's connections, feeds and data generator. Every feed is a
// copy of sourceFeed under the name bench.<run>.<role>, so each measurement
// has its own topic and table of exactly the same shape.
type env struct {
	o     options
	log   *slog.Logger
	db    string
	dsn   string // of the run's database
	bus   *bus.Bus
	admin *store.Store // the DSN's own database, for CREATE/DROP DATABASE
	store *store.Store // the run's database
	specs string       // the spec file `highway process` loads
	feeds map[string]*catalog.Feed
	gen   *generator
}

// Roles of the feeds of a run.
const (
	roleHighway    = "detectors" // highway's throughput topic and table; the engine reads the same topic
	roleEngine     = "engine"    // the Kafka engine's table
	roleCeiling    = "ceiling"   // InsertColumns from memory
	roleCeilArrow  = "ceilarrow" // store.Insert from pre-built Arrow batches
	roleLatency    = "latency"   // highway's latency topic and table
	roleEngineLat  = "enginelat" // the engine's latency topic and table
	roleProfile    = "profile"   // the in-process profile run
	groupHighway   = "highway"   // group prefix of `highway process` children
	engineGroupFmt = "bench.%s.engine.%s"
)

var roles = []string{roleHighway, roleEngine, roleCeiling, roleCeilArrow, roleLatency, roleEngineLat, roleProfile}

// newEnv writes the run's feed specs, creates its database and connects.
func newEnv(ctx context.Context, o options, log *slog.Logger) (*env, error) {
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", o.work, err)
	}
	builtin, err := catalog.Builtin()
	if err != nil {
		return nil, fmt.Errorf("built-in specs: %w", err)
	}
	src := builtin.Feed(sourceFeed)
	if src == nil {
		return nil, fmt.Errorf("built-in feed %s is missing", sourceFeed)
	}
	e := &env{o: o, log: log, db: "bench_" + o.run, feeds: map[string]*catalog.Feed{}}
	var docs []string
	for _, r := range roles {
		doc, err := specOf(src, "bench."+o.run+"."+r)
		if err != nil {
			return nil, err
		}
		docs = append(docs, doc)
	}
	e.specs = filepath.Join(o.work, "bench-feeds.yaml")
	data := []byte(strings.Join(docs, "---\n"))
	if err := os.WriteFile(e.specs, data, 0o644); err != nil {
		return nil, fmt.Errorf("writing feed specs: %w", err)
	}
	cat, err := catalog.Parse(e.specs, data)
	if err != nil {
		return nil, fmt.Errorf("the generated specs do not load (a bug in ingestbench): %w", err)
	}
	for _, r := range roles {
		if e.feeds[r] = cat.Feed("bench." + o.run + "." + r); e.feeds[r] == nil {
			return nil, fmt.Errorf("generated feed %s missing from %s", r, e.specs)
		}
	}
	e.gen = &generator{feed: src, base: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), sim: sim.New(sim.Config{Feeds: []*catalog.Feed{src}, BadShare: -1, Logger: log}, nil)}

	if e.bus, err = bus.New(bus.Config{Brokers: strings.Split(o.kafka, ","), BatchTimeout: 20 * time.Millisecond, Logger: log}); err != nil {
		return nil, err
	}
	if e.admin, err = store.Open(ctx, o.clickhouse, log); err != nil {
		return nil, err
	}
	if err := e.admin.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+e.db+e.onCluster()); err != nil {
		return nil, fmt.Errorf("creating database %s: %w", e.db, err)
	}
	if e.dsn, err = store.WithDatabase(o.clickhouse, e.db); err != nil {
		return nil, err
	}
	if e.store, err = store.Open(ctx, e.dsn, log); err != nil {
		return nil, err
	}
	log.Info("run environment ready", "database", e.db, "specs", e.specs, "clickhouse", e.store.Version().String())
	return e, nil
}

// close drops the database unless -keep, and closes the connections.
func (e *env) close() {
	if e.store != nil {
		e.store.Close()
	}
	if e.admin != nil {
		if !e.o.keep {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := e.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+e.db+e.onCluster()); err != nil {
				e.log.Warn("dropping the run's database failed", "database", e.db, "err", err)
			}
			cancel()
		}
		e.admin.Close()
	}
	if e.bus != nil {
		e.bus.Close()
	}
}

// rows returns the number of rows of table in the run's database, from
// system.parts: cheap, and exactly what a SELECT would see.
func (e *env) rows(ctx context.Context, table string) (int64, error) {
	var n uint64
	q := "SELECT sum(rows) FROM system.parts WHERE database = ? AND table = ? AND active"
	if e.o.storeCluster != "" {
		// the Distributed table (its parts are on the shards' servers)
		q = "SELECT toUInt64(count()) FROM " + e.db + "." + table + " WHERE ? != ?"
	}
	err := e.store.QueryRow(ctx, []any{&n}, q, e.db, table)
	if err != nil {
		return 0, fmt.Errorf("counting rows of %s.%s: %w", e.db, table, err)
	}
	return int64(n), nil
}

// topicSize returns the number of records in topic (sum of end offsets).
func (e *env) topicSize(ctx context.Context, topic string) (int64, error) {
	ends, err := e.bus.EndOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, o := range ends {
		n += o
	}
	return n, nil
}

// specDoc is a feed spec as YAML, for `highway process --specs`.
type specDoc struct {
	Kind        string     `yaml:"kind"`
	Name        string     `yaml:"name"`
	Department  string     `yaml:"department"`
	Description string     `yaml:"description,omitempty"`
	Fields      []fieldDoc `yaml:"fields"`
	Key         []string   `yaml:"key,flow"`
	EventTime   string     `yaml:"event_time"`
	Interval    string     `yaml:"interval"`
	Retention   string     `yaml:"retention,omitempty"`
}

type fieldDoc struct {
	Name     string   `yaml:"name"`
	Type     string   `yaml:"type"`
	Unit     string   `yaml:"unit,omitempty"`
	Required bool     `yaml:"required,omitempty"`
	Min      *float64 `yaml:"min,omitempty"`
	Max      *float64 `yaml:"max,omitempty"`
	Enum     []string `yaml:"enum,omitempty,flow"`
	Personal bool     `yaml:"personal,omitempty"`
}

// specOf renders feed under another name, so the copy has the same fields,
// key, event time and so the same Arrow schema and table shape.
func specOf(feed *catalog.Feed, name string) (string, error) {
	d := specDoc{Kind: "feed", Name: name, Department: feed.Department, Description: "ingest benchmark copy of " + feed.Name,
		Key: feed.Key, EventTime: feed.EventTime, Interval: feed.Interval.String()}
	if feed.Retention > 0 {
		d.Retention = strconv.FormatInt(int64(feed.Retention/(24*time.Hour)), 10) + "d"
	}
	for _, f := range feed.Fields {
		d.Fields = append(d.Fields, fieldDoc{Name: f.Name, Type: string(f.Type), Unit: f.Unit, Required: f.Required, Min: f.Min, Max: f.Max, Enum: f.Enum, Personal: f.Personal})
	}
	out, err := yaml.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("rendering the spec of %s: %w", name, err)
	}
	return string(out), nil
}

// generator makes the benchmark's records with connectors/sim: snapshot k is
// the detectors' publication at base + k×30 s (360 records: 120 detectors ×
// 3 lanes), from a random source seeded by k alone, so any range of
// snapshots is the same whoever makes it and in whatever order.
type generator struct {
	feed *catalog.Feed
	sim  *sim.Simulator
	base time.Time
}

// perSnapshot is the number of records in one snapshot.
const perSnapshot = 360

// snapshot returns snapshot k with its messages addressed to topic.
func (g *generator) snapshot(k int, topic string) []bus.Message {
	rng := rand.New(rand.NewPCG(2026, uint64(k)))
	msgs := g.sim.Snapshot(g.feed, g.base.Add(time.Duration(k)*30*time.Second), rng)
	for i := range msgs {
		msgs[i].Topic = topic
	}
	return msgs
}

// records returns records [from, to) of the sequence of snapshots.
func (g *generator) records(from, to int, topic string) []bus.Message {
	out := make([]bus.Message, 0, to-from)
	for k := from / perSnapshot; k*perSnapshot < to; k++ {
		msgs := g.snapshot(k, topic)
		lo, hi := max(from-k*perSnapshot, 0), min(to-k*perSnapshot, len(msgs))
		out = append(out, msgs[lo:hi]...)
	}
	return out
}

// fill produces records [0, n) to topic with a few concurrent producers and
// returns when every one is acknowledged.
func (e *env) fill(ctx context.Context, topic string, n int) error {
	const chunk = 28 * perSnapshot
	prod := e.bus.NewProducer()
	defer prod.Close()
	began := time.Now()
	var (
		next, done atomic.Int64
		wg         sync.WaitGroup
		errOnce    sync.Once
		failure    error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				from := int(next.Add(chunk)) - chunk
				if from >= n {
					return
				}
				msgs := e.gen.records(from, min(from+chunk, n), topic)
				if err := prod.Produce(ctx, msgs...); err != nil {
					errOnce.Do(func() { failure = fmt.Errorf("filling %s: %w", topic, err); cancel() })
					return
				}
				done.Add(int64(len(msgs)))
			}
		}()
	}
	stopProgress := progress(ctx, e.log, "filling topic", func() []any {
		d := done.Load()
		return []any{"topic", topic, "produced", d, "of", n, "rate", rate(d, time.Since(began))}
	})
	wg.Wait()
	stopProgress()
	if failure != nil {
		return failure
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	e.log.Info("topic filled", "topic", topic, "records", n, "took", time.Since(began).Round(time.Millisecond), "rate", rate(int64(n), time.Since(began)))
	return nil
}

// progress logs line() every 5 s until the returned stop is called.
func progress(ctx context.Context, log *slog.Logger, what string, line func() []any) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				log.Info(what, line()...)
			}
		}
	}()
	return func() { cancel(); <-done }
}

// rate formats n per d as a whole number per second.
func rate(n int64, d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(float64(n) / d.Seconds())
}

// onCluster is " ON CLUSTER <name>" when the run's ClickHouse is a cluster
// (-mode scale's cluster side), else "".
func (e *env) onCluster() string {
	if e.o.storeCluster == "" {
		return ""
	}
	return " ON CLUSTER " + e.o.storeCluster
}
