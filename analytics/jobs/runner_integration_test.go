//go:build integration

package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/cityhighway/highway/analytics/scheduler"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/internal/testenv"
)

// TestRunnerRetryReplacesOutput runs one slot three times, as a lost lease
// and retries would, and checks the latest view shows one attempt's rows.
func TestRunnerRetryReplacesOutput(t *testing.T) {
	ctx := context.Background()
	st := testenv.Store(t)
	job := &catalog.Job{Name: "t.numbers", Table: "t_numbers",
		SQL: "SELECT number AS n, {slot_start} AS s FROM (SELECT number FROM system.numbers LIMIT 100) WHERE number < toUInt64(toUnixTimestamp({slot_end}) - toUnixTimestamp({slot_start}))"}
	r := NewRunner(st, nil)
	slot := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	other := slot.Add(time.Minute)
	for _, run := range []scheduler.Run{
		{Job: job.Name, Start: slot, End: slot.Add(5 * time.Second), Attempt: 1, Node: "a"},
		{Job: job.Name, Start: other, End: other.Add(3 * time.Second), Attempt: 1, Node: "a"},
		{Job: job.Name, Start: slot, End: slot.Add(5 * time.Second), Attempt: 3, Node: "c"},
		{Job: job.Name, Start: slot, End: slot.Add(5 * time.Second), Attempt: 2, Node: "b"}, // a stale attempt finishing late
	} {
		rows, err := r.Run(ctx, job, run)
		if err != nil {
			t.Fatal(err)
		}
		if want := run.End.Sub(run.Start) / time.Second; rows != int64(want) {
			t.Errorf("attempt %d wrote %d rows, want %d", run.Attempt, rows, want)
		}
	}
	got, err := st.QueryRows(ctx, "SELECT toUnixTimestamp(_slot), _attempt, _node, count(), sum(n) FROM t_numbers_latest GROUP BY _slot, _attempt, _node ORDER BY _slot")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]any{
		{uint32(slot.Unix()), uint32(3), "c", uint64(5), uint64(10)},
		{uint32(other.Unix()), uint32(1), "a", uint64(3), uint64(3)},
	}
	if len(got) != len(want) {
		t.Fatalf("latest view holds %v, want %v", got, want)
	}
	for i := range want {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Errorf("row %d column %d = %v (%T), want %v", i, j, got[i][j], got[i][j], want[i][j])
			}
		}
	}
}
