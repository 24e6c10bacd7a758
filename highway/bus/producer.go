package bus

import (
	"context"
	"fmt"

	"github.com/segmentio/kafka-go"
)

// Producer writes messages to any topic, waiting for all in-sync replicas
// (acks=all). Messages with a key go to the partition the key hashes to, so
// every record of one thing (a station, a detector) stays in order. It is
// safe for concurrent use.
type Producer struct {
	w *kafka.Writer
}

// NewProducer returns a producer that batches as the Bus's Config says.
func (b *Bus) NewProducer() *Producer {
	return &Producer{w: &kafka.Writer{
		Addr:         kafka.TCP(b.cfg.Brokers...),
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		Compression:  compressionOf(b),
		BatchSize:    b.cfg.BatchSize,
		BatchBytes:   16 << 20,
		BatchTimeout: b.cfg.BatchTimeout,
		Transport:    b.transport,
		Logger:       kafka.LoggerFunc(b.logf),
		ErrorLogger:  kafka.LoggerFunc(b.logf),
	}}
}

func compressionOf(b *Bus) kafka.Compression {
	if b.codec == nil {
		return 0
	}
	return kafka.Compression(b.codec.Code())
}

// Produce writes msgs and returns when every one is acknowledged or failed.
// Each message names its topic.
func (p *Producer) Produce(ctx context.Context, msgs ...Message) error {
	if len(msgs) == 0 {
		return nil
	}
	km := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		km[i] = toKafka(m)
	}
	if err := p.w.WriteMessages(ctx, km...); err != nil {
		return fmt.Errorf("producing %d messages to %s: %w", len(msgs), msgs[0].Topic, err)
	}
	return nil
}

// Close flushes pending messages and closes the producer.
func (p *Producer) Close() error { return p.w.Close() }
