package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cityhighway/highway/analytics/jobs"
	"github.com/cityhighway/highway/analytics/scheduler"
	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/quality"
	"github.com/cityhighway/highway/highway/store"
)

var nodeID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func runSchedule(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("schedule", "schedule --id ID [--bootstrap | --join ADDR] [flags]", `
Runs one node of the analytics scheduler, a hashicorp/raft cluster that runs
every slot of every job exactly once. Start the first node with --bootstrap,
the others with --join and the HTTP address of any member; a restarted node
finds its state in --data-dir and needs neither. The leader assigns each due
slot to the least busy live node in the log before it runs; results go to
ClickHouse keyed by slot, so a retried slot replaces its output.

HTTP (--http-addr): /api/v1/cluster, /api/v1/jobs..., /metrics, and the
control plane's /api/v1/control (tokens and grants, read by 'highway serve
--control-plane' and changed by 'highway token' and 'highway grant', only
for who sends --control-secret, which is required). Control plane changes asked of
this node are written to its audit log in ClickHouse.
The jobs of the catalogue (built-in and --specs) are put into the cluster
whenever a node becomes leader; --jobs picks some of them ("none" for none).`, stderr)
	var c common
	c.register(fs)
	id := fs.String("id", "", "this node's ID, stable across restarts (letters, digits, . _ -)")
	raftAddr := fs.String("raft-addr", "127.0.0.1:7000", "host:port of this node's raft transport")
	httpAddr := fs.String("http-addr", "127.0.0.1:7080", "host:port of this node's HTTP API and /metrics")
	dataDir := fs.String("data-dir", "", "raft log, stable store and snapshots (default .highway/schedule/<id>)")
	bootstrap := fs.Bool("bootstrap", false, "start a new cluster with this node, if it has no state")
	join := fs.String("join", "", "HTTP address (host:port) of a member to join, if this node has no state")
	dsn := fs.String("clickhouse", envOr("HIGHWAY_CLICKHOUSE", ""), "ClickHouse DSN, clickhouse://host:9000/database (default $HIGHWAY_CLICKHOUSE)")
	cluster := clickhouseCluster(fs)
	election := fs.Duration("election-timeout", time.Second, "raft heartbeat and election timeout")
	lease := fs.Duration("lease", 15*time.Second, "how long an assigned slot's lease lasts without renewal")
	bucket := fs.Duration("quality-bucket", quality.DefaultBucket, "bucket of the quality ledger job ("+jobs.QualityJobName+", run with all the catalogue's jobs, not with --jobs); 0 leaves the job out")
	kafka := fs.String("kafka", envOr("HIGHWAY_KAFKA", ""), "Kafka bootstrap brokers, for the quality ledger's reconciliation of topics against tables (default $HIGHWAY_KAFKA); without it the ledger has no reconciliation")
	secret := fs.String("control-secret", envOr("HIGHWAY_CONTROL_SECRET", ""), "bearer token the control plane's routes (tokens, grants) require; the same on every node, serve, token and grant (default $HIGHWAY_CONTROL_SECRET); required ('highway dev' makes its own)")
	var ksec kafkaSecurity
	ksec.register(fs)
	var only listFlag
	fs.Var(&only, "jobs", "catalogue jobs to put into the cluster (repeatable or comma-separated; default all, \"none\" for none)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case !nodeID.MatchString(*id):
		return fmt.Errorf("%w: --id %q: give a node ID of letters, digits, '.', '_' and '-'", errUsage, *id)
	case *bootstrap && *join != "":
		return fmt.Errorf("%w: --bootstrap and --join %s: a node either starts a cluster or joins one", errUsage, *join)
	case *dsn == "":
		return errNoClickHouse
	case *secret == "":
		return needSecret("schedule")
	}
	if *dataDir == "" {
		*dataDir = filepath.Join(".highway", "schedule", *id)
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	cat, _, err := c.catalog()
	if err != nil {
		return err
	}
	catJobs, err := pickJobs(cat, only)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, *dsn, log, cluster()...)
	if err != nil {
		return err
	}
	defer st.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	runner := jobs.NewRunner(st, log)
	if *bucket > 0 && len(only) == 0 {
		lc := quality.Config{Store: st, Catalog: cat, Bucket: *bucket, Logger: log}
		if *kafka != "" {
			b, err := ksec.open(ctx, bus.Config{Brokers: strings.Split(*kafka, ","), Logger: log})
			if err != nil {
				return err
			}
			defer b.Close()
			lc.Offsets = b
		}
		runner.WithLedger(quality.NewLedger(lc))
		catJobs = append(catJobs, jobs.QualityJob(*bucket, qualityDelay(*bucket)))
	}
	al, err := st.OpenAuditLog(ctx, store.AuditConfig{Logger: log, Server: "schedule-" + *id})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = al.Close(sctx)
	}()
	node, err := scheduler.New(scheduler.Config{
		ControlSecret: *secret, Audit: al,
		ID: *id, RaftAddr: *raftAddr, HTTPAddr: *httpAddr, DataDir: *dataDir, Bootstrap: *bootstrap,
		Runner: runner, Watermarks: jobs.NewWatermarks(st, cat), Catalog: cat, Jobs: catJobs,
		ElectionTimeout: *election, Lease: *lease, Logger: log, RaftLog: stderr, Registerer: reg,
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", node.Handler())
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if _, err := serveHTTP(ctx, *httpAddr, mux, log); err != nil {
		_ = node.Close()
		return err
	}
	node.Start(ctx)
	log.Info("scheduler node started", "id", *id, "raft", *raftAddr, "http", *httpAddr, "data", *dataDir, "fresh", node.Fresh())
	if node.Fresh() && *join != "" {
		if err := joinCluster(ctx, *join, *id, *raftAddr, *httpAddr); err != nil {
			_ = node.Close()
			return err
		}
		log.Info("joined the cluster", "via", *join)
	} else if node.Fresh() && !*bootstrap {
		log.Warn("this node has no state: start it with --bootstrap or --join ADDR, or add it from a member")
	}
	<-ctx.Done()
	log.Info("stopping the scheduler node")
	return node.Close()
}

// pickJobs returns the catalogue jobs named, all of them without names,
// none for "none".
func pickJobs(cat *catalog.Catalog, names []string) ([]*catalog.Job, error) {
	if slices.Equal(names, []string{"none"}) {
		return nil, nil
	}
	if len(names) == 0 {
		return cat.Jobs(), nil
	}
	var out []*catalog.Job
	for _, n := range names {
		j := cat.Job(n)
		if j == nil {
			var known []string
			for _, j := range cat.Jobs() {
				known = append(known, j.Name)
			}
			return nil, fmt.Errorf("%w: --jobs: no job called %q; known jobs: %s", errUsage, n, strings.Join(known, ", "))
		}
		out = append(out, j)
	}
	return out, nil
}

// joinCluster asks the member at addr to add this node, until it answers
// yes or ctx ends (the cluster may be electing a leader).
func joinCluster(ctx context.Context, addr, id, raftAddr, httpAddr string) error {
	body, _ := json.Marshal(map[string]string{"id": id, "raft": raftAddr, "http": httpAddr})
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/api/v1/cluster/join", bytes.NewReader(body))
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("joining the cluster via %s: %w", addr, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
