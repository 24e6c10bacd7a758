package bus

import (
	"context"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Headers set on every dead-letter message, beside the original key, value
// and headers.
const (
	HeaderReason          = "highway-reason"
	HeaderSourceTopic     = "highway-source-topic"
	HeaderSourcePartition = "highway-source-partition"
	HeaderSourceOffset    = "highway-source-offset"
	// HeaderSourceRow is the row within the source message, for a reject
	// of one row of a message that carries many (an Arrow batch).
	HeaderSourceRow   = "highway-source-row"
	HeaderRejectedAt  = "highway-rejected-at"
	HeaderContentType = "content-type"
)

// DLQTopic is the dead-letter topic of a feed topic.
func DLQTopic(topic string) string { return topic + ".dlq" }

// DeadLetter returns the message that carries rejected message m to its
// topic's dead-letter topic: the original bytes and headers, plus the reason
// and where m came from. A message that never reached Kafka (a connector's
// or a push's reject) has a negative Offset, which is left out.
func DeadLetter(m Message, reason string, at time.Time) Message {
	headers := append([]Header(nil), m.Headers...)
	headers = append(headers,
		Header{Key: HeaderReason, Value: []byte(reason)},
		Header{Key: HeaderSourceTopic, Value: []byte(m.Topic)},
		Header{Key: HeaderRejectedAt, Value: []byte(at.UTC().Format(time.RFC3339Nano))},
	)
	if m.Offset >= 0 {
		headers = append(headers,
			Header{Key: HeaderSourcePartition, Value: []byte(strconv.Itoa(m.Partition))},
			Header{Key: HeaderSourceOffset, Value: []byte(strconv.FormatInt(m.Offset, 10))},
		)
	}
	return Message{Topic: DLQTopic(m.Topic), Key: m.Key, Value: m.Value, Headers: headers, Time: at}
}

// SendDeadLetters produces each rejected message to its dead-letter topic,
// reasons[i] being why msgs[i] was rejected.
//
// A reject of a Kafka record (Offset ≥ 0) goes to the dead-letter partition
// of the same number as its source partition (modulo the dead-letter
// topic's partitions), so that the dead letters of one source partition
// stand in one partition in source order: LastDeadLetter then tells a
// processor that takes the partition over which rejects are already there,
// and it sends each reject once. Other rejects go by key.
func (p *Producer) SendDeadLetters(ctx context.Context, msgs []Message, reasons []string) error {
	if len(msgs) == 0 {
		return nil
	}
	now := time.Now()
	recs := make([]*kgo.Record, len(msgs))
	for i, m := range msgs {
		dl := DeadLetter(m, reasons[i], now)
		recs[i] = toRecord(dl)
		if m.Offset >= 0 {
			pin(recs[i], m.Partition)
		}
	}
	return p.produce(ctx, recs, recs[0].Topic)
}
