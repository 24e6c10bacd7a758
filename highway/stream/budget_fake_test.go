package stream_test

import (
	"strconv"
	"testing"

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
