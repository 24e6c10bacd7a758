package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/store"
)

// Failover times of the cluster run (-cluster), measured beside the chaos:
//
//   - broker failover: from the SIGKILL of a broker to the first
//     acknowledged produce (acks=all) of a record sent after the kill, per
//     partition of a probe topic (one partition per broker, so the killed
//     broker leads one of them as a rule): "led" for the partitions the
//     killed broker led, which need a new leader; "followed" for the
//     others, whose leaders wait for the killed follower to leave the ISR.
//     The probe sends one record to each partition every probeEvery, each
//     on its own, through its own producer (highway's bus.Producer, so the
//     figure includes the client's metadata refresh and retries).
//   - replica catch-up: from the start of a ClickHouse replica that was
//     killed or stopped to the moment it answers (ready), and to the first
//     moment it has nothing left to fetch (caught up: every replicated table
//     of the run's databases on it has its ZooKeeper session, no insert in
//     its queue, and has copied the shard's replication log into its queue
//     up to at most the newest entry, written meanwhile; polled every
//     probeEvery).

const (
	probeEvery   = 20 * time.Millisecond
	probeLimit   = 2 * time.Minute
	catchUpLimit = 3 * time.Minute
)

// brokerFailover is one broker SIGKILL's figures.
type brokerFailover struct {
	broker   int
	led      map[int]time.Duration // partition → kill to first ack
	followed map[int]time.Duration
}

// replicaCatchUp is one replica restart's figures, from its start.
type replicaCatchUp struct {
	replica         string
	ready, caughtUp time.Duration
}

// failovers collects the figures of a run; safe for concurrent use.
type failovers struct {
	mu       sync.Mutex
	brokers  []brokerFailover
	replicas []replicaCatchUp
}

func (f *failovers) addBroker(b brokerFailover) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.brokers = append(f.brokers, b)
}

func (f *failovers) addReplica(r replicaCatchUp) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replicas = append(f.replicas, r)
}

// line is the figures as one line of the report:
//
//	chaos failover broker_led_ms=8912,9120 broker_followed_ms=... replica_ready_ms=... replica_caught_up_ms=...
//
// with min/median/max after each list (ms; "-" where none was measured).
func (f *failovers) line() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var led, followed, ready, caught []time.Duration
	for _, b := range f.brokers {
		for _, d := range b.led {
			led = append(led, d)
		}
		for _, d := range b.followed {
			followed = append(followed, d)
		}
	}
	for _, r := range f.replicas {
		ready = append(ready, r.ready)
		caught = append(caught, r.caughtUp)
	}
	return fmt.Sprintf("chaos failover broker_led_ms=%s broker_followed_ms=%s replica_ready_ms=%s replica_caught_up_ms=%s",
		msList(led), msList(followed), msList(ready), msList(caught))
}

// msList is ds in milliseconds, comma-separated, then (min/median/max).
func msList(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = strconv.FormatInt(d.Milliseconds(), 10)
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("%s(min=%d,median=%d,max=%d)", strings.Join(out, ","), s[0].Milliseconds(), s[len(s)/2].Milliseconds(), s[len(s)-1].Milliseconds())
}

// failoverProbe produces to a topic of its own, one partition per broker.
type failoverProbe struct {
	b     *bus.Bus
	prod  *bus.Producer
	topic string
	keys  map[int][]byte // partition → a key Produce sends there
	log   *slog.Logger
}

// newFailoverProbe creates the probe topic (partitions: one per broker).
func newFailoverProbe(ctx context.Context, b *bus.Bus, topic string, partitions int, log *slog.Logger) (*failoverProbe, error) {
	if err := b.EnsureTopics(ctx, partitions, topic); err != nil {
		return nil, fmt.Errorf("the failover probe's topic: %w", err)
	}
	keys := map[int][]byte{}
	for i := 0; len(keys) < partitions; i++ {
		k := []byte("probe-" + strconv.Itoa(i))
		if p := bus.KeyPartition(k, partitions); keys[p] == nil {
			keys[p] = k
		}
	}
	return &failoverProbe{b: b, prod: b.NewProducer(), topic: topic, keys: keys, log: log}, nil
}

func (f *failoverProbe) close() { f.prod.Close() }

// leaders returns the probe topic's partitions led by broker and the others.
func (f *failoverProbe) leaders(ctx context.Context, broker int) (led, followed []int, err error) {
	ls, err := f.b.Leaders(ctx, f.topic)
	if err != nil {
		return nil, nil, err
	}
	for p, l := range ls {
		if l == broker {
			led = append(led, p)
		} else {
			followed = append(followed, p)
		}
	}
	slices.Sort(led)
	slices.Sort(followed)
	return led, followed, nil
}

// measure sends a record to each partition every probeEvery from now on
// and returns, per partition, the time from killed to the first
// acknowledgement of one of them (partitions not acknowledged within
// probeLimit are left out, and logged).
func (f *failoverProbe) measure(ctx context.Context, killed time.Time, partitions []int) map[int]time.Duration {
	ctx, cancel := context.WithTimeout(ctx, probeLimit)
	defer cancel()
	var (
		mu  sync.Mutex
		out = map[int]time.Duration{}
		wg  sync.WaitGroup
	)
	for _, p := range partitions {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			pctx, done := context.WithCancel(ctx)
			defer done()
			var sends sync.WaitGroup
			defer sends.Wait()
			t := time.NewTicker(probeEvery)
			defer t.Stop()
			for n := 0; ; n++ {
				sends.Add(1)
				go func(n int) {
					defer sends.Done()
					err := f.prod.Produce(pctx, bus.Message{Topic: f.topic, Key: f.keys[p], Value: fmt.Appendf(nil, "%d", n)})
					if err != nil {
						return
					}
					acked := time.Since(killed)
					mu.Lock()
					if _, seen := out[p]; !seen {
						out[p] = acked
					}
					mu.Unlock()
					done()
				}(n)
				select {
				case <-pctx.Done():
					return
				case <-t.C:
				}
			}
		}(p)
	}
	wg.Wait()
	for _, p := range partitions {
		if _, ok := out[p]; !ok {
			f.log.Warn("failover probe: no acknowledged produce", "topic", f.topic, "partition", p, "within", probeLimit)
		}
	}
	return out
}

// killBroker SIGKILLs the broker whose pid ops/kafka/cluster wrote and
// returns the moment of the kill (taken just before the signal is sent).
func killBroker(member string) (time.Time, error) {
	pidFile := memberPidFile("kafka", member)
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return time.Time{}, fmt.Errorf("SIGKILL broker %s: reading its pid: %w", member, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return time.Time{}, fmt.Errorf("SIGKILL broker %s: %s holds %q, not a pid", member, pidFile, data)
	}
	at := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return time.Time{}, fmt.Errorf("SIGKILL broker %s (pid %d): %w", member, pid, err)
	}
	return at, nil
}

// replicaAddrs returns the host:port of each replica (s<shard>r<n>) of the
// cluster, as system.clusters on the server of dsn lists them.
func replicaAddrs(ctx context.Context, dsn, cluster string, replicas []string) (map[string]string, error) {
	st, err := store.Open(ctx, dsn, quietLogger())
	if err != nil {
		return nil, err
	}
	defer st.Close()
	out := map[string]string{}
	for _, name := range replicas {
		var shard, num int
		if _, err := fmt.Sscanf(name, "s%dr%d", &shard, &num); err != nil {
			return nil, fmt.Errorf("replica name %q: want s<shard>r<n>", name)
		}
		rows, err := st.QueryRows(ctx, fmt.Sprintf("SELECT host_address, toString(port) FROM system.clusters WHERE cluster = '%s' AND shard_num = %d AND replica_num = %d", cluster, shard, num))
		if err != nil || len(rows) != 1 {
			return nil, fmt.Errorf("replica %s of cluster %s in system.clusters: %v (%d rows)", name, cluster, err, len(rows))
		}
		out[name] = fmt.Sprintf("%v:%v", rows[0][0], rows[0][1])
	}
	return out, nil
}

// waitCaughtUp polls the replica at addr until it has nothing left to
// fetch for the replicated tables of the databases starting with prefix,
// and returns when that was (zero when not within catchUpLimit).
func waitCaughtUp(ctx context.Context, addr, prefix string) time.Time {
	ctx, cancel := context.WithTimeout(ctx, catchUpLimit)
	defer cancel()
	q := "SELECT toUInt64(count()), toUInt64(countIf(is_session_expired OR is_readonly OR inserts_in_queue > 0 OR log_pointer < log_max_index)) " +
		"FROM system.replicas WHERE startsWith(database, '" + prefix + "')"
	var r *store.Store
	defer func() {
		if r != nil {
			r.Close()
		}
	}()
	for ; ctx.Err() == nil; sleep(ctx, probeEvery) {
		if r == nil {
			var err error
			if r, err = store.Open(ctx, "clickhouse://"+addr+"/default", quietLogger()); err != nil {
				r = nil
				continue
			}
		}
		rows, err := r.QueryRows(ctx, q)
		if err != nil || len(rows) != 1 {
			continue
		}
		tables, behind := fmt.Sprint(rows[0][0]), fmt.Sprint(rows[0][1])
		if tables != "0" && behind == "0" {
			return time.Now()
		}
	}
	return time.Time{}
}
