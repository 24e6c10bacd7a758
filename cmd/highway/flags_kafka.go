package main

import (
	"flag"
	"fmt"
	"log/slog"
	"strings"

	"github.com/cityhighway/highway/highway/bus"
)

// topicFlags are the flags of the commands that create topics: how the
// topics are replicated.
type topicFlags struct {
	replicationFactor int
	minInsync         int
}

func (t *topicFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&t.replicationFactor, "replication-factor", 0,
		fmt.Sprintf("replication factor of topics this command creates; 0 derives it from the cluster, min(%d, brokers)", bus.MaxDerivedReplicationFactor))
	fs.IntVar(&t.minInsync, "min-insync-replicas", 0,
		"min.insync.replicas of topics this command creates (producers use acks=all); 0 derives it: the replication factor - 1 when that is 3 or more, else the broker's default")
}

// config is the bus.Config of the comma-separated brokers with these flags.
func (t *topicFlags) config(brokers string, log *slog.Logger) bus.Config {
	return bus.Config{Brokers: strings.Split(brokers, ","), Logger: log, ReplicationFactor: t.replicationFactor, MinInsyncReplicas: t.minInsync}
}
