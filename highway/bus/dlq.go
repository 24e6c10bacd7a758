package bus

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cityhighway/highway/highway/envelope"
)

// DeadLetter returns the message that carries rejected message m to its
// topic's dead-letter topic (envelope.DLQTopic): the original bytes and
// headers, plus the envelope's reject, saying why and where m came from. A
// message that never reached Kafka (a connector's or a push's reject) has a
// negative Offset, and the reject then has no partition and offset.
func DeadLetter(m Message, reason string, at time.Time) Message {
	rej := envelope.Envelope{Reject: &envelope.Reject{Reason: reason, At: at, Topic: m.Topic, Partition: m.Partition, Offset: m.Offset}}
	headers := append([]Header(nil), m.Headers...)
	for k, v := range rej.Headers() {
		headers = append(headers, Header{Key: k, Value: v})
	}
	return Message{Topic: envelope.DLQTopic(m.Topic), Key: m.Key, Value: m.Value, Headers: headers, Time: at}
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
