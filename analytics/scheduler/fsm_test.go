package scheduler

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cityhighway/highway/highway/catalog"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func testJob(name string) *catalog.Job {
	return &catalog.Job{Name: name, Department: "X", Every: time.Second, SQL: "SELECT 1", Table: "t", Timeout: time.Minute,
		Retries: 1, Backoff: time.Second, Concurrency: catalog.Forbid}
}

// applyAll applies commands in order and returns each answer.
func applyAll(t *testing.T, f *FSM, cmds ...*Command) []error {
	t.Helper()
	var out []error
	for i, c := range cmds {
		b, err := encode(c)
		if err != nil {
			t.Fatal(err)
		}
		r := f.Apply(&raft.Log{Index: uint64(i + 1), Type: raft.LogCommand, Data: b})
		err, _ = r.(error)
		out = append(out, err)
	}
	return out
}

func TestFSMSlotLifecycle(t *testing.T) {
	base := []*Command{
		{Op: OpNode, Node: "a", HTTP: "a:1"},
		{Op: OpNode, Node: "b", HTTP: "b:1"},
		{Op: OpPutJob, At: 1000, Job: testJob("j.x")},
	}
	assign := func(attempt int, node string, at int64) *Command {
		return &Command{Op: OpAssign, At: at, Name: "j.x", Slot: 10, End: 11, Attempt: attempt, Node: node, Lease: at + 5000}
	}
	tests := []struct {
		name      string
		cmds      []*Command
		wantErrs  []error // one per command after base; nil means accepted
		wantSlot  SlotState
		wantTries int
	}{
		{"assign then succeed",
			[]*Command{assign(1, "a", 2000), {Op: OpFinish, At: 2500, Name: "j.x", Slot: 10, Attempt: 1, Node: "a", OK: true, Rows: 3}},
			[]error{nil, nil}, SlotSucceeded, 1},
		{"second assignment of a running slot is refused",
			[]*Command{assign(1, "a", 2000), assign(1, "b", 2001), assign(2, "b", 2001)},
			[]error{nil, ErrRejected, ErrRejected}, SlotRunning, 1},
		{"a succeeded slot is never assigned again",
			[]*Command{assign(1, "a", 2000), {Op: OpFinish, At: 2100, Name: "j.x", Slot: 10, Attempt: 1, Node: "a", OK: true}, assign(2, "b", 2200)},
			[]error{nil, nil, ErrRejected}, SlotSucceeded, 1},
		{"failure, retry, failure exhausts retries",
			[]*Command{assign(1, "a", 2000), {Op: OpFinish, At: 2100, Name: "j.x", Slot: 10, Attempt: 1, Node: "a", Error: "boom"},
				assign(2, "b", 3200), {Op: OpFinish, At: 3300, Name: "j.x", Slot: 10, Attempt: 2, Node: "b", Error: "boom"}},
			[]error{nil, nil, nil, nil}, SlotFailed, 2},
		{"renew and finish from another node are stale",
			[]*Command{assign(1, "a", 2000), {Op: OpRenew, Name: "j.x", Slot: 10, Attempt: 1, Node: "b", Lease: 9000},
				{Op: OpFinish, Name: "j.x", Slot: 10, Attempt: 1, Node: "b", OK: true}},
			[]error{nil, ErrStale, ErrStale}, SlotRunning, 1},
		{"expiry before the lease ends is refused",
			[]*Command{assign(1, "a", 2000), {Op: OpExpire, At: 6999, Name: "j.x", Slot: 10, Attempt: 1}},
			[]error{nil, ErrRejected}, SlotRunning, 1},
		{"renewed lease, then expiry, then the late report is stale",
			[]*Command{assign(1, "a", 2000), {Op: OpRenew, Name: "j.x", Slot: 10, Attempt: 1, Node: "a", Lease: 9000},
				{Op: OpExpire, At: 8000, Name: "j.x", Slot: 10, Attempt: 1}, {Op: OpExpire, At: 9000, Name: "j.x", Slot: 10, Attempt: 1},
				{Op: OpFinish, At: 9100, Name: "j.x", Slot: 10, Attempt: 1, Node: "a", OK: true},
				assign(2, "b", 9200), {Op: OpFinish, At: 9300, Name: "j.x", Slot: 10, Attempt: 2, Node: "b", OK: true}},
			[]error{nil, nil, ErrRejected, nil, ErrStale, nil, nil}, SlotSucceeded, 2},
		{"a restarted node abandons its attempt at once",
			[]*Command{assign(1, "a", 2000), {Op: OpExpire, At: 2100, Name: "j.x", Slot: 10, Attempt: 1, Node: "a", Error: "restarted"}},
			[]error{nil, nil}, SlotRetry, 1},
		{"trigger reruns a succeeded slot",
			[]*Command{assign(1, "a", 2000), {Op: OpFinish, At: 2100, Name: "j.x", Slot: 10, Attempt: 1, Node: "a", OK: true},
				{Op: OpTrigger, Name: "j.x", Slot: 10, End: 11}, assign(2, "b", 2200)},
			[]error{nil, nil, nil, nil}, SlotRunning, 2},
		{"unknown member", []*Command{assign(1, "zz", 2000)}, []error{ErrRejected}, "", 0},
		{"unknown job", []*Command{{Op: OpPause, Name: "j.nope"}}, []error{ErrNoJob}, "", 0},
		{"create refuses an existing job", []*Command{{Op: OpPutJob, Create: true, Job: testJob("j.x")}}, []error{ErrExists}, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFSM(quiet)
			for i, err := range applyAll(t, f, append(base, tt.cmds...)...) {
				var want error
				if i >= len(base) {
					want = tt.wantErrs[i-len(base)]
				}
				if (want == nil) != (err == nil) || want != nil && !errors.Is(err, want) {
					t.Errorf("command %d (%s): got %v, want %v", i, append(base, tt.cmds...)[i].Op, err, want)
				}
			}
			f.Read(func(s *State) {
				sl := s.Jobs["j.x"].Slots[10]
				if tt.wantSlot == "" {
					if sl != nil {
						t.Errorf("slot exists: %+v", sl)
					}
					return
				}
				if sl == nil || sl.State != tt.wantSlot || len(sl.Attempts) != tt.wantTries {
					t.Errorf("slot = %+v, want state %s with %d attempts", sl, tt.wantSlot, tt.wantTries)
				}
			})
		})
	}
}

func TestFSMRetryBackoffDoubles(t *testing.T) {
	f := NewFSM(quiet)
	j := testJob("j.x")
	j.Retries, j.Backoff = 3, time.Second
	applyAll(t, f,
		&Command{Op: OpNode, Node: "a"},
		&Command{Op: OpPutJob, Job: j},
		&Command{Op: OpAssign, At: 0, Name: "j.x", Slot: 10, End: 11, Attempt: 1, Node: "a", Lease: 99999},
		&Command{Op: OpFinish, At: 1000, Name: "j.x", Slot: 10, Attempt: 1, Node: "a", Error: "x"},
	)
	var nb1 int64
	f.Read(func(s *State) { nb1 = s.Jobs["j.x"].Slots[10].NotBefore })
	applyAll(t, f,
		&Command{Op: OpAssign, At: 2000, Name: "j.x", Slot: 10, End: 11, Attempt: 2, Node: "a", Lease: 99999},
		&Command{Op: OpFinish, At: 3000, Name: "j.x", Slot: 10, Attempt: 2, Node: "a", Error: "x"},
	)
	var nb2 int64
	f.Read(func(s *State) { nb2 = s.Jobs["j.x"].Slots[10].NotBefore })
	if nb1 != 2000 || nb2 != 5000 {
		t.Errorf("retry not before %d then %d, want 2000 then 5000", nb1, nb2)
	}
}

func TestFSMSnapshotRestore(t *testing.T) {
	f := NewFSM(quiet)
	applyAll(t, f,
		&Command{Op: OpNode, Node: "a", Raft: "r", HTTP: "h"},
		&Command{Op: OpPutJob, At: 5, Job: testJob("j.x")},
		&Command{Op: OpCursor, Name: "j.x", Next: 10},
		&Command{Op: OpAssign, At: 7, Name: "j.x", Slot: 10, End: 11, Attempt: 1, Node: "a", Lease: 99},
		&Command{Op: OpFinish, At: 8, Name: "j.x", Slot: 10, Attempt: 1, Node: "a", OK: true, Rows: 4},
		&Command{Op: OpAssign, At: 9, Name: "j.x", Slot: 11, End: 12, Attempt: 1, Node: "a", Lease: 99},
		&Command{Op: OpDrain, Node: "a"},
		&Command{Op: OpTrigger, Name: "j.x", Slot: 10, End: 11},
	)
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	g := NewFSM(quiet)
	if err := g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	var a, b *State
	f.Read(func(s *State) { a = s })
	g.Read(func(s *State) { b = s })
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("restored state differs:\n%+v\n%+v", a, b)
	}
	// It knows which entry its state holds: a follower's read-your-writes
	// wait (Node.waitApplied) asks it, not raft.
	if f.Applied() != 8 || g.Applied() != 8 {
		t.Errorf("Applied() = %d, restored %d; want 8, the last entry applied", f.Applied(), g.Applied())
	}
	// The restored machine goes on from where the snapshot was taken.
	errs := applyAll(t, g, &Command{Op: OpFinish, At: 10, Name: "j.x", Slot: 11, Attempt: 1, Node: "a", OK: true},
		&Command{Op: OpAssign, At: 11, Name: "j.x", Slot: 11, End: 12, Attempt: 2, Node: "a", Lease: 99})
	if errs[0] != nil || !errors.Is(errs[1], ErrRejected) {
		t.Errorf("after restore: %v", errs)
	}
}

// TestFSMEntryVersions checks the rolling-upgrade rules: entries with
// fields or operations a node does not know are applied without them.
func TestFSMEntryVersions(t *testing.T) {
	f := NewFSM(quiet)
	applyAll(t, f, &Command{Op: OpNode, Node: "a"}, &Command{Op: OpPutJob, Job: testJob("j.x")})
	future := []string{
		`{"v":2,"op":"assign","at":1,"name":"j.x","slot":10,"end":11,"attempt":1,"node":"a","lease":50,"priority":"high"}`,
		`{"v":2,"op":"rebalance","at":2,"name":"j.x"}`,
		`{"v":2,"op":"rebalance","at":2}`,
	}
	for i, e := range future {
		r := f.Apply(&raft.Log{Index: uint64(10 + i), Data: []byte(e)})
		if err, _ := r.(error); err != nil {
			t.Errorf("entry %s: %v", e, err)
		}
	}
	f.Read(func(s *State) {
		if sl := s.Jobs["j.x"].Slots[10]; sl == nil || sl.State != SlotRunning {
			t.Errorf("the newer assign entry was not applied: %+v", sl)
		}
	})
}

type memSink struct{ bytes.Buffer }

func (m *memSink) ID() string    { return "mem" }
func (m *memSink) Cancel() error { return nil }
func (m *memSink) Close() error  { return nil }
