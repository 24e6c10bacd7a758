package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cityhighway/highway/highway/store"
)

// restartMember stops one member of a cluster and starts it again after
// down: for "kafka" a random broker of ops/kafka/cluster, SIGKILLed (a
// broker that dies, not one that hands its partitions over); for
// "clickhouse" a random replica of ops/clickhouse/cluster, SIGKILLed when
// hard, else stopped with SIGTERM. The others go on: the processor and the
// producer must find the partitions' new leaders and the replicas must
// catch up through ZooKeeper. With a failover probe (failover.go) a killed
// broker stays down until the probe has its figures (or down, when that is
// longer), so they time a leader change, not the broker's return; a
// replica's figures are taken after it is back.
func (s services) restartMember(ctx context.Context, name string, down time.Duration, hard bool) error {
	var member string
	switch name {
	case "kafka":
		n := brokerCount()
		member = strconv.Itoa(1 + s.rng.IntN(n))
		hard = true
	case "clickhouse":
		member = s.replicas[s.rng.IntN(len(s.replicas))]
	default:
		return fmt.Errorf("restart %s: not a cluster of ops/", name)
	}
	verb := "stop"
	if hard {
		verb = "kill"
	}
	var probed chan brokerFailover
	killed := time.Now()
	if name == "kafka" && s.probe != nil {
		broker, _ := strconv.Atoi(member)
		led, followed, err := s.probe.leaders(ctx, broker)
		if err != nil {
			return fmt.Errorf("failover probe: the leaders before killing broker %s: %w", member, err)
		}
		if killed, err = killBroker(member); err != nil {
			return err
		}
		probed = make(chan brokerFailover, 1)
		go func() {
			got := s.probe.measure(ctx, killed, append(slices.Clone(led), followed...))
			f := brokerFailover{broker: broker, led: map[int]time.Duration{}, followed: map[int]time.Duration{}}
			for p, d := range got {
				if slices.Contains(led, p) {
					f.led[p] = d
				} else {
					f.followed[p] = d
				}
			}
			probed <- f
		}()
	} else if err := s.script(ctx, name, "cluster", verb, member); err != nil {
		return err
	}
	if hard {
		waitGone(ctx, memberPidFile(name, member))
	}
	s.log.Info("chaos: "+name+" member down", "member", member, "how", verb)
	sleep(ctx, down)
	if probed != nil {
		f := <-probed
		s.figures.addBroker(f)
		s.log.Info("chaos: broker failover (SIGKILL to first acknowledged produce)", "broker", member,
			"led_partitions", fmtDurations(f.led), "followed_partitions", fmtDurations(f.followed))
	}
	began := time.Now()
	if err := s.script(ctx, name, "cluster", "start", member); err != nil {
		return err
	}
	ready := time.Since(began)
	s.log.Info("chaos: "+name+" member is back", "member", member, "start_took", ready.Round(100*time.Millisecond),
		"down_total", time.Since(killed).Round(100*time.Millisecond))
	if addr, ok := s.replicaAddrs[member]; name == "clickhouse" && ok {
		at := waitCaughtUp(ctx, addr, s.dbPrefix)
		if at.IsZero() {
			s.log.Warn("chaos: replica not caught up", "member", member, "within", catchUpLimit)
			return nil
		}
		s.figures.addReplica(replicaCatchUp{replica: member, ready: ready, caughtUp: at.Sub(began)})
		s.log.Info("chaos: replica caught up (from its start)", "member", member, "ready_ms", ready.Milliseconds(), "caught_up_ms", at.Sub(began).Milliseconds())
	}
	return nil
}

// fmtDurations is "partition:ms ..." in partition order.
func fmtDurations(m map[int]time.Duration) string {
	ps := slices.Sorted(maps.Keys(m))
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = fmt.Sprintf("%d:%dms", p, m[p].Milliseconds())
	}
	return strings.Join(out, " ")
}

// brokerCount is KAFKA_BROKERS, as ops/kafka/cluster reads it (default 3).
func brokerCount() int {
	if n, err := strconv.Atoi(os.Getenv("KAFKA_BROKERS")); err == nil && n > 0 {
		return n
	}
	return 3
}

// memberPidFile is where ops/<name>/cluster keeps a member's pid.
func memberPidFile(name, member string) string {
	run := os.Getenv("HIGHWAY_RUN")
	if name == "kafka" {
		return filepath.Join(run, "kafka-cluster", "broker-"+member, "kafka.pid")
	}
	return filepath.Join(run, "clickhouse-cluster", member, "clickhouse.pid")
}

// waitGone waits, at most 10 s, until the process of a pid file has exited.
func waitGone(ctx context.Context, pidFile string) {
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil && ctx.Err() == nil && time.Now().Before(deadline) {
		sleep(ctx, 50*time.Millisecond)
	}
}

// syncReplicas waits until every replica of the cluster holds every part
// its shard was sent of db.table (SYSTEM SYNC REPLICA on each), so the
// counts that follow, through the Distributed table, see all rows whichever
// replica of a shard they read.
func syncReplicas(ctx context.Context, st *store.Store, cluster, db, table string, log *slog.Logger) error {
	rows, err := st.QueryRows(ctx, "SELECT host_address, toString(port) FROM system.clusters WHERE cluster = '"+cluster+"'")
	if err != nil {
		return fmt.Errorf("listing the replicas of cluster %s: %w", cluster, err)
	}
	var addrs []string
	for _, r := range rows {
		addrs = append(addrs, fmt.Sprintf("%v:%v", r[0], r[1]))
	}
	for _, addr := range addrs {
		r, err := store.Open(ctx, "clickhouse://"+addr+"/"+db, quietLogger())
		if err != nil {
			return fmt.Errorf("replica %s: %w", addr, err)
		}
		began := time.Now()
		err = r.Exec(ctx, "SYSTEM SYNC REPLICA "+db+"."+table)
		r.Close()
		if err != nil {
			return fmt.Errorf("SYSTEM SYNC REPLICA %s.%s on %s: %w", db, table, addr, err)
		}
		log.Info("replica in sync", "replica", addr, "table", db+"."+table, "took", time.Since(began).Round(time.Millisecond))
	}
	return nil
}
