package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/segmentio/kafka-go"

	"github.com/cityhighway/highway/highway/envelope"
)

// DeadLetterMark says which rejects of one source partition its dead-letter
// topic already holds: those of records before Offset, and those of rows up
// to Row of the record at Offset (envelope.WholeRecord: all of it).
type DeadLetterMark struct {
	Offset int64
	Row    int
}

// Covers says whether the reject of row (envelope.WholeRecord for the whole record)
// of the source record at offset is among those the mark says are held.
func (m DeadLetterMark) Covers(offset int64, row int) bool {
	return offset < m.Offset || offset == m.Offset && row <= m.Row
}

// LastDeadLetter finds the last reject of topic/partition that the
// dead-letter topic holds, reading its partition (SendDeadLetters puts
// them in the one of the same number) backwards from the end in growing
// steps until it meets one. found is false when there is none (or no
// dead-letter topic yet). A processor that takes the partition over sends
// only rejects the mark does not cover, so a crash between sending rejects
// and inserting their batch's rows does not send them twice.
func (b *Bus) LastDeadLetter(ctx context.Context, topic string, partition int) (mark DeadLetterMark, found bool, err error) {
	dlq := envelope.DLQTopic(topic)
	parts, err := b.Partitions(ctx, dlq)
	if err != nil {
		if errors.Is(err, kafka.UnknownTopicOrPartition) || errors.Is(err, errNoTopic) {
			return DeadLetterMark{}, false, nil
		}
		return DeadLetterMark{}, false, err
	}
	if len(parts) == 0 {
		return DeadLetterMark{}, false, nil
	}
	d := partition % len(parts)
	first, end, err := b.partitionBounds(ctx, dlq, d)
	if err != nil {
		return DeadLetterMark{}, false, err
	}
	for step := int64(64); end > first; step *= 8 {
		from := max(first, end-step)
		err := b.readRange(ctx, dlq, d, from, end, func(m *Message) {
			if mk, ok := markOf(m, topic, partition); ok {
				mark, found = mk, true // the last one read wins
			}
		})
		if err != nil || found {
			return mark, found, err
		}
		end = from
	}
	return DeadLetterMark{}, false, nil
}

// partitionBounds returns the first offset Kafka holds of topic/partition
// and the one the next record will get.
func (b *Bus) partitionBounds(ctx context.Context, topic string, partition int) (first, end int64, err error) {
	resp, err := b.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
		topic: {kafka.FirstOffsetOf(partition), kafka.LastOffsetOf(partition)},
	}})
	if err != nil {
		return 0, 0, fmt.Errorf("listing offsets of %s/%d: %w", topic, partition, err)
	}
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			return 0, 0, fmt.Errorf("listing offsets of %s/%d: %w", topic, partition, p.Error)
		}
		if p.Partition == partition {
			return p.FirstOffset, p.LastOffset, nil
		}
	}
	return 0, 0, fmt.Errorf("listing offsets of %s/%d: no answer for the partition", topic, partition)
}

// markOf reads the dead letter m: the mark of its source record if it is
// the reject of a record of topic/partition (a processor's reject).
func markOf(m *Message, topic string, partition int) (DeadLetterMark, bool) {
	env := m.Envelope()
	if r := env.Reject; r == nil || r.Topic != topic || !r.InKafka() || r.Partition != partition {
		return DeadLetterMark{}, false
	}
	row := envelope.WholeRecord
	if env.HasRow {
		row = env.Row
	}
	return DeadLetterMark{Offset: env.Reject.Offset, Row: row}, true
}
