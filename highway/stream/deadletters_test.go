package stream

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/envelope"
)

// slowDeadLetters takes a while to send, and fails if its context ends
// first, as a produce cut off in the middle does.
type slowDeadLetters struct {
	took time.Duration
	sent int
}

func (s *slowDeadLetters) SendDeadLetters(ctx context.Context, msgs []bus.Message, _ []string) error {
	select {
	case <-time.After(s.took):
		s.sent += len(msgs)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// A dead-letter send under way when its claim ends finishes (within
// writeGrace) instead of being cut off, so the next owner, which reads the
// topic's last reject, does not send the same rejects again.
func TestDeadLetterSendOutlivesItsClaim(t *testing.T) {
	c, err := catalog.Parse("unit.yaml", []byte(`
kind: feed
name: unit.readings
department: TEST
fields:
  - {name: station, type: string, required: true}
  - {name: at, type: time, required: true}
key: [station]
event_time: at
interval: 1m
`))
	if err != nil {
		t.Fatal(err)
	}
	dlq := &slowDeadLetters{took: 300 * time.Millisecond}
	p, err := NewProcessor(Config{Feed: c.Feeds()[0]}, nil, nil, dlq)
	if err != nil {
		t.Fatal(err)
	}
	b := &batch{
		bad:     []bus.Message{{Topic: "unit.readings", Partition: 0, Offset: 7, Value: []byte("{")}},
		rows:    []int{envelope.WholeRecord},
		reasons: []string{"not JSON"},
	}
	claim, end := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, end) // the claim ends during the send
	err = p.deadLetter(claim, b)
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if dlq.sent != 1 {
		t.Fatalf("the send was cut off at the claim's end (sent %d of 1, err %v)", dlq.sent, err)
	}
}
