package bus_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/bus"
)

// embeddedBus starts an embedded cluster and returns a bus on it; the
// test's end closes both.
func embeddedBus(t *testing.T) *bus.Bus {
	t.Helper()
	e, err := bus.StartEmbedded(bus.EmbeddedConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	b, err := bus.New(bus.Config{Brokers: e.Brokers(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestClaimsReadTheEmbeddedCluster: `highway dev` runs processors against
// the embedded cluster (kfake), so its claims' own fetch requests must work
// there too.
func TestClaimsReadTheEmbeddedCluster(t *testing.T) {
	b := embeddedBus(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const topic, n = "dev.test", 3000
	if err := b.EnsureTopics(ctx, 2, topic); err != nil {
		t.Fatal(err)
	}
	p := b.NewProducer()
	defer p.Close()
	var msgs []bus.Message
	for i := range n {
		msgs = append(msgs, bus.Message{Topic: topic, Key: fmt.Appendf(nil, "k%d", i%10), Value: fmt.Appendf(nil, "%d", i),
			Headers: []bus.Header{{Key: "i", Value: fmt.Appendf(nil, "%d", i)}}})
	}
	if err := p.Produce(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	err := b.Consume(ctx, "dev.test.group", topic, func(ctx context.Context, c *bus.Claim) error {
		for ctx.Err() == nil {
			got, err := c.Fetch(ctx, 500, 1<<20, 20*time.Millisecond)
			if err != nil {
				return err
			}
			mu.Lock()
			for _, m := range got {
				if string(m.Value) != string(m.Header("i")) {
					t.Errorf("message %d/%d: value %q, header %q", m.Partition, m.Offset, m.Value, m.Header("i"))
				}
				seen[string(m.Value)]++
			}
			if len(seen) == n {
				cancel()
			}
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("consume: %v", err)
	}
	for i := range n {
		if seen[fmt.Sprint(i)] != 1 {
			t.Fatalf("message %d read %d times (of %d distinct read)", i, seen[fmt.Sprint(i)], len(seen))
		}
	}
}

// TestTailEmbedded runs the tail suite on the embedded broker.
func TestTailEmbedded(t *testing.T) {
	b := embeddedBus(t)
	const topic = "dev.tail"
	if err := b.EnsureTopics(context.Background(), 2, topic); err != nil {
		t.Fatal(err)
	}
	tailSuite(t, b, topic)
}

// TestLeadersOfTheEmbeddedCluster: Leaders names a leader for every
// partition, the embedded cluster's one broker; a missing topic is an error.
func TestLeadersOfTheEmbeddedCluster(t *testing.T) {
	b := embeddedBus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.EnsureTopics(ctx, 3, "dev.leaders"); err != nil {
		t.Fatal(err)
	}
	leaders, err := b.Leaders(ctx, "dev.leaders")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(leaders) != "map[0:0 1:0 2:0]" {
		t.Errorf("Leaders = %v, want partitions 0-2 led by broker 0", leaders)
	}
	if _, err := b.Leaders(ctx, "dev.missing"); err == nil {
		t.Error("Leaders of a missing topic: no error")
	}
}
