package stream_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/stream"
)

// TestProcessorBudgetQuietPartitionsHoldLittle: with a budget smaller than
// what every partition's last batch occupied, partitions that went quiet
// must not keep their grants while they wait for records, or the ones that
// get records next wait for bytes forever.
func TestProcessorBudgetQuietPartitionsHoldLittle(t *testing.T) {
	const partitions = 16
	r := newFakeRig(t, fakeFeedSpec, partitions)
	budget := stream.NewBudget(1 << 20)
	p := r.processor(t, nil, func(c *stream.Config) { c.Budget = budget })
	start(t, p)
	spread := func(i int) string { return "S" + strconv.Itoa(i%97) }
	r.send(t, goodReadings(0, 4000), spread) // every partition's batches grow
	r.waitRows(t, 4000)
	r.send(t, goodReadings(4000, 4000), spread)
	r.waitRows(t, 8000)
	if st := budget.Stats(); st.Used > partitions*64<<10 {
		t.Fatalf("idle partitions hold %d bytes of the budget (%+v)", st.Used, st)
	}
}

// TestProcessorBudgetBacklogBorrows: a feed draining a backlog while
// hundreds of other feeds are idle borrows what they leave unused: its
// batches grow past its share of the budget.
func TestProcessorBudgetBacklogBorrows(t *testing.T) {
	const others, records = 499, 60000
	budget := stream.NewBudget(80 << 20)
	ctx := context.Background()
	for i := range others { // idle feeds, each holding what two waiting partitions hold
		a := budget.Account("idle" + strconv.Itoa(i))
		if _, err := a.Acquire(ctx, 64<<10); err != nil {
			t.Fatal(err)
		}
	}
	idle := budget.Stats().Used
	r := newFakeRig(t, fakeFeedSpec, 2)
	tweak := func(c *stream.Config) { c.Budget, c.MaxRows, c.MaxWait = budget, 30000, 500*time.Millisecond }
	r.send(t, goodReadings(0, 1000), byStation)
	first := start(t, r.processor(t, nil, tweak))
	r.waitRows(t, 1000)
	first()
	r.send(t, goodReadings(1000, records), byStation) // the backlog, before the processor starts
	p := r.processor(t, nil, tweak)
	var most atomic.Int64
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
			if n := budget.Stats().Used - idle; n > most.Load() {
				most.Store(n)
			}
		}
	}()
	start(t, p)
	r.waitRows(t, 1000+records)
	close(done)
	share := budget.Stats().Share
	t.Logf("the backlog feed held at most %d bytes; share %d", most.Load(), share)
	if most.Load() <= share {
		t.Fatalf("the backlog feed held at most %d bytes, never past its share of %d, with the budget otherwise idle (%+v)", most.Load(), share, budget.Stats())
	}
}
