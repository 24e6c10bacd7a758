package bus

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Embedded is a Kafka-protocol cluster inside this process (franz-go's
// kfake), for `highway dev` and fast unit tests. It is never the broker of
// integration tests or benchmarks: those use a real Apache Kafka (ops/kafka).
type Embedded struct {
	cluster *kfake.Cluster
}

// EmbeddedConfig configures the embedded cluster.
type EmbeddedConfig struct {
	// Port to listen on (127.0.0.1); 0 picks a free one.
	Port int
	// Partitions of topics created without an explicit count. Default 2.
	Partitions int
	// DataDir, when set, keeps the log on disk so records survive a restart.
	DataDir string
}

// StartEmbedded starts an embedded single-broker cluster.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.Partitions <= 0 {
		cfg.Partitions = 2
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(cfg.Partitions),
	}
	if cfg.Port > 0 {
		opts = append(opts, kfake.Ports(cfg.Port))
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("starting embedded Kafka: %w", err)
	}
	return &Embedded{cluster: c}, nil
}

// Brokers returns the addresses to pass in Config.Brokers.
func (e *Embedded) Brokers() []string { return e.cluster.ListenAddrs() }

// Close stops the cluster.
func (e *Embedded) Close() { e.cluster.Close() }
