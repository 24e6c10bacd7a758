// Package bus owns Kafka: producing records, consuming partitions as a member
// of a consumer group with explicit commits, creating topics, and the
// dead-letter topic of each feed. It is the only package that imports a
// Kafka client: franz-go's kgo produces (Kafka's idempotent producer, so a
// retried produce is stored once; producer.go), segmentio/kafka-go finds
// leaders and runs the consumer group, and a claim's messages are fetched
// with the package's own Fetch requests and record-batch decoder
// (fetch.go), a third of the CPU kafka-go's reader took per message. An
// embedded broker (embedded.go) speaks the same protocol for `highway dev`
// and unit tests.
package bus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// Config says how to reach Kafka and how to produce.
type Config struct {
	// Brokers are the bootstrap addresses, host:port. Required.
	Brokers []string
	// Compression of produced batches: none, gzip, snappy, lz4 or zstd.
	// Default snappy.
	Compression string
	// BatchTimeout is how long the producer lingers to fill a batch.
	// Default 10ms.
	BatchTimeout time.Duration
	// ReplicationFactor of topics this package creates. 0 (the default)
	// derives it from the cluster: min(3, brokers).
	ReplicationFactor int
	// MinInsyncReplicas is the min.insync.replicas of topics this package
	// creates. 0 (the default) derives it: ReplicationFactor-1 when that is
	// 3 or more, else the broker's default. Producers use acks=all.
	MinInsyncReplicas int
	// MaxBatchBytes bounds a fetched record batch once decompressed; a
	// larger one is a *BadBatchError (a decompression bomb cannot exhaust
	// memory). Default 256 MiB.
	MaxBatchBytes int
	// SessionTimeout of consumer-group members: how soon a dead member's
	// partitions move to others. Default 10s (Kafka's session.timeout.ms).
	SessionTimeout time.Duration
	// Security is how connections are encrypted and authenticated, on
	// every path: produce, fetch, consumer groups, admin, dead letters and
	// the live tail. Default plaintext without SASL.
	Security Security
	// Logger receives kafka-go's logs at debug level. Default slog.Default().
	Logger *slog.Logger
}

// Message is one Kafka record.
type Message struct {
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []Header
	Time      time.Time
}

// Clone returns a copy of m that shares no memory with it (a fetched
// message's bytes are reused by the next Fetch on its claim).
func (m Message) Clone() Message {
	m.Key = bytes.Clone(m.Key)
	m.Value = bytes.Clone(m.Value)
	if m.Headers != nil {
		hs := make([]Header, len(m.Headers))
		for i, h := range m.Headers {
			hs[i] = Header{Key: strings.Clone(h.Key), Value: bytes.Clone(h.Value)}
		}
		m.Headers = hs
	}
	return m
}

// Header is one Kafka record header: Key string and Value []byte. It is
// kafka-go's own type, so fetched messages keep their header slices
// without a copy.
type Header = kafka.Header

// Header returns the value of the first header called key, or nil.
func (m *Message) Header(key string) []byte {
	for _, h := range m.Headers {
		if h.Key == key {
			return h.Value
		}
	}
	return nil
}

// Bus is a connection to one Kafka cluster. It is safe for concurrent use.
type Bus struct {
	cfg       Config
	sec       security
	transport *kafka.Transport
	client    *kafka.Client
	repl      replicator
}

// New validates cfg, applies defaults and returns a Bus. It does not dial;
// the first call that needs the cluster does.
func New(cfg Config) (*Bus, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("bus: no Kafka brokers configured; pass --kafka host:port or set HIGHWAY_KAFKA")
	}
	if cfg.Compression == "" {
		cfg.Compression = "snappy"
	}
	cfg.Compression = strings.ToLower(cfg.Compression)
	switch cfg.Compression {
	case "none", "gzip", "snappy", "lz4", "zstd":
	default:
		return nil, fmt.Errorf("bus: unknown compression %q; use none, gzip, snappy, lz4 or zstd", cfg.Compression)
	}
	if cfg.BatchTimeout <= 0 {
		cfg.BatchTimeout = 10 * time.Millisecond
	}
	// Checked again with the cluster's broker count by the first EnsureTopics.
	if _, err := topicReplication(MaxDerivedReplicationFactor, cfg.ReplicationFactor, cfg.MinInsyncReplicas); err != nil {
		return nil, err
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	sec, err := cfg.Security.build()
	if err != nil {
		return nil, err
	}
	transport := &kafka.Transport{DialTimeout: dialTimeout, IdleTimeout: time.Minute, MetadataTTL: 5 * time.Second, TLS: sec.tls}
	if sec.mech != nil {
		transport.SASL = kafkaMechanism{sec.mech}
	}
	return &Bus{
		cfg:       cfg,
		sec:       sec,
		transport: transport,
		client:    &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: transport, Timeout: 10 * time.Second},
	}, nil
}

// errNoTopic says a topic does not exist.
var errNoTopic = errors.New("the topic does not exist")

// Brokers returns the bootstrap addresses.
func (b *Bus) Brokers() []string { return b.cfg.Brokers }

// Close releases idle connections.
func (b *Bus) Close() error {
	b.transport.CloseIdleConnections()
	return nil
}

func (b *Bus) logf(msg string, args ...any) {
	b.cfg.Logger.Debug(fmt.Sprintf(msg, args...), "component", "kafka")
}

// EnsureTopics creates the topics that do not exist yet, each with the given
// number of partitions, replicated as Config says (logged once). Existing
// topics are left as they are.
func (b *Bus) EnsureTopics(ctx context.Context, partitions int, topics ...string) error {
	repl, err := b.replication(ctx)
	if err != nil {
		return err
	}
	req := &kafka.CreateTopicsRequest{}
	for _, t := range topics {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: repl.factor, ConfigEntries: repl.configEntries()})
	}
	resp, err := b.client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("creating topics on %s: %w", strings.Join(b.cfg.Brokers, ","), err)
	}
	for topic, err := range resp.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w", topic, err)
		}
	}
	return nil
}

// Partitions returns the partition IDs of topic.
func (b *Bus) Partitions(ctx context.Context, topic string) ([]int, error) {
	resp, err := b.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("reading metadata of %s: %w", topic, err)
	}
	for _, t := range resp.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("reading metadata of %s: %w", topic, t.Error)
		}
		ids := make([]int, len(t.Partitions))
		for i, p := range t.Partitions {
			ids[i] = p.ID
		}
		return ids, nil
	}
	return nil, fmt.Errorf("topic %s: %w", topic, errNoTopic)
}

// Leaders returns, per partition of topic, the node id of its leader as
// the broker asked says now (-1 for a partition without one). With
// ops/kafka/cluster the node id is the broker's number.
func (b *Bus) Leaders(ctx context.Context, topic string) (map[int]int, error) {
	resp, err := b.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("reading metadata of %s: %w", topic, err)
	}
	for _, t := range resp.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("reading metadata of %s: %w", topic, t.Error)
		}
		out := make(map[int]int, len(t.Partitions))
		for _, p := range t.Partitions {
			out[p.ID] = -1
			if p.Leader.Host != "" {
				out[p.ID] = p.Leader.ID
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("topic %s: %w", topic, errNoTopic)
}

// EndOffsets returns, per partition of topic, the offset the next produced
// record will get (the high watermark).
func (b *Bus) EndOffsets(ctx context.Context, topic string) (map[int]int64, error) {
	ids, err := b.Partitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, id := range ids {
		req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(id))
	}
	resp, err := b.client.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("listing offsets of %s: %w", topic, err)
	}
	out := map[int]int64{}
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("listing offsets of %s/%d: %w", topic, p.Partition, p.Error)
		}
		out[p.Partition] = p.LastOffset
	}
	return out, nil
}

// CommittedOffsets returns, per partition of topic, the offset group has
// committed (-1 where it has none).
func (b *Bus) CommittedOffsets(ctx context.Context, group, topic string) (map[int]int64, error) {
	ids, err := b.Partitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	resp, err := b.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ids}})
	if err != nil {
		return nil, fmt.Errorf("fetching group %s's offsets of %s: %w", group, topic, err)
	}
	if resp.Error != nil {
		return nil, fmt.Errorf("fetching group %s's offsets of %s: %w", group, topic, resp.Error)
	}
	out := map[int]int64{}
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("fetching group %s's offset of %s/%d: %w", group, topic, p.Partition, p.Error)
		}
		out[p.Partition] = p.CommittedOffset
	}
	return out, nil
}

func toKafka(m Message) kafka.Message {
	km := kafka.Message{Topic: m.Topic, Key: m.Key, Value: m.Value, Time: m.Time}
	if len(m.Headers) > 0 {
		km.Headers = make([]kafka.Header, len(m.Headers))
		for i, h := range m.Headers {
			km.Headers[i] = kafka.Header{Key: h.Key, Value: h.Value}
		}
	}
	return km
}

func fromKafka(km kafka.Message) Message {
	return Message{Topic: km.Topic, Partition: km.Partition, Offset: km.Offset, Key: km.Key, Value: km.Value, Headers: km.Headers, Time: km.Time}
}
