package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cityhighway/highway/connectors/builtin"
	"github.com/cityhighway/highway/connectors/connector"
	"github.com/cityhighway/highway/connectors/poll"
	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
)

func runConnect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("connect", "connect [flags]", `
Runs connectors: polls each source at its cadence with conditional GETs,
parses the payload, checks every record against its feed's spec, drops
records already published (by key and event time, also across restarts:
state is kept in --state-dir), and produces the rest to the feeds' Kafka
topics, each bad item to <feed>.dlq with the reason. The sources are the
built-in ones (HKO, TD, EPD; see README "Connectors") and every connector
spec (kind: connector, the generic httppoll connector) in --specs.
--feed picks the feeds to run (default all that have a connector);
--connector picks sources by name when a feed has several.

Dry run — check a payload before publishing, producing nothing:

  highway connect --feed td.traffic.detectors --replay rawSpeedVol-all.xml --dry-run

parses a saved payload with the feed's connector and prints the records as
NDJSON on stdout (one JSON object per line, as they would be produced) and
each reject with where it is and why on stderr. Without --replay, --dry-run
fetches the source once. Exit status: 0 when every item became a valid
record, 1 when there were rejects or the payload could not be read, 2 when
the command was called wrongly.

Detector records get their district from TD's detector location list,
fetched at start and daily (or read once from --locations FILE). --base-url
points every source at another server (a simulator, a test server),
keeping the paths.`, stderr)
	var c common
	c.register(fs)
	var connectors listFlag
	fs.Var(&connectors, "connector", "a source to run, by name (repeatable or comma-separated); default every source of the feeds")
	kafka := fs.String("kafka", envOr("HIGHWAY_KAFKA", ""), "Kafka bootstrap brokers, comma-separated (default $HIGHWAY_KAFKA); not needed with --dry-run")
	var topics topicFlags
	topics.register(fs)
	var ksec kafkaSecurity
	ksec.register(fs)
	stateDir := fs.String("state-dir", ".highway/connect", "folder of the connectors' state (what was published), one small JSON file per source")
	metricsAddr := fs.String("metrics-addr", "127.0.0.1:9465", "address of the Prometheus /metrics endpoint; empty disables it")
	baseURL := fs.String("base-url", "", "replace the scheme and host of every source's URL, e.g. http://127.0.0.1:8099; default the real endpoints")
	speed := fs.Float64("speed", 1, "poll the built-in sources this many times more often than their cadence (with a simulator at --base-url)")
	partitions := fs.Int("partitions", 2, "partitions of topics this command creates (existing topics are left alone)")
	replay := fs.String("replay", "", "with --dry-run: parse this saved payload instead of fetching")
	dryRun := fs.Bool("dry-run", false, "parse one payload of the --feed's connector and print records (stdout) and rejects (stderr); produce nothing")
	locations := fs.String("locations", "", "TD's detector location CSV, read from this file instead of fetched")
	fetchedAt := fs.String("fetched-at", "", "with --replay: when the payload was fetched (RFC 3339); TD's detector parser uses it to date the 00:00 period")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *speed <= 0 {
		return fmt.Errorf("%w: --speed (%v) must be positive", errUsage, *speed)
	}
	if *replay != "" && !*dryRun {
		return fmt.Errorf("%w: --replay publishes nothing; add --dry-run", errUsage)
	}
	var fetched time.Time
	if *fetchedAt != "" {
		t, err := time.Parse(time.RFC3339, *fetchedAt)
		if err != nil {
			return fmt.Errorf("%w: --fetched-at %q is not an RFC 3339 time like 2026-11-26T08:30:00+08:00", errUsage, *fetchedAt)
		}
		fetched = t
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	cat, _, err := c.catalog()
	if err != nil {
		return err
	}
	reg, err := builtin.New(builtin.Options{BaseURL: *baseURL, Speed: *speed, Logger: log})
	if err != nil {
		return fmt.Errorf("%w: --base-url: %v", errUsage, err)
	}
	sources, err := selectSources(reg.Sources(cat), c.feeds, connectors)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *locations != "" {
		data, err := os.ReadFile(*locations)
		if err != nil {
			return fmt.Errorf("reading --locations: %w", err)
		}
		if err := reg.SetLocations(data); err != nil {
			return fmt.Errorf("--locations %s: %w", *locations, err)
		}
	}
	if *dryRun {
		return dryRunSource(ctx, cat, sources, c.feeds, *replay, fetched, *locations != "", stdout, stderr)
	}

	if *kafka == "" {
		return fmt.Errorf("%w: no Kafka brokers: pass --kafka host:port or set HIGHWAY_KAFKA (or check a payload with --dry-run)", errUsage)
	}
	b, err := ksec.open(ctx, topics.config(*kafka, log))
	if err != nil {
		return err
	}
	defer b.Close()
	if err := ensureTopics(ctx, b, *partitions, topicsOf(cat, sources), log); err != nil {
		return err
	}
	producer := b.NewProducer()
	defer producer.Close()

	promReg := prometheus.NewRegistry()
	promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if *metricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(promReg, promhttp.HandlerOpts{}))
		addr, err := serveHTTP(ctx, *metricsAddr, mux, log)
		if err != nil {
			return err
		}
		log.Info("metrics", "url", "http://"+addr+"/metrics")
	}
	conn := startConnectors(ctx, connectorsConfig{
		catalog: cat, registry: reg, sources: sources, producer: producer, stateDir: *stateDir,
		metrics: poll.NewMetrics(promReg), logger: log, haveLocations: *locations != "",
	})
	go statusLoop(ctx, 10*time.Second, log, conn.status)
	conn.wait()
	log.Info("stopped", conn.status()...)
	return nil
}

// selectSources keeps the sources of the given feeds (all without feeds),
// and of those the ones named (all without names).
func selectSources(all []poll.Source, feeds, names []string) ([]poll.Source, error) {
	sources, err := builtin.Select(all, feeds...)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return sources, nil
	}
	var out []poll.Source
	for _, name := range names {
		i := slices.IndexFunc(sources, func(s poll.Source) bool { return s.Name == name })
		if i < 0 {
			known := make([]string, len(sources))
			for j, s := range sources {
				known[j] = s.Name
			}
			return nil, fmt.Errorf("no connector called %q among those of the selected feeds: %s", name, strings.Join(known, ", "))
		}
		out = append(out, sources[i])
	}
	return out, nil
}

// topicsOf lists the topics and dead-letter topics of the sources' feeds.
func topicsOf(cat *catalog.Catalog, sources []poll.Source) []string {
	var topics []string
	for _, f := range builtin.Covered(sources) {
		if feed := cat.Feed(f); feed != nil {
			topics = append(topics, feed.Topic(), feed.DLQTopic())
		}
	}
	return topics
}

// connectorsConfig is what startConnectors needs.
type connectorsConfig struct {
	catalog  *catalog.Catalog
	registry *builtin.Registry
	sources  []poll.Source
	producer poll.Producer
	stateDir string
	metrics  *poll.Metrics
	logger   *slog.Logger
	// haveLocations says the detector location list is loaded already: it
	// is then neither fetched nor refreshed.
	haveLocations bool
}

// running is a set of connectors at work.
type running struct {
	out     *countingProducer
	sources int
	wg      sync.WaitGroup
}

// startConnectors loads the reference data the sources need (the detector
// location list, tried once before the sources start so that the first
// records have districts, then refreshed in the background), and runs
// every source until ctx ends.
func startConnectors(ctx context.Context, cfg connectorsConfig) *running {
	r := &running{out: &countingProducer{out: cfg.producer}, sources: len(cfg.sources)}
	needsLocations := slices.ContainsFunc(cfg.sources, func(s poll.Source) bool { return s.Name == "td.rawspeedvol" })
	if needsLocations && !cfg.haveLocations {
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := cfg.registry.LoadLocations(lctx); err != nil {
			cfg.logger.Warn("no detector locations yet (retrying in the background): detector records have no district", "err", err)
		}
		cancel()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			cfg.registry.RunReference(ctx)
		}()
	}
	poller := poll.New(poll.Config{Catalog: cfg.catalog, StateDir: cfg.stateDir, Logger: cfg.logger, Metrics: cfg.metrics}, r.out)
	for _, src := range cfg.sources {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			if err := poller.Run(ctx, src); err != nil {
				cfg.logger.Error("connector stopped", "source", src.Name, "err", err)
			}
		}()
		cfg.logger.Info("connector started", "source", src.Name, "url", src.URL, "every", src.Interval, "feeds", strings.Join(src.Feeds, ","))
	}
	return r
}

// status is the connectors' part of a status line.
func (r *running) status() []any {
	return []any{"sources", r.sources, "produced", r.out.records.Load(), "dead_lettered", r.out.rejects.Load()}
}

// wait returns once every connector has stopped.
func (r *running) wait() { r.wg.Wait() }

// countingProducer counts what the connectors produce.
type countingProducer struct {
	out              poll.Producer
	records, rejects atomic.Int64
}

// Produce produces msgs and counts them once Kafka has them.
func (c *countingProducer) Produce(ctx context.Context, msgs ...bus.Message) error {
	if err := c.out.Produce(ctx, msgs...); err != nil {
		return err
	}
	for _, m := range msgs {
		if strings.HasSuffix(m.Topic, ".dlq") {
			c.rejects.Add(1)
		} else {
			c.records.Add(1)
		}
	}
	return nil
}

// dryRunSource parses one payload of the one feed's connector — the file
// replay, or fetched from the source — and prints what would be produced.
func dryRunSource(ctx context.Context, cat *catalog.Catalog, sources []poll.Source, feeds []string, replay string, fetched time.Time, haveLocations bool, stdout, stderr io.Writer) error {
	if len(feeds) != 1 {
		return fmt.Errorf("%w: --dry-run checks one feed: name it with --feed", errUsage)
	}
	if len(sources) != 1 {
		names := make([]string, len(sources))
		for i, s := range sources {
			names[i] = s.Name
		}
		return fmt.Errorf("%w: feed %s has %d connectors (%s): pick one with --connector", errUsage, feeds[0], len(sources), strings.Join(names, ", "))
	}
	src, feed := sources[0], cat.Feed(feeds[0])
	if src.Name == "td.rawspeedvol" && !haveLocations {
		fmt.Fprintln(stderr, "note: no --locations FILE: detector records have no district")
	}
	var (
		payload []byte
		from    = replay
		err     error
	)
	if replay != "" {
		if payload, err = os.ReadFile(replay); err != nil {
			return fmt.Errorf("reading the payload to replay: %w", err)
		}
		from = filepath.Base(replay)
	} else {
		if payload, err = fetchOnce(ctx, src.URL); err != nil {
			return err
		}
		from = src.URL
		if fetched.IsZero() {
			fetched = time.Now()
		}
	}
	res, perr := src.Parse(payload, fetched)
	v := connector.NewValidator(feed)
	defer v.Release()
	res = v.Check(res)
	seen := map[string]bool{}
	repeats := 0
	for _, rec := range res.Records {
		id := rec.Key + "\x00" + eventTimeOf(rec.Value, feed.EventTime)
		if seen[id] {
			repeats++ // the runtime drops it: the same key and event time is already in this payload
			continue
		}
		seen[id] = true
		stdout.Write(rec.Value)
		io.WriteString(stdout, "\n")
	}
	for _, rj := range res.Rejects {
		fmt.Fprintf(stderr, "reject %s: %s\n", rj.Where, rj.Reason)
	}
	summary := fmt.Sprintf("%s: %d record(s), %d reject(s) from %s (connector %s)", feed.Name, len(res.Records)-repeats, len(res.Rejects), from, src.Name)
	if repeats > 0 {
		summary += fmt.Sprintf("; %d repeat(s) of a key and event time already in the payload left out", repeats)
	}
	fmt.Fprintln(stderr, summary)
	if perr != nil {
		fmt.Fprintf(stderr, "the payload could not be read whole: %v\n", perr)
		return errSilentFailure
	}
	if len(res.Rejects) > 0 {
		return errSilentFailure
	}
	return nil
}

// fetchOnce GETs url.
func fetchOnce(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching %s: the server answered %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", url, err)
	}
	return body, nil
}

// eventTimeOf returns the raw JSON of a record's event-time field.
func eventTimeOf(value []byte, field string) string {
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(value, &rec); err != nil {
		return ""
	}
	return string(bytes.TrimSpace(rec[field]))
}
