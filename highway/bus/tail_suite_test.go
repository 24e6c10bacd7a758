package bus_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/bus"
)

// tailSuite checks Tail on a bus whose topic (two partitions) is empty: it
// runs on the embedded broker in plain go test and on the real Kafka in
// the integration tests.
func tailSuite(t *testing.T, b *bus.Bus, topic string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := b.NewProducer()
	defer p.Close()
	send := func(prefix string, from, n int) {
		t.Helper()
		var msgs []bus.Message
		for i := from; i < from+n; i++ {
			msgs = append(msgs, bus.Message{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "%s%d", prefix, i),
				Headers: []bus.Header{{Key: "i", Value: fmt.Appendf(nil, "%d", i)}}})
		}
		if err := p.Produce(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	// Before Tail starts: never seen.
	send("before", 0, 50)

	var mu sync.Mutex
	var got []bus.Message
	probed := map[int]bool{}
	tctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- b.Tail(tctx, topic, func(m bus.Message) error {
			mu.Lock()
			defer mu.Unlock()
			if string(m.Value[:5]) == "probe" {
				probed[m.Partition] = true
				return nil
			}
			got = append(got, m) // kept as handed over, not copied
			return nil
		})
	}()
	// Probes until the tail reads both partitions, then the messages it
	// must hand over, each once, in order within its partition.
	for i := 0; ; i++ {
		mu.Lock()
		ready := len(probed) == 2
		mu.Unlock()
		if ready {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the tail never saw a probe on both partitions")
		}
		send("probe", 1000+i, 4)
		time.Sleep(20 * time.Millisecond)
	}
	// In several fetches, so that a reader reusing a fetch's memory would
	// overwrite messages handed over before.
	const n = 500
	for i := 0; i < n; i += 50 {
		send("after", i, 50)
		time.Sleep(10 * time.Millisecond)
	}
	for {
		mu.Lock()
		k := len(got)
		mu.Unlock()
		if k >= n || ctx.Err() != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // nothing more may come
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Tail returned %v when its context ended, want nil", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != n {
		t.Fatalf("the tail handed over %d messages, want %d", len(got), n)
	}
	seen := map[string]bool{}
	last := map[int]int64{}
	for _, m := range got {
		v := string(m.Value)
		if seen[v] || v[:5] != "after" || "after"+string(m.Header("i")) != v || m.Topic != topic {
			t.Fatalf("message %s/%d/%d: value %q, header i %q (repeated: %v)", m.Topic, m.Partition, m.Offset, v, m.Header("i"), seen[v])
		}
		seen[v] = true
		if o, ok := last[m.Partition]; ok && m.Offset <= o {
			t.Fatalf("partition %d: offset %d after %d", m.Partition, m.Offset, o)
		}
		last[m.Partition] = m.Offset
	}

	// fn's error ends the tail with that error.
	errStop := errors.New("enough")
	more, moreDone := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for more.Err() == nil {
			_ = p.Produce(more, bus.Message{Topic: topic, Key: []byte("k"), Value: []byte("more")})
			time.Sleep(20 * time.Millisecond)
		}
	}()
	err := b.Tail(ctx, topic, func(bus.Message) error { return errStop })
	moreDone()
	wg.Wait()
	if !errors.Is(err, errStop) {
		t.Errorf("Tail with a failing fn returned %v, want %v", err, errStop)
	}
	if err := b.Tail(ctx, topic+".missing", func(bus.Message) error { return nil }); err == nil {
		t.Error("Tail of a missing topic did not fail")
	}
}
