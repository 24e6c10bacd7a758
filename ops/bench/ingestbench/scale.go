package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
)

// runScale is -mode scale (ops/bench/ingest --cluster): highway's rows/s
// into the single server (-kafka, -clickhouse) against the cluster
// (-cluster-kafka, -cluster-clickhouse) in the same run, each draining its
// own pre-filled topic of -rows records, and on the cluster 1 processor
// against 2 in one consumer group. The last line of stdout is
//
//	ingest_cluster rows=N single=R cluster=R cluster_2proc=R ratio_cluster=X ratio_2proc=Y
func runScale(ctx context.Context, o options, log *slog.Logger) error {
	cl := o.storeCluster
	o.storeCluster = "" // the single side: no ON CLUSTER, no --clickhouse-cluster
	single, err := newEnv(ctx, o, log)
	if single != nil {
		defer single.close()
	}
	if err != nil {
		return err
	}
	co := o
	co.kafka, co.clickhouse, co.storeCluster = o.clusterKafka, o.clusterClickhouse, cl
	if cl != "" {
		co.childFlags = strings.TrimSpace(o.childFlags + " --clickhouse-cluster " + cl)
	}
	cluster, err := newEnv(ctx, co, log)
	if cluster != nil {
		defer cluster.close()
	}
	if err != nil {
		return fmt.Errorf("the cluster: %w", err)
	}
	var sizes [2]int64
	for i, e := range []*env{single, cluster} {
		src := e.feeds[roleHighway]
		if err := e.bus.EnsureTopics(ctx, o.partitions, src.Topic(), src.DLQTopic()); err != nil {
			return err
		}
		log.Info("filling the topic", "kafka", e.o.kafka, "topic", src.Topic(), "rows", o.rows, "partitions", o.partitions, "load", loadavg())
		if err := e.fill(ctx, src.Topic(), o.rows); err != nil {
			return err
		}
		if sizes[i], err = e.topicSize(ctx, src.Topic()); err != nil {
			return err
		}
		e.quiesce(ctx)
	}
	var best [3]throughput
	for a := 1; a <= o.repeat; a++ {
		for k, m := range []struct {
			e     *env
			procs int
			what  string
			n     int64
		}{{single, 1, "single server, 1 processor", sizes[0]}, {cluster, 1, "cluster, 1 processor", sizes[1]}, {cluster, 2, "cluster, 2 processors", sizes[1]}} {
			log.Info("highway drains the topic", "into", m.what, "attempt", a, "rows", m.n, "load", loadavg())
			t, err := m.e.measureProcessors(ctx, m.e.feeds[roleHighway], m.n, m.procs, 10*a+k)
			if err != nil {
				return fmt.Errorf("%s: %w", m.what, err)
			}
			log.Info("drained", "into", m.what, "attempt", a, "rows", t.Rows, "took", t.Took.Round(time.Millisecond), "rate", t.Rate, "load", t.Load)
			if t.Rate > best[k].Rate {
				best[k] = t
			}
			m.e.quiesce(ctx)
		}
	}
	fmt.Printf("single server (1 broker, 1 ClickHouse): %d rows/s\ncluster (%s; %s): %d rows/s with 1 processor, %d with 2\n",
		best[0].Rate, o.clusterKafka, o.clusterClickhouse, best[1].Rate, best[2].Rate)
	fmt.Printf("ingest_cluster rows=%d single=%d cluster=%d cluster_2proc=%d ratio_cluster=%.2f ratio_2proc=%.2f\n",
		o.rows, best[0].Rate, best[1].Rate, best[2].Rate, ratio(best[1].Rate, best[0].Rate), ratio(best[2].Rate, best[1].Rate))
	return nil
}

// measureProcessors runs procs `highway process` children in one consumer
// group on feed's pre-filled topic until its (new) table holds n rows.
func (e *env) measureProcessors(ctx context.Context, feed *catalog.Feed, n int64, procs, attempt int) (throughput, error) {
	if err := e.dropTable(ctx, feed.Table()); err != nil {
		return throughput{}, err
	}
	var children []*child
	defer func() {
		for _, c := range children {
			c.stop()
		}
	}()
	for i := range procs {
		c, err := startHighway(e.o.highway, e.childArgs(groupHighway, feed, attempt), filepath.Join(e.o.work, fmt.Sprintf("scale-%d-%d.log", attempt, i+1)))
		if err != nil {
			return throughput{}, err
		}
		children = append(children, c)
	}
	return e.waitRows(ctx, feed.Table(), n, children[0].Started, drainTimeout(n), func(int64) error {
		for _, c := range children {
			if !c.alive() {
				return c.failure()
			}
		}
		return nil
	})
}

// ratio is a/b, 0 when b is.
func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
