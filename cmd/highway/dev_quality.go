package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cityhighway/highway/analytics/jobs"
	"github.com/cityhighway/highway/analytics/scheduler"
	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/quality"
	"github.com/cityhighway/highway/highway/store"
)

// devBucket is the quality ledger's bucket in highway dev: an hour divided
// by the speed, at least a minute, so `--speed 60` fills a bucket a minute.
func devBucket(speed float64) time.Duration {
	return max(time.Duration(float64(time.Hour)/speed), time.Minute).Truncate(time.Second)
}

// qualityDelay is how long after a bucket's end the ledger job runs, for
// the rows of its last interval to land: a bucket, at most 10m (an hour's
// bucket runs at :10; in highway dev, where an hourly source publishes every
// minute with times a minute old, a minute's bucket a minute after its end).
func qualityDelay(bucket time.Duration) time.Duration {
	return min(max(bucket, 15*time.Second), 10*time.Minute)
}

// startDevScheduler runs a one-node scheduler in this process: raft over
// an in-memory transport with a fixed address (its log and snapshots in
// dataDir, so runs and cursors survive restarts), the catalogue's jobs and
// the quality ledger job, and its HTTP API on a free port of 127.0.0.1,
// whose URL it returns (the API proxies the jobs routes there). On a fresh
// start it triggers each catalogue job's last ended slot, so the jobs show
// a run within minutes instead of after their first hour. The node is
// also the control plane of the dev API (tokens and grants), behind secret.
func startDevScheduler(ctx context.Context, cat *catalog.Catalog, st *store.Store, b *bus.Bus, speed float64, dataDir, secret string, reg prometheus.Registerer, log *slog.Logger) (*url.URL, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("listening for the scheduler's HTTP API: %w", err)
	}
	bucket := devBucket(speed)
	ledger := quality.NewLedger(quality.Config{Store: st, Catalog: cat, Offsets: b, Bucket: bucket, Speed: speed, Logger: log})
	_, trans := raft.NewInmemTransport("highway-dev")
	all := append(cat.Jobs(), jobs.QualityJob(bucket, qualityDelay(bucket)))
	al, err := st.OpenAuditLog(ctx, store.AuditConfig{Logger: log, Server: "dev-scheduler"})
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	node, err := scheduler.New(scheduler.Config{
		ControlSecret: secret, Audit: al,
		ID: "dev", HTTPAddr: ln.Addr().String(), DataDir: filepath.Join(dataDir, "schedule"), Bootstrap: true, Transport: trans,
		Runner: jobs.NewRunner(st, log).WithLedger(ledger), Watermarks: jobs.NewWatermarks(st, cat), Catalog: cat, Jobs: all,
		Logger: log, Registerer: reg,
	})
	if err != nil {
		ln.Close()
		_ = al.Close(ctx)
		return nil, nil, err
	}
	srv := &http.Server{Handler: node.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fresh := node.Fresh()
	node.Start(ctx)
	u := &url.URL{Scheme: "http", Host: ln.Addr().String()}
	log.Info("scheduler started (one node)", "http", u.String(), "jobs", len(all), "quality_bucket", bucket, "fresh", fresh)
	if fresh {
		go triggerLastSlots(ctx, u, cat.Jobs(), log)
	}
	stop := func() {
		_ = srv.Close()
		if err := node.Close(); err != nil {
			log.Warn("stopping the scheduler", "err", err)
		}
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = al.Close(sctx)
	}
	return u, stop, nil
}

// triggerLastSlots asks the scheduler at u to run the last ended slot of
// each job, retrying while it elects itself and puts the jobs in.
func triggerLastSlots(ctx context.Context, u *url.URL, js []*catalog.Job, log *slog.Logger) {
	for _, j := range js {
		for try := 0; try < 60 && ctx.Err() == nil; try++ {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String()+"/api/v1/jobs/"+j.Name+"/trigger", nil)
			if err != nil {
				return
			}
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode < 300 {
					log.Info("triggered the last ended slot of a job", "job", j.Name)
					break
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}
}

// startDeadLetterCopy copies the feeds' dead letters into ClickHouse for
// the quality ledger (quality.DeadLetterCopier) until ctx ends.
func startDeadLetterCopy(ctx context.Context, b *bus.Bus, st *store.Store, feeds []*catalog.Feed, log *slog.Logger) {
	c := &quality.DeadLetterCopier{Source: b, Sink: st, Feeds: feeds, Logger: log}
	go func() { _ = c.Run(ctx) }()
}

// qualityCollector exports the ledger's figures of the catalogue's feeds.
func qualityCollector(cat *catalog.Catalog, st *store.Store, log *slog.Logger) prometheus.Collector {
	return quality.NewCollector(&quality.Reader{Store: st}, cat.Feeds, 5*time.Second, log)
}
