package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/cityhighway/highway/connectors/builtin"
	"github.com/cityhighway/highway/connectors/poll"
	"github.com/cityhighway/highway/connectors/sim"
	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dev", "dev [flags]", `
Runs the whole platform on this machine with no set-up: an embedded Kafka
(in this process), a ClickHouse (the one at --clickhouse, else a private
clickhouse-server started here with its data under --data-dir), a source
simulator that serves every built-in source's payload in its real format
(HKO JSON, TD XML and CSV, EPD RSS) on a free port of 127.0.0.1 with the
city's daily rhythms, the real connectors polling it at the sources'
cadence (--speed to go faster; connector specs in --specs poll their real
URLs), the processors, the HTTP API and the open-data portal. Open
http://127.0.0.1:8080/ in a browser for the city dashboard, or try:

  curl -s http://127.0.0.1:8080/api/v1/feeds

It logs a status line every few seconds and stops cleanly on Ctrl-C. The
embedded Kafka is for development only; production and tests use a real
Apache Kafka (see ops/).`, stderr)
	var c common
	c.register(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "address of the HTTP API")
	dsn := fs.String("clickhouse", envOr("HIGHWAY_CLICKHOUSE", ""), "DSN of a running ClickHouse; default: start clickhouse-server here (default $HIGHWAY_CLICKHOUSE)")
	cluster := clickhouseCluster(fs)
	chPort := fs.Int("clickhouse-port", 19100, "native port of the ClickHouse started here (HTTP port is one more)")
	dataDir := fs.String("data-dir", ".highway/dev", "folder for the local ClickHouse's data and logs")
	kafkaPort := fs.Int("kafka-port", 9092, "port of the embedded Kafka on 127.0.0.1; 0 picks a free one")
	speed := fs.Float64("speed", 1, "run the simulated feeds this many times faster than their real cadence")
	badShare := fs.Float64("bad-share", 0.002, "share of simulated items (a station, a lane, a block) made malformed or out of range on purpose, to exercise the dead-letter topics; 0 disables")
	status := fs.Duration("status-every", 5*time.Second, "how often to log a status line")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *speed <= 0 || *badShare < 0 || *badShare > 1 || *status <= 0 {
		return fmt.Errorf("%w: --speed (%v) and --status-every (%s) must be positive and --bad-share (%v) between 0 and 1", errUsage, *speed, *status, *badShare)
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	cat, feeds, err := c.catalog()
	if err != nil {
		return err
	}

	// ClickHouse first: it is the part most likely to be missing.
	var openDSN, readerDSN string
	if *dsn == "" {
		local, err := store.StartLocal(ctx, filepath.Join(*dataDir, "clickhouse"), *chPort, log)
		if errors.Is(err, store.ErrNoServerBinary) {
			return fmt.Errorf("no ClickHouse: %w", err)
		}
		if err != nil {
			return err
		}
		defer local.Stop()
		*dsn, openDSN, readerDSN = local.DSN, local.OpenReaderDSN, local.ReaderDSN
	}
	st, err := store.Open(ctx, *dsn, log, cluster()...)
	if err != nil {
		return err
	}
	defer st.Close()
	log.Info("ClickHouse connected", "dsn", *dsn, "version", st.Version().String())
	// The API's queries run as the local server's read-only users: open
	// data and unrestricted queries as one denied the restricted database.
	// With --clickhouse they run as its DSN's user (rely on the guard).
	open, reader := st, st
	if openDSN != "" {
		if open, err = store.Open(ctx, openDSN, log, cluster()...); err != nil {
			return fmt.Errorf("connecting as %s: %w", store.OpenReaderUser, err)
		}
		defer open.Close()
		if err := open.CheckDenied(ctx, st.Layout().Restricted); err != nil {
			return fmt.Errorf("the local ClickHouse's %s user: %w", store.OpenReaderUser, err)
		}
		if reader, err = store.Open(ctx, readerDSN, log, cluster()...); err != nil {
			return fmt.Errorf("connecting as %s: %w", store.ReaderUser, err)
		}
		defer reader.Close()
	} else {
		log.Warn("--clickhouse given: the API's queries run as its user; only the SQL guard keeps restricted rows from callers without a grant")
	}

	// Kafka keeps its log beside ClickHouse's data: rows in ClickHouse carry
	// Kafka offsets, which must still mean the same records after a restart.
	kafka, err := bus.StartEmbedded(bus.EmbeddedConfig{Port: *kafkaPort, DataDir: filepath.Join(*dataDir, "kafka")})
	if err != nil {
		return fmt.Errorf("%w (is port %d taken? pick another with --kafka-port)", err, *kafkaPort)
	}
	defer kafka.Close()
	log.Info("embedded Kafka started", "brokers", kafka.Brokers())
	b, err := bus.New(bus.Config{Brokers: kafka.Brokers(), Logger: log, SessionTimeout: 6 * time.Second})
	if err != nil {
		return err
	}
	defer b.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p, err := startProcessing(ctx, b, st, cat, feeds, processorOptions{groupPrefix: "highway", maxRows: catalog.DefaultBatch.Rows, maxWait: catalog.DefaultBatch.MaxWait, partitions: 2}, reg, log)
	if err != nil {
		return err
	}

	producer := b.NewProducer()
	defer producer.Close()
	conn, simulator, err := startSimulatedSources(ctx, cat, feeds, *speed, orNegative(*badShare), filepath.Join(*dataDir, "connect"), producer, reg, log)
	if err != nil {
		return err
	}

	// The scheduler with the built-in jobs and the quality ledger (dev_quality.go).
	startDeadLetterCopy(ctx, b, st, feeds, log)
	secret, err := randomSecret()
	if err != nil {
		return err
	}
	schedURL, stopScheduler, err := startDevScheduler(ctx, cat, st, b, *speed, *dataDir, secret, reg, log)
	if err != nil {
		return err
	}
	defer stopScheduler()
	reg.MustRegister(qualityCollector(cat, st, log))

	srv, token, closeAPI, err := devAPI(ctx, cat, st, open, reader, b, producer, reg, log, *dataDir, schedURL, secret)
	if err != nil {
		return err
	}
	defer closeAPI()
	site, err := withPortal(srv, log)
	if err != nil {
		return err
	}
	bound, err := serveHTTP(ctx, *addr, site, log)
	if err != nil {
		return err
	}
	log.Info("highway dev is up", "api", "http://"+bound+"/api/v1/feeds", "metrics", "http://"+bound+"/metrics", "feeds", len(feeds), "speed", *speed)
	fmt.Fprintf(stdout, "\nhighway dev: the city and its open data at http://%s/ , the API at http://%s/api/v1/feeds — Ctrl-C stops\n"+
		"demo department %s, token (new at each start):\n  export HIGHWAY_TOKEN=%s\n"+
		"  curl -s -H \"Authorization: Bearer $HIGHWAY_TOKEN\" http://%s/api/v1/feeds\n"+
		"  curl -s -H \"Authorization: Bearer $HIGHWAY_TOKEN\" -d '{\"sql\":\"SELECT count() FROM td_traffic_detectors\"}' http://%s/api/v1/query\n"+
		"  curl -s http://%s/open/v1/feeds\n\n", bound, bound, demoDepartment, token, bound, bound, bound)

	go statusLoop(ctx, *status, log, func() []any {
		t := p.totals()
		return []any{"produced", conn.out.records.Load() + simulator.Produced(), "dead_lettered_by_connectors", conn.out.rejects.Load(), "in", t.In, "written", t.Written, "rejected", t.Rejected, "handed_back", t.HandedBack, "lag", t.Lag}
	})
	<-ctx.Done()
	log.Info("stopping")
	cancel()
	err = p.wait()
	t := p.totals()
	conn.wait()
	log.Info("stopped", "produced", conn.out.records.Load()+simulator.Produced(), "written", t.Written, "rejected", t.Rejected)
	return err
}

// startSimulatedSources serves every built-in source's payload in its real
// format from the HTTP simulator (connectors/sim) on a free port of
// 127.0.0.1, and runs the built-in connectors and the connector specs of
// the catalogue (the poll runtime, as in production; built-in intervals
// divided by speed). Feeds that no connector makes are fed directly by the
// record simulator. State is kept in stateDir.
func startSimulatedSources(ctx context.Context, cat *catalog.Catalog, feeds []*catalog.Feed, speed, badShare float64, stateDir string, producer poll.Producer, reg prometheus.Registerer, log *slog.Logger) (*running, *sim.Simulator, error) {
	addr, err := serveHTTP(ctx, "127.0.0.1:0", sim.NewServer(sim.ServerConfig{Speed: speed, BadShare: badShare}), log)
	if err != nil {
		return nil, nil, fmt.Errorf("starting the source simulator: %w", err)
	}
	registry, err := builtin.New(builtin.Options{BaseURL: "http://" + addr, Speed: speed, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	// Connector specs (httppoll) poll their real URLs at their own cadence:
	// the simulator serves only the built-in sources' payloads.
	real, _ := builtin.New(builtin.Options{Logger: log})
	all := append(registry.Builtin(), real.Specs(cat)...)
	covered := builtin.Covered(all)
	var connected []string
	var direct []*catalog.Feed
	for _, f := range feeds {
		if slices.Contains(covered, f.Name) {
			connected = append(connected, f.Name)
		} else {
			direct = append(direct, f)
		}
	}
	var sources []poll.Source
	if len(connected) > 0 {
		if sources, err = builtin.Select(all, connected...); err != nil {
			return nil, nil, err
		}
	}
	log.Info("source simulator serving the real formats", "url", "http://"+addr, "connectors", len(sources), "feeds_simulated_directly", len(direct))
	conn := startConnectors(ctx, connectorsConfig{
		catalog: cat, registry: registry, sources: sources, producer: producer, stateDir: stateDir,
		metrics: poll.NewMetrics(reg), logger: log,
	})
	simulator := sim.New(sim.Config{Feeds: direct, Speed: speed, BadShare: badShare, Logger: log}, producer)
	go func() { _ = simulator.Run(ctx) }()
	return conn, simulator, nil
}

// orNegative maps 0 (the flag's "disabled") to the simulator's "disabled".
func orNegative(v float64) float64 {
	if v == 0 {
		return -1
	}
	return v
}
