package bus

import (
	"context"
	"strconv"
	"time"
)

// Headers set on every dead-letter message, beside the original key, value
// and headers.
const (
	HeaderReason          = "highway-reason"
	HeaderSourceTopic     = "highway-source-topic"
	HeaderSourcePartition = "highway-source-partition"
	HeaderSourceOffset    = "highway-source-offset"
	HeaderRejectedAt      = "highway-rejected-at"
	HeaderContentType     = "content-type"
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
func (p *Producer) SendDeadLetters(ctx context.Context, msgs []Message, reasons []string) error {
	now := time.Now()
	out := make([]Message, len(msgs))
	for i, m := range msgs {
		out[i] = DeadLetter(m, reasons[i], now)
	}
	return p.Produce(ctx, out...)
}
