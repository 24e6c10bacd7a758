//go:build integration

package stream_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/stream"
	"github.com/cityhighway/highway/internal/testenv"
)

// syncBuffer is a log sink safe for the processors' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the log lines that contain every one of parts.
func (s *syncBuffer) lines(parts ...string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range strings.Split(s.b.String(), "\n") {
		ok := l != ""
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// Isolation (issue 18), on the real Kafka and ClickHouse: three feeds in one
// process, one memory budget and one store. Feed "broken" has its table
// dropped under it while a backlog waits for it, feed "storm" gets records
// that are all rejected, feed "quiet" gets a record now and then. The quiet
// feed's records keep landing within a few MaxWaits; the broken feed's state
// is in highway_processor_waiting and said once per partition at Warn, not
// per attempt or record; once its table is back it writes every record once.
func TestFeedFailureHoldsBackOnlyThatFeed(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.Database(t)
	broken, storm, quiet := newRigWithStore(t, readingsSpec, dsn), newRigWithStore(t, readingsSpec, dsn), newRigWithStore(t, readingsSpec, dsn)
	st := quiet.store // one store for the three, as in `highway process`
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	reg := prometheus.NewRegistry()
	metrics := stream.NewMetrics(reg)
	budget := stream.NewBudget(4 << 20)
	const maxWait = 100 * time.Millisecond
	for _, r := range []*rig{broken, storm, quiet} {
		p, err := stream.NewProcessor(stream.Config{Feed: r.feed, MaxRows: 1000, MaxWait: maxWait,
			RetryMin: 100 * time.Millisecond, RetryMax: 2 * time.Second, Budget: budget, Logger: log, Metrics: metrics}, r.bus, st, r.prod)
		if err != nil {
			t.Fatal(err)
		}
		start(t, p)
	}

	// The broken feed writes, then loses its table with a backlog waiting.
	broken.produce(t, 100, nil, 0)
	broken.waitRows(t, 100)
	if err := st.Exec(ctx, "DROP TABLE "+broken.feed.Table()); err != nil {
		t.Fatal(err)
	}
	const backlog = 50000
	broken.produce(t, backlog, nil, 0)
	// The storm: every record rejected (value above the maximum 100).
	const rejects = 20000
	bad := make([]bus.Message, rejects)
	for i := range bad {
		bad[i] = bus.Message{Topic: storm.feed.Topic(), Key: []byte(fmt.Sprint("S", i%10)),
			Value: fmt.Appendf(nil, `{"station":"S%d","value":500,"at":"2026-11-26T00:00:00Z"}`, i%10)}
	}
	if err := storm.prod.Produce(ctx, bad...); err != nil {
		t.Fatal(err)
	}

	// The quiet feed: one record at a time, each waited for.
	var took []time.Duration
	for i := range 12 {
		began := time.Now()
		quiet.produce(t, 1, nil, 0)
		for {
			if rows, _ := quiet.count(t); rows == uint64(i+1) {
				break
			}
			if time.Since(began) > time.Minute {
				t.Fatalf("the quiet feed's record %d not in ClickHouse after a minute (took so far: %v)", i, took)
			}
			time.Sleep(20 * time.Millisecond)
		}
		took = append(took, time.Since(began))
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("the quiet feed's records landed after %v", took)
	// A loaded machine is slow, but a feed held back by another waits for
	// as long as that one fails: the whole test.
	for i, d := range took {
		if d > 5*time.Second {
			t.Errorf("the quiet feed's record %d landed after %s (all: %v) while another feed's table was gone", i, d, took)
		}
	}

	// The broken feed's state: in the metrics, and said once per partition.
	if got := metricValue(t, reg, "highway_processor_waiting", broken.feed.Name, "inserting into ClickHouse"); got != 1 {
		t.Errorf("highway_processor_waiting{feed=broken, operation=inserting into ClickHouse} = %v, want 1", got)
	}
	if got := metricValue(t, reg, "highway_processor_waiting", quiet.feed.Name, "inserting into ClickHouse"); got != 0 {
		t.Errorf("highway_processor_waiting{feed=quiet} = %v, want 0", got)
	}
	warns := logs.lines("level=WARN", "feed="+broken.feed.Name, "inserting into ClickHouse")
	if len(warns) < 1 || len(warns) > 2 {
		t.Errorf("the broken feed's failure said %d times at Warn, want once per partition (2):\n%s", len(warns), strings.Join(warns, "\n"))
	}
	if n := len(logs.lines("level=WARN", "feed="+quiet.feed.Name)); n > 0 {
		t.Errorf("the quiet feed logged %d warnings: %s", n, strings.Join(logs.lines("feed="+quiet.feed.Name, "level=WARN"), "\n"))
	}

	// Its table back, the broken feed catches up, every record once; the
	// storm's rejects all reached the dead-letter topic.
	if err := st.EnsureFeedTable(ctx, broken.feed); err != nil {
		t.Fatal(err)
	}
	broken.waitRows(t, backlog) // the 100 before the drop went with the table
	if rows, distinct := broken.count(t); rows != backlog || distinct != backlog {
		t.Fatalf("broken feed: rows=%d distinct=%d, want %d", rows, distinct, backlog)
	}
	rejectsTotal := func() float64 {
		return metricValue(t, reg, "highway_processor_rejects_total", storm.feed.Name, "")
	}
	for deadline := time.Now().Add(time.Minute); rejectsTotal() < rejects && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
	}
	if got := rejectsTotal(); got != rejects {
		t.Errorf("the storm feed sent %v rejects, want %d", got, rejects)
	}
	if rows, _ := storm.count(t); rows != 0 {
		t.Errorf("the storm feed wrote %d rows, want 0", rows)
	}
	if got := metricValue(t, reg, "highway_processor_waiting", broken.feed.Name, "inserting into ClickHouse"); got != 0 {
		t.Errorf("highway_processor_waiting{feed=broken} = %v after it recovered, want 0", got)
	}
	if n := len(logs.lines("feed="+broken.feed.Name, `msg=recovered`, "inserting into ClickHouse")); n < 1 {
		t.Errorf("the broken feed's recovery not logged")
	}
}

// metricValue is the sum of the series of name in reg with label feed =
// feed (and operation = op, when op is set), 0 when there is none.
func metricValue(t *testing.T, reg *prometheus.Registry, name, feed, op string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "feed" && l.GetValue() != feed || op != "" && l.GetName() == "operation" && l.GetValue() != op {
					continue series
				}
			}
			sum += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return sum
}
