package stream

import (
	"testing"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/envelope"
	"github.com/cityhighway/highway/highway/store"
)

func TestResumeAt(t *testing.T) {
	cases := []struct {
		name              string
		res               store.Resume
		committed         int64
		start, checkUntil int64
	}{
		{"new partition", store.Resume{}, -2, -2, 0},
		{"ledger and table agree", store.Resume{Ledger: 500, HasLedger: true, TableNext: 500, HasRows: true}, 480, 500, 500},
		// The previous owner wrote rows past its last ledger entry: they
		// may have landed in part, so they are checked, not skipped.
		{"rows past the ledger", store.Resume{Ledger: 500, HasLedger: true, TableNext: 730, HasRows: true}, 480, 500, 730},
		{"commit after a failed ledger write", store.Resume{Ledger: 500, HasLedger: true, TableNext: 730, HasRows: true}, 600, 600, 730},
		{"no ledger yet, rows after the commit", store.Resume{TableNext: 300, HasRows: true}, 100, 100, 300},
		{"no ledger, no commit", store.Resume{TableNext: 300, HasRows: true}, -2, -2, 300},
		// Dropped to be filled again: from the group's commit, as before.
		{"table dropped, new group", store.Resume{Ledger: 500, HasLedger: true}, -2, -2, 0},
		{"table dropped, same group", store.Resume{Ledger: 500, HasLedger: true}, 500, 500, 500},
	}
	for _, c := range cases {
		start, until := resumeAt(c.res, c.committed)
		if start != c.start || until != c.checkUntil {
			t.Errorf("%s: resumeAt = %d, %d; want %d, %d", c.name, start, until, c.start, c.checkUntil)
		}
	}
}

func TestRejectLeavesOutWhatTheDeadLetterTopicHolds(t *testing.T) {
	st := &partitionState{mark: bus.DeadLetterMark{Offset: 10, Row: 1}, marked: true}
	b := &batch{}
	for _, r := range []struct {
		offset int64
		row    int
	}{{8, envelope.WholeRecord}, {10, 0}, {10, 1}, {10, 2}, {10, envelope.WholeRecord}, {11, envelope.WholeRecord}} {
		st.reject(b, bus.Message{Offset: r.offset}, r.row, "bad")
	}
	if len(b.bad) != 3 || b.bad[0].Offset != 10 || b.rows[0] != 2 || b.rows[1] != envelope.WholeRecord || b.bad[2].Offset != 11 {
		t.Errorf("rejects kept: offsets %v rows %v; want (10,2), (10,whole), (11,whole)", offsetsOf(b.bad), b.rows)
	}
}

func offsetsOf(msgs []bus.Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Offset
	}
	return out
}
