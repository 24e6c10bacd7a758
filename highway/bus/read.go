package bus

import (
	"context"
	"fmt"
	"sort"
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
	parts := make([]int, 0, len(ends))
	for p := range ends {
		parts = append(parts, p)
	}
	sort.Ints(parts)
	var out []Message
	for _, p := range parts {
		if ends[p] <= 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: b.cfg.Brokers, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond, Logger: kafka.LoggerFunc(b.logf)})
		if err := r.SetOffset(kafka.FirstOffset); err != nil {
			r.Close()
			return nil, fmt.Errorf("reading %s/%d: %w", topic, p, err)
		}
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				return nil, fmt.Errorf("reading %s/%d: %w", topic, p, err)
			}
			out = append(out, fromKafka(m))
			if m.Offset+1 >= ends[p] {
				break
			}
		}
		r.Close()
	}
	return out, nil
}
