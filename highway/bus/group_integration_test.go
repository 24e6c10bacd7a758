//go:build integration

package bus_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/bus"
)

// newTestBus connects to the broker in HIGHWAY_KAFKA (eval "$(ops/services
// up)") and makes a fresh topic of two partitions.
func newTestBus(tb testing.TB) (*bus.Bus, string) { return newTestBusWith(tb, "") }

// newTestBusWith is newTestBus with the producer's compression.
func newTestBusWith(tb testing.TB, compression string) (*bus.Bus, string) {
	tb.Helper()
	brokers := os.Getenv("HIGHWAY_KAFKA")
	if brokers == "" {
		tb.Fatal("HIGHWAY_KAFKA is not set: run eval \"$(ops/services up)\" first (integration tests need a real Kafka broker)")
	}
	b, err := bus.New(bus.Config{Brokers: strings.Split(brokers, ","), Compression: compression, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { b.Close() })
	topic := fmt.Sprintf("test.bus.%s.%d", strings.ReplaceAll(tb.Name(), "/", "."), time.Now().UnixNano())
	if err := b.EnsureTopics(context.Background(), 2, topic); err != nil {
		tb.Fatal(err)
	}
	return b, topic
}

// produce writes n messages with keys k0…, values v0… and one header.
func produce(tb testing.TB, b *bus.Bus, topic string, n int) {
	tb.Helper()
	p := b.NewProducer()
	defer p.Close()
	msgs := make([]bus.Message, 0, 1000)
	for i := range n {
		var key []byte
		if i%7 != 0 { // some without a key
			key = fmt.Appendf(nil, "k%d", i)
		}
		msgs = append(msgs, bus.Message{Topic: topic, Key: key,
			Value:   fmt.Appendf(nil, `{"seq":%d,"pad":"%s"}`, i, strings.Repeat("x", 200)),
			Headers: []bus.Header{{Key: "seq", Value: fmt.Appendf(nil, "%d", i)}}})
		if len(msgs) == cap(msgs) || i == n-1 {
			if err := p.Produce(context.Background(), msgs...); err != nil {
				tb.Fatal(err)
			}
			msgs = msgs[:0]
		}
	}
}

// drain consumes topic in group until want messages have been fetched,
// calling seen for each, and returns the time from the first fetched batch
// to the last (leaving out joining the group).
func drain(tb testing.TB, b *bus.Bus, group, topic string, want int, maxRows int, seen func(bus.Message)) time.Duration {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var mu sync.Mutex
	got := 0
	var first, last time.Time
	err := b.Consume(ctx, group, topic, func(ctx context.Context, c *bus.Claim) error {
		for ctx.Err() == nil {
			msgs, err := c.Fetch(ctx, maxRows, 16<<20, 50*time.Millisecond)
			if err != nil {
				return err
			}
			mu.Lock()
			for _, m := range msgs {
				seen(m)
			}
			got += len(msgs)
			if first.IsZero() {
				first = time.Now()
			}
			last = time.Now()
			if got >= want {
				cancel()
			}
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("consume: %v", err)
	}
	if got < want {
		tb.Fatalf("fetched %d messages, want %d (timed out)", got, want)
	}
	return last.Sub(first)
}

// TestFetchReadsEveryMessageOnceWithHeaders: a group's claims hand over
// every message of both partitions once, in offset order, with key, value
// and headers intact, in batches no larger than asked for.
func TestFetchReadsEveryMessageOnceWithHeaders(t *testing.T) {
	for _, compression := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(compression, func(t *testing.T) { testFetchEveryMessageOnce(t, compression) })
	}
}

func testFetchEveryMessageOnce(t *testing.T, compression string) {
	b, topic := newTestBusWith(t, compression)
	const n = 25_000
	produce(t, b, topic, n)
	next := map[int]int64{}
	seqs := make([]int, n)
	drain(t, b, "test.bus.group."+topic, topic, n, 4096, func(m bus.Message) {
		if m.Offset != next[m.Partition] {
			t.Fatalf("partition %d: offset %d after %d", m.Partition, m.Offset, next[m.Partition]-1)
		}
		next[m.Partition]++
		var seq int
		if _, err := fmt.Sscanf(string(m.Header("seq")), "%d", &seq); err != nil || seq < 0 || seq >= n {
			t.Fatalf("message %d/%d: header seq = %q", m.Partition, m.Offset, m.Header("seq"))
		}
		wantKey := fmt.Sprintf("k%d", seq)
		if seq%7 == 0 {
			wantKey = ""
		}
		if string(m.Key) != wantKey || !strings.HasPrefix(string(m.Value), fmt.Sprintf(`{"seq":%d,`, seq)) {
			t.Fatalf("message %d/%d: key %q value %.20q for header seq %d", m.Partition, m.Offset, m.Key, m.Value, seq)
		}
		seqs[seq]++
	})
	for seq, count := range seqs {
		if count != 1 {
			t.Fatalf("seq %d fetched %d times", seq, count)
		}
	}
}

// TestFetchSeekAndWait: SeekTo moves the next Fetch back; with nothing new a
// Fetch waits for the next message instead of returning an empty batch, and
// Lag reaches 0 once everything is read.
func TestFetchSeekAndWait(t *testing.T) {
	b, topic := newTestBus(t)
	produce(t, b, topic, 100)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	results := make(chan error, 2)
	check := func(ctx context.Context, c *bus.Claim) error {
		var all []bus.Message
		for c.Lag() != 0 || len(all) == 0 {
			msgs, err := c.Fetch(ctx, 1000, 1<<20, 20*time.Millisecond)
			if err != nil {
				return err
			}
			all = append(all, msgs...)
		}
		if all[0].Offset != 0 || all[len(all)-1].Offset != int64(len(all)-1) {
			return fmt.Errorf("partition %d: fetched offsets %d…%d for %d messages", c.Partition, all[0].Offset, all[len(all)-1].Offset, len(all))
		}
		mid := all[len(all)/2].Offset
		if err := c.SeekTo(mid); err != nil {
			return err
		}
		again, err := c.Fetch(ctx, 1, 1<<20, 0)
		if err != nil {
			return err
		}
		if len(again) != 1 || again[0].Offset != mid {
			return fmt.Errorf("partition %d: after SeekTo(%d) Fetch gave %d messages from offset %d", c.Partition, mid, len(again), again[0].Offset)
		}
		for c.Lag() != 0 { // the rest
			if _, err := c.Fetch(ctx, 1000, 1<<20, 0); err != nil {
				return err
			}
		}
		short, stop := context.WithTimeout(ctx, 700*time.Millisecond)
		defer stop()
		start := time.Now()
		msgs, err := c.Fetch(short, 10, 1<<20, 0)
		if err == nil || short.Err() == nil {
			return fmt.Errorf("partition %d: with nothing new Fetch returned %d messages, err %v after %v; want it to wait for the context's end", c.Partition, len(msgs), err, time.Since(start))
		}
		return nil
	}
	consumed := make(chan error, 1)
	go func() {
		consumed <- b.Consume(ctx, "test.bus.seek."+topic, topic, func(ctx context.Context, c *bus.Claim) error {
			results <- check(ctx, c)
			<-ctx.Done()
			return nil
		})
	}()
	for range 2 {
		select {
		case err := <-results:
			if err != nil {
				t.Fatal(err)
			}
		case <-ctx.Done():
			t.Fatal("timed out waiting for both partitions")
		}
	}
	cancel()
	if err := <-consumed; err != nil {
		t.Fatalf("consume: %v", err)
	}
}

// BenchmarkClaimFetch drains a pre-filled topic of 200,000 messages
// (~230 bytes each, snappy, 2 partitions) through consumer-group claims in
// micro-batches of 10,000, as a processor does. One op is one message.
func BenchmarkClaimFetch(b *testing.B) {
	bb, topic := newTestBus(b)
	const n = 200_000
	produce(b, bb, topic, n)
	b.ReportAllocs()
	b.ResetTimer()
	var took time.Duration
	round := 0
	cpu0 := cpuTime()
	for done := 0; done < b.N; done += n {
		took += drain(b, bb, fmt.Sprintf("bench.bus.%s.%d", topic, round), topic, n, 10_000, func(bus.Message) {})
		round++
	}
	b.ReportMetric(float64(round*n)/took.Seconds(), "msgs/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(round*n), "cpu-ns/msg")
}

// cpuTime is the CPU time this process has used (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
