package bus

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/segmentio/kafka-go"
)

// MaxDerivedReplicationFactor is the replication factor topics get when
// Config.ReplicationFactor is 0 and the cluster has at least this many
// brokers: each record on three brokers, so one can die and another be
// restarted while producers with acks=all go on.
const MaxDerivedReplicationFactor = 3

// replication is how the topics this package creates are replicated.
type replication struct {
	factor    int // replication factor
	minInsync int // min.insync.replicas; 0 leaves the broker's default
	why       string
}

// topicReplication says how topics are replicated on a cluster of brokers
// brokers, given the configured factor and minInsync (0 = derive). Derived:
// the factor is min(3, brokers) and min.insync.replicas is factor-1 when the
// factor is 3 or more (a write is then on two brokers before it is
// acknowledged, and one broker may be down), else the broker's default.
func topicReplication(brokers, factor, minInsync int) (replication, error) {
	r := replication{factor: factor, minInsync: minInsync}
	switch {
	case factor < 0 || minInsync < 0:
		return r, fmt.Errorf("bus: replication factor %d and min.insync.replicas %d must not be negative (0 derives them from the cluster)", factor, minInsync)
	case factor == 0:
		r.factor = max(1, min(MaxDerivedReplicationFactor, brokers))
		r.why = fmt.Sprintf("replication factor min(%d, %d brokers)", MaxDerivedReplicationFactor, brokers)
	default:
		r.why = "replication factor configured"
	}
	switch {
	case minInsync > r.factor:
		return r, fmt.Errorf("bus: min.insync.replicas %d is more than the replication factor %d: every acks=all produce would fail", minInsync, r.factor)
	case minInsync == 0 && r.factor >= 3:
		r.minInsync = r.factor - 1
		r.why += ", min.insync.replicas = replication factor - 1"
	case minInsync == 0:
		r.why += ", min.insync.replicas the broker's default"
	default:
		r.why += ", min.insync.replicas configured"
	}
	return r, nil
}

// configEntries are the topic configs of r for a CreateTopics request.
func (r replication) configEntries() []kafka.ConfigEntry {
	if r.minInsync == 0 {
		return nil
	}
	return []kafka.ConfigEntry{{ConfigName: "min.insync.replicas", ConfigValue: strconv.Itoa(r.minInsync)}}
}

// replicator remembers the replication of a Bus's topics once it is known,
// and logs it once.
type replicator struct {
	mu    sync.Mutex
	known *replication
}

// replication returns how b's topics are replicated, asking the cluster how
// many brokers it has the first time (a failed ask is asked again next time).
func (b *Bus) replication(ctx context.Context) (replication, error) {
	b.repl.mu.Lock()
	defer b.repl.mu.Unlock()
	if b.repl.known != nil {
		return *b.repl.known, nil
	}
	brokers := 0
	if b.cfg.ReplicationFactor == 0 {
		resp, err := b.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{}})
		if err != nil {
			return replication{}, fmt.Errorf("counting the brokers of %v (to derive the topics' replication factor): %w", b.cfg.Brokers, err)
		}
		brokers = len(resp.Brokers)
	}
	r, err := topicReplication(brokers, b.cfg.ReplicationFactor, b.cfg.MinInsyncReplicas)
	if err != nil {
		return r, err
	}
	b.cfg.Logger.Info("topics this process creates", "component", "kafka", "replication_factor", r.factor,
		"min_insync_replicas", r.minInsync, "brokers", brokers, "why", r.why)
	b.repl.known = &r
	return r, nil
}
