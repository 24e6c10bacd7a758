package bus

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"
)

// ReadAll returns every message of topic from the start, partition by
// partition, reading until each partition's end as it was when called. It is
// for tests and tools (inspecting a DLQ), not for the data path.
func (b *Bus) ReadAll(ctx context.Context, topic string) ([]Message, error) {
	ends, err := b.EndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	var out []Message
	for _, p := range slices.Sorted(maps.Keys(ends)) {
		err := b.readRange(ctx, topic, p, kafka.FirstOffset, ends[p], func(m *Message) {
			out = append(out, m.Clone())
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readRange calls fn with each message of topic/partition from offset from
// (kafka.FirstOffset: the first one Kafka holds) up to, not including, end,
// through the same partition reader a claim uses. The message's memory is
// reused after fn returns: fn clones what it keeps.
func (b *Bus) readRange(ctx context.Context, topic string, partition int, from, end int64, fn func(*Message)) error {
	if end <= 0 || (from >= 0 && from >= end) {
		return nil
	}
	r := newPartitionReader(b.sec, b.cfg.Brokers, topic, partition, b.logf)
	r.mem.limit = b.cfg.MaxBatchBytes
	defer r.drop()
	r.seek(from)
	for r.offset < 0 || r.offset < end {
		r.release()
		m, err := r.next(ctx, 100*time.Millisecond)
		var bad *BadBatchError
		switch {
		case errors.Is(err, errEmptyFetch):
			continue
		case errors.As(err, &bad):
			r.skipBad()
			continue
		case err != nil:
			return fmt.Errorf("reading %s/%d: %w", topic, partition, err)
		}
		if m.Offset >= end {
			return nil
		}
		fn(&m)
	}
	return nil
}
