//go:build integration

package stream_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/highway/stream"
)

// produceSlowly produces n records in chunks over about `over`, in the
// background, and returns a function that waits for it to finish.
func (r *rig) produceSlowly(t *testing.T, n, chunks int, over time.Duration) (wait func()) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		base := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
		per := n / chunks
		for c := 0; c < chunks; c++ {
			var msgs []bus.Message
			for i := c * per; i < (c+1)*per; i++ {
				station := fmt.Sprintf("S%d", i%10)
				v := fmt.Sprintf(`{"station":%q,"value":%d,"at":%q}`, station, i%100, base.Add(time.Duration(i)*time.Second).Format(time.RFC3339))
				msgs = append(msgs, bus.Message{Topic: r.feed.Topic(), Key: []byte(station), Value: []byte(v)})
			}
			if err := r.prod.Produce(context.Background(), msgs...); err != nil {
				t.Errorf("produce: %v", err)
				return
			}
			time.Sleep(over / time.Duration(chunks))
		}
	}()
	return wg.Wait
}

// A second processor joins and the first leaves while records flow: the
// partitions move between them and every record is written once.
func TestProcessorRebalance(t *testing.T) {
	r := newRig(t)
	const n = 30000
	done := r.produceSlowly(t, n, 30, 15*time.Second)
	stopA := start(t, r.processor(t, nil))
	time.Sleep(4 * time.Second)
	stopB := start(t, r.processor(t, nil)) // joins: the group rebalances
	time.Sleep(5 * time.Second)
	stopA() // leaves: B takes every partition
	done()
	r.waitRows(t, n)
	time.Sleep(time.Second)
	stopB()
	if rows, distinct := r.count(t); rows != n || distinct != n {
		t.Fatalf("rows=%d distinct=%d, want %d", rows, distinct, n)
	}
}

// ClickHouse goes away for 30 seconds while records flow: the processor
// waits and retries without fetching more than it holds, then catches up;
// nothing is lost or doubled, and memory stays flat.
func TestProcessorSurvivesClickHouseDown(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dir := t.TempDir()
	port := 19400 + os.Getpid()%500
	ch, err := store.StartLocal(ctx, dir, port, log)
	if err != nil {
		t.Fatalf("starting a private ClickHouse for this test: %v", err)
	}
	t.Cleanup(func() { ch.Stop() })
	r := newRigWithStore(t, readingsSpec, ch.DSN)
	b := r.bus
	p, err := stream.NewProcessor(stream.Config{Feed: r.feed, MaxRows: 1000, MaxWait: 100 * time.Millisecond,
		RetryMin: 100 * time.Millisecond, RetryMax: 2 * time.Second, Logger: log}, b, r.store, r.prod)
	if err != nil {
		t.Fatal(err)
	}
	const n = 60000
	done := r.produceSlowly(t, n, 60, 40*time.Second)
	stop := start(t, p)
	time.Sleep(3 * time.Second)
	before, _ := r.count(t)
	heapBefore := heapInUse()
	ch.Stop()
	var peak uint64
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(time.Second) {
		peak = max(peak, heapInUse())
	}
	ch, err = store.StartLocal(ctx, dir, port, log)
	if err != nil {
		t.Fatalf("restarting ClickHouse: %v", err)
	}
	done()
	r.waitRows(t, n)
	time.Sleep(time.Second)
	stop()
	if rows, distinct := r.count(t); rows != n || distinct != n {
		t.Fatalf("rows=%d distinct=%d, want %d", rows, distinct, n)
	}
	t.Logf("rows before the outage %d; heap in use before %d MiB, peak during 30 s outage %d MiB", before, heapBefore>>20, peak>>20)
	if peak > heapBefore+64<<20 {
		t.Errorf("heap grew from %d MiB to %d MiB while ClickHouse was down; the backlog must stay in Kafka", heapBefore>>20, peak>>20)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
