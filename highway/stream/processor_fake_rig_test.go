package stream_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/stream"
	"github.com/cityhighway/highway/highway/stream/streamtest"
)

// fakeRig is one unit test's feed on the embedded broker (kfake) with an
// in-memory sink: the real Processor and the real bus, no ClickHouse.
type fakeRig struct {
	feed     *catalog.Feed
	pipeline *catalog.Pipeline
	bus      *bus.Bus
	prod     *bus.Producer
	sink     *streamtest.Sink
}

const fakeFeedSpec = `
kind: feed
name: unit.readings
department: TEST
fields:
  - {name: station, type: string, required: true}
  - {name: value, type: float64, min: 0, max: 100}
  - {name: at, type: time, required: true}
key: [station]
event_time: at
interval: 1m
`

// newFakeRig starts an embedded broker and creates the feed's topic (with
// the given partitions) and dead-letter topic.
func newFakeRig(t *testing.T, spec string, partitions int) *fakeRig {
	t.Helper()
	c, err := catalog.Parse("unit.yaml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	e, err := bus.StartEmbedded(bus.EmbeddedConfig{Partitions: partitions})
	if err != nil {
		t.Fatal(err)
	}
	b, err := bus.New(bus.Config{Brokers: e.Brokers(), SessionTimeout: 6 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		e.Close()
		t.Fatal(err)
	}
	feed := c.Feeds()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.EnsureTopics(ctx, partitions, feed.Topic(), feed.DLQTopic()); err != nil {
		t.Fatal(err)
	}
	r := &fakeRig{feed: feed, pipeline: c.PipelineOf(feed.Name), bus: b, prod: b.NewProducer(), sink: streamtest.New()}
	t.Cleanup(func() { r.prod.Close(); b.Close(); e.Close() })
	return r
}

// send produces raw record values, keyed by station key(i).
func (r *fakeRig) send(t *testing.T, values []string, key func(i int) string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs := make([]bus.Message, len(values))
	for i, v := range values {
		msgs[i] = bus.Message{Topic: r.feed.Topic(), Key: []byte(key(i)), Value: []byte(v)}
	}
	if err := r.prod.Produce(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

// goodReadings returns n valid records for 10 stations, one a second from
// first seconds after t0.
func goodReadings(first, n int) []string {
	t0 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	out := make([]string, n)
	for i := range out {
		j := first + i
		out[i] = fmt.Sprintf(`{"station":"S%d","value":%d,"at":%q}`, j%10, j%100, t0.Add(time.Duration(j)*time.Second).Format(time.RFC3339))
	}
	return out
}

func byStation(i int) string { return "S" + strconv.Itoa(i%10) }

// processor returns a processor of the rig's feed writing to sink (the
// rig's own when nil), with short retries; tweak adjusts its config.
func (r *fakeRig) processor(t *testing.T, sink stream.Sink, tweak func(*stream.Config)) *stream.Processor {
	t.Helper()
	if sink == nil {
		sink = r.sink
	}
	cfg := stream.Config{Feed: r.feed, MaxRows: 200, MaxWait: 20 * time.Millisecond,
		RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}
	if r.pipeline != nil {
		pl := *r.pipeline
		pl.Batch = catalog.BatchLimits{Rows: 200, Bytes: 1 << 20, MaxWait: 20 * time.Millisecond}
		cfg.Pipeline = &pl
	}
	if tweak != nil {
		tweak(&cfg)
	}
	p, err := stream.NewProcessor(cfg, r.bus, sink, r.prod)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// start runs p until the returned stop is called (or the test ends).
func start(t *testing.T, p *stream.Processor) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := p.Run(ctx); err != nil {
			t.Errorf("processor: %v", err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// eventually polls cond every 10ms until it holds, failing the test with
// what(), which says what was seen, after 20s.
func eventually(t *testing.T, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runUntil runs a processor on the rig's sink until the sink holds rows
// rows, then stops it and returns it for its Stats.
func (r *fakeRig) runUntil(t *testing.T, rows int) *stream.Processor {
	t.Helper()
	p := r.processor(t, nil, nil)
	stop := start(t, p)
	r.waitRows(t, rows)
	stop()
	return p
}

// waitRows waits until the sink holds want rows, and fails if any offset
// is in it twice.
func (r *fakeRig) waitRows(t *testing.T, want int) {
	t.Helper()
	eventually(t, func() bool { rows, _ := r.sink.Count(r.feed); return rows >= want }, func() string {
		rows, distinct := r.sink.Count(r.feed)
		return fmt.Sprintf("%d rows (%d distinct offsets), want %d", rows, distinct, want)
	})
	r.checkOnce(t, want)
}

// checkOnce fails unless the sink holds want rows, each offset once.
func (r *fakeRig) checkOnce(t *testing.T, want int) {
	t.Helper()
	if rows, distinct := r.sink.Count(r.feed); rows != want || distinct != want {
		t.Fatalf("rows=%d distinct offsets=%d, want %d of each: %d lost, %d doubled", rows, distinct, want, want-distinct, rows-distinct)
	}
}

// deadLetters reads the whole dead-letter topic.
func (r *fakeRig) deadLetters(t *testing.T) []bus.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := r.bus.ReadAll(ctx, r.feed.DLQTopic())
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func sortStrings(s []string) []string {
	slices.Sort(s)
	return s
}
