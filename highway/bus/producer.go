package bus

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Producer writes messages to any topic through Kafka's idempotent producer
// (franz-go's kgo client): every record batch carries the producer's id,
// epoch and sequence numbers, so a produce that is retried after a broker
// restart, a lost response or a leader change is stored once, not twice.
// Records a department sent once are therefore one Kafka record each, the
// first half of exactly once as the department counts it (the store's batch
// ledger is the second half).
//
// It waits for all in-sync replicas (acks=all). Messages with a key go to
// the partition the key hashes to (FNV-1a, the placement kafka-go's Hash
// balancer used, so keys stay where earlier versions put them), so every
// record of one thing (a station, a detector) stays in order. It is safe
// for concurrent use.
type Producer struct {
	cl  *kgo.Client
	log *slog.Logger

	mu     sync.Mutex
	failed bool // the last produce failed; the next success is logged once
}

// NewProducer returns an idempotent producer that lingers and compresses as
// the Bus's Config says. It dials lazily, like the rest of the Bus.
func (b *Bus) NewProducer() *Producer {
	p, err := b.newProducer()
	if err != nil {
		// The options are all built here from a validated Config; an error
		// is a bug in this package, not in the caller's input.
		panic(fmt.Sprintf("bus: building the producer: %v", err))
	}
	return p
}

func (b *Bus) newProducer() (*Producer, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(b.cfg.Brokers...),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(b.cfg.BatchTimeout),
		kgo.RecordPartitioner(partitioner{}),
		kgo.DialTimeout(dialTimeout),
		kgo.ProduceRequestTimeout(30 * time.Second),
		kgo.WithLogger(kgoLogger{b.cfg.Logger}),
	}
	if b.sec.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(b.sec.tls)) // kgo sets each broker's ServerName
	}
	if b.sec.mech != nil {
		opts = append(opts, kgo.SASL(b.sec.mech))
	}
	if c := kgoCompression(b.cfg.Compression); c != nil {
		opts = append(opts, kgo.ProducerBatchCompression(*c))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	return &Producer{cl: cl, log: b.cfg.Logger.With("component", "kafka-producer")}, nil
}

// kgoCompression is the codec of a Config.Compression name (already
// validated by New), or nil for none.
func kgoCompression(name string) *kgo.CompressionCodec {
	var c kgo.CompressionCodec
	switch name {
	case "gzip":
		c = kgo.GzipCompression()
	case "snappy":
		c = kgo.SnappyCompression()
	case "lz4":
		c = kgo.Lz4Compression()
	case "zstd":
		c = kgo.ZstdCompression()
	default:
		return nil
	}
	return &c
}

// Produce writes msgs and returns when every one is acknowledged, or when
// ctx ends or a failure does not pass (then a *ProduceError says which were
// not written; bus.Unsent picks them for a retry). Each message names its
// topic. Kafka's idempotence makes the client's own retries harmless, and
// records that fail for a passing reason are sent again here, alone; a
// record whose request was on the wire when ctx ended is waited for, so
// it is either written once and reported written, or reported failed.
func (p *Producer) Produce(ctx context.Context, msgs ...Message) error {
	if len(msgs) == 0 {
		return nil
	}
	recs := make([]*kgo.Record, len(msgs))
	for i, m := range msgs {
		recs[i] = toRecord(m)
	}
	return p.produce(ctx, recs, msgs[0].Topic)
}

// produce writes recs, sending again only the records that failed, while
// the failure is one that passes (a leader moving, a broker restarting)
// and ctx lasts: resending a record that was written would store it twice,
// since each send is a new record to Kafka's idempotence.
func (p *Producer) produce(ctx context.Context, recs []*kgo.Record, topic string) error {
	var perr *ProduceError
	pending := make([]int, len(recs))
	at := make(map[*kgo.Record]int, len(recs)) // ProduceSync's results come in the order the records complete
	for i := range pending {
		pending[i] = i
		at[recs[i]] = i
	}
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		batch := make([]*kgo.Record, len(pending))
		for k, i := range pending {
			batch[k] = recs[i]
		}
		results := p.cl.ProduceSync(ctx, batch...)
		perr = nil
		failed, first := failedRecords(results, at)
		if first == nil {
			break
		}
		perr = &ProduceError{Topic: topic, Total: len(recs), Failed: failed, Err: first}
		if !retriable(perr.Err) || ctx.Err() != nil {
			break
		}
		p.log.Debug("resending the records that failed", "topic", topic, "failed", len(failed), "of", len(recs), "err", perr.Err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		pending = failed
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if perr != nil {
		if !p.failed {
			p.log.Warn("producing to Kafka failed; callers retry", "topic", topic, "records", len(recs), "failed", len(perr.Failed), "err", perr.Err)
		}
		p.failed = true
		return perr
	}
	if p.failed {
		p.log.Info("producing to Kafka works again", "topic", topic)
		p.failed = false
	}
	return nil
}

// failedRecords returns, ascending, the indices (by at) of the records
// whose result is an error, and the first error. ProduceSync hands back
// results in the order the records complete, not the order they were
// given, so each result is placed by its record.
func failedRecords(results kgo.ProduceResults, at map[*kgo.Record]int) ([]int, error) {
	var (
		failed []int
		first  error
	)
	for _, r := range results {
		if r.Err != nil {
			if first == nil {
				first = r.Err
			}
			failed = append(failed, at[r.Record])
		}
	}
	slices.Sort(failed)
	return failed, first
}

// ProduceError says which messages of a Produce call were not written:
// the others were, once each. A caller that retries sends only the failed
// ones (see Unsent), or the written ones would be stored twice.
type ProduceError struct {
	Topic  string
	Total  int
	Failed []int // indices into the call's messages, ascending
	Err    error // the first failure
}

func (e *ProduceError) Error() string {
	return fmt.Sprintf("producing to %s: %d of %d messages not written: %v", e.Topic, len(e.Failed), e.Total, e.Err)
}

func (e *ProduceError) Unwrap() error { return e.Err }

// Unsent returns the messages of a Produce call that err says were not
// written: all of them when err is not a *ProduceError, none when nil.
func Unsent(msgs []Message, err error) []Message {
	if err == nil {
		return nil
	}
	var perr *ProduceError
	if !errors.As(err, &perr) || perr.Total != len(msgs) {
		return msgs
	}
	out := make([]Message, len(perr.Failed))
	for i, k := range perr.Failed {
		out[i] = msgs[k]
	}
	return out
}

// Close waits for buffered messages and closes the producer.
func (p *Producer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := p.cl.Flush(ctx)
	p.cl.Close()
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("flushing the producer: %w", err)
	}
	return nil
}

// toRecord converts m to a kgo record; the bytes are shared, not copied.
func toRecord(m Message) *kgo.Record {
	r := &kgo.Record{Topic: m.Topic, Key: m.Key, Value: m.Value, Timestamp: m.Time}
	if len(m.Headers) > 0 {
		r.Headers = make([]kgo.RecordHeader, len(m.Headers))
		for i, h := range m.Headers {
			r.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	return r
}

// pinned marks a record whose Partition was chosen by this package (a
// dead letter goes to the partition of the record it replaces, see dlq.go).
type pinnedKey struct{}

// pin returns r sent to partition exactly.
func pin(r *kgo.Record, partition int) *kgo.Record {
	r.Partition = int32(partition)
	r.Context = context.WithValue(context.Background(), pinnedKey{}, true)
	return r
}

// partitioner places records: a pinned record on its partition (modulo the
// topic's partitions), a keyed one by FNV-1a of its key as kafka-go's Hash
// balancer and Sarama do, a keyless one round robin.
type partitioner struct{}

func (partitioner) ForTopic(string) kgo.TopicPartitioner { return &topicPartitioner{} }

type topicPartitioner struct{ next int }

func (*topicPartitioner) RequiresConsistency(*kgo.Record) bool { return true }

func (t *topicPartitioner) Partition(r *kgo.Record, n int) int {
	if r.Context != nil && r.Context.Value(pinnedKey{}) != nil {
		return int(r.Partition) % n
	}
	if r.Key == nil {
		t.next++
		return t.next % n
	}
	return KeyPartition(r.Key, n)
}

// KeyPartition is the partition of key among n that Produce sends a
// message with that key to: int32(fnv1a(key)) mod n, made non-negative by
// negation, exactly kafka-go's Hash balancer. (The chaos test's failover
// probe picks its keys with it.)
func KeyPartition(key []byte, n int) int {
	h := fnv.New32a()
	h.Write(key)
	p := int32(h.Sum32()) % int32(n)
	if p < 0 {
		p = -p
	}
	return int(p)
}

// retriable says whether a failed record is worth sending again: Kafka
// says the error passes, or kgo gave up on a timeout. A topic that is
// missing after kgo's own metadata retries is not.
func retriable(err error) bool {
	if errors.Is(err, kerr.UnknownTopicOrPartition) || errors.Is(err, kerr.UnknownTopicID) {
		return false
	}
	return kerr.IsRetriable(err) || errors.Is(err, kgo.ErrRecordTimeout) || errors.Is(err, kgo.ErrRecordRetries)
}

// kgoLogger sends kgo's logs to slog: warnings and errors as they are, the
// rest at debug level.
type kgoLogger struct{ l *slog.Logger }

// Level asks kgo for its info messages only when they would be logged
// (they go out at debug level), so kgo does not format them for nothing.
func (k kgoLogger) Level() kgo.LogLevel {
	if k.l.Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelInfo
	}
	return kgo.LogLevelWarn
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		lv = slog.LevelError
	case kgo.LogLevelWarn:
		lv = slog.LevelWarn
	}
	k.l.Log(context.Background(), lv, msg, append(keyvals, "component", "kafka")...)
}
