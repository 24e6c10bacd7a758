package scheduler

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/control"
)

// SlotState is where a slot of a job stands.
type SlotState string

// The states of a slot.
const (
	// SlotRunning: an attempt is assigned to a node and runs under a lease.
	SlotRunning SlotState = "running"
	// SlotRetry: the last attempt failed or was lost; another is due at NotBefore.
	SlotRetry SlotState = "retry"
	// SlotSucceeded: an attempt succeeded; its output is the slot's output.
	SlotSucceeded SlotState = "succeeded"
	// SlotFailed: every allowed attempt failed.
	SlotFailed SlotState = "failed"
	// SlotCancelled: a newer slot replaced it (concurrency: replace).
	SlotCancelled SlotState = "cancelled"
)

// AttemptState is the outcome of one attempt.
type AttemptState string

// The states of an attempt.
const (
	AttemptRunning   AttemptState = "running"
	AttemptSucceeded AttemptState = "succeeded"
	AttemptFailed    AttemptState = "failed"
	// AttemptLost: the lease ran out, or the node restarted, before a report.
	AttemptLost      AttemptState = "lost"
	AttemptCancelled AttemptState = "cancelled"
)

// maxLost bounds the attempts of a slot lost to dead workers; past it the
// slot fails instead of wandering the cluster for ever.
const maxLost = 10

// maxSlots is how many slots of a job the state keeps; older finished slots
// are dropped as new ones are assigned.
const maxSlots = 5000

// State is the replicated state: job definitions, the record of their slots
// and the members of the cluster. It is read under the FSM's lock.
type State struct {
	Jobs  map[string]*JobState  `json:"jobs"`
	Nodes map[string]*NodeState `json:"nodes"`
	// Control is the control plane's state: tokens and grants (nil in
	// snapshots made before it existed).
	Control *control.State `json:"control,omitempty"`
}

// JobState is a job's definition and the record of its runs.
type JobState struct {
	Job    *catalog.Job `json:"job"`
	Paused bool         `json:"paused"`
	// Version counts the definitions put; it starts at 1.
	Version int   `json:"version"`
	Created int64 `json:"created"`
	Updated int64 `json:"updated"`
	// Next is the start of the next slot the leader schedules (Unix
	// seconds); zero until the leader sets it.
	Next    int64 `json:"next"`
	Skipped int64 `json:"skipped"`
	// Triggers are slots asked to run now, in the order asked.
	Triggers []Span          `json:"triggers,omitempty"`
	Slots    map[int64]*Slot `json:"slots"`
}

// Span is a slot's bounds, Unix seconds, end excluded.
type Span struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

// Slot is one time slot of a job and its attempts.
type Slot struct {
	Span
	State SlotState `json:"state"`
	// NotBefore is when a retry may start (Unix ms).
	NotBefore int64 `json:"not_before,omitempty"`
	// Failures counts attempts that failed (lost ones are not counted).
	Failures int       `json:"failures"`
	Attempts []Attempt `json:"attempts"`
}

// Current returns the latest attempt, or nil.
func (s *Slot) Current() *Attempt {
	if len(s.Attempts) == 0 {
		return nil
	}
	return &s.Attempts[len(s.Attempts)-1]
}

// Attempt is one run of a slot on one node.
type Attempt struct {
	N     int          `json:"n"`
	Node  string       `json:"node"`
	State AttemptState `json:"state"`
	// Index is the log index of the assignment: a restarted worker runs only
	// attempts assigned after it started.
	Index      uint64 `json:"index"`
	AssignedAt int64  `json:"assigned_at"` // Unix ms
	Lease      int64  `json:"lease"`       // Unix ms
	EndedAt    int64  `json:"ended_at,omitempty"`
	Rows       int64  `json:"rows,omitempty"`
	Error      string `json:"error,omitempty"`
}

// NodeState is a member of the cluster as the scheduler knows it.
type NodeState struct {
	ID       string `json:"id"`
	Raft     string `json:"raft"`
	HTTP     string `json:"http"`
	Draining bool   `json:"draining"`
	// Assigned counts the attempts ever assigned to the node.
	Assigned int64 `json:"assigned"`
}

// FSM is the scheduler's raft state machine. Apply must be deterministic:
// it reads no clock and no outside state, only the entry and the state, so
// every node that applies the same log holds the same State.
type FSM struct {
	mu    sync.RWMutex
	state *State
	log   *slog.Logger
	// changed is signalled (without blocking) after every applied entry.
	changed chan struct{}
	// controlChanged is closed, and replaced, at each change of the
	// control plane's state (under mu).
	controlChanged chan struct{}
	// applied is the log index of the last entry in state (under mu).
	// Raft's own AppliedIndex runs ahead of it: raft counts an entry
	// applied when it hands it to the FSM's goroutine, before Apply.
	applied uint64
}

// Applied returns the log index of the last entry the state holds.
func (f *FSM) Applied() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.applied
}

// NewFSM returns an empty state machine.
func NewFSM(log *slog.Logger) *FSM {
	if log == nil {
		log = slog.Default()
	}
	return &FSM{state: newState(), log: log, changed: make(chan struct{}, 1), controlChanged: make(chan struct{})}
}

func newState() *State {
	return &State{Jobs: map[string]*JobState{}, Nodes: map[string]*NodeState{}, Control: &control.State{}}
}

// Control returns a copy of the control plane's state and a channel
// closed at its next change (a long poll waits on it).
func (f *FSM) Control() (*control.State, <-chan struct{}) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.state.Control.Clone(), f.controlChanged
}

// controlChange wakes the control plane's watchers; the caller holds mu.
func (f *FSM) controlChange() {
	close(f.controlChanged)
	f.controlChanged = make(chan struct{})
}

// Changed is signalled after entries are applied; a reader that misses a
// signal gets the next one.
func (f *FSM) Changed() <-chan struct{} { return f.changed }

// Read calls fn with the state under a read lock; fn must not keep
// references past its return, nor propose entries.
func (f *FSM) Read(fn func(*State)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fn(f.state)
}

// Apply applies one committed log entry; raft calls it from one goroutine.
// It returns nil or an error wrapping ErrRejected.
func (f *FSM) Apply(l *raft.Log) any {
	c, err := decode(l.Data)
	if err != nil {
		f.log.Error("skipping undecodable log entry", "index", l.Index, "err", err)
		return err
	}
	f.mu.Lock()
	f.applied = max(f.applied, l.Index)
	err = f.state.apply(c, l.Index, f.log)
	if err == nil && control.IsOp(string(c.Op)) {
		f.controlChange()
	}
	f.mu.Unlock()
	select {
	case f.changed <- struct{}{}:
	default:
	}
	return err
}

// apply changes the state by one command.
func (s *State) apply(c *Command, index uint64, log *slog.Logger) error {
	if c.V > EntryVersion {
		log.Warn("log entry from a newer version", "version", c.V, "op", c.Op, "index", index)
	}
	if control.IsOp(string(c.Op)) {
		if c.Control == nil || string(c.Control.Op) != string(c.Op) {
			return fmt.Errorf("%w: %s entry without its change", ErrRejected, c.Op)
		}
		if err := s.Control.Apply(c.Control, time.UnixMilli(c.At)); err != nil {
			return fmt.Errorf("%w: %w", ErrRejected, err)
		}
		s.Control.Index = index
		return nil
	}
	switch c.Op {
	case OpPutJob:
		if c.Job == nil || c.Job.Name == "" {
			return fmt.Errorf("%w: put_job without a job", ErrRejected)
		}
		js := s.Jobs[c.Job.Name]
		if js != nil && c.Create {
			return fmt.Errorf("%w: %q", ErrExists, c.Job.Name)
		}
		if js == nil {
			js = &JobState{Created: c.At, Slots: map[int64]*Slot{}, Paused: c.Job.Paused}
			s.Jobs[c.Job.Name] = js
		} else if c.Job.Every != js.Job.Every || c.Job.Cron != js.Job.Cron || c.Job.TimeZone != js.Job.TimeZone {
			js.Next = 0 // a new schedule: the leader realigns the cursor
		}
		js.Job = c.Job
		js.Version++
		js.Updated = c.At
		return nil
	case OpNode:
		n := s.Nodes[c.Node]
		if n == nil {
			n = &NodeState{ID: c.Node}
			s.Nodes[c.Node] = n
		}
		if c.Raft != "" {
			n.Raft = c.Raft
		}
		if c.HTTP != "" {
			n.HTTP = c.HTTP
		}
		return nil
	case OpRemoveNode:
		delete(s.Nodes, c.Node)
		return nil
	case OpDrain, OpUndrain:
		n := s.Nodes[c.Node]
		if n == nil {
			return fmt.Errorf("%w: no member %q", ErrRejected, c.Node)
		}
		n.Draining = c.Op == OpDrain
		return nil
	}
	js := s.Jobs[c.Name]
	if js == nil {
		if c.Op != OpDeleteJob && c.Op != OpPause && c.Op != OpResume && c.Op != OpTrigger && c.Op != OpCursor &&
			c.Op != OpAssign && c.Op != OpRenew && c.Op != OpFinish && c.Op != OpExpire && c.Op != OpCancel {
			log.Warn("ignoring unknown log entry", "op", c.Op, "version", c.V, "index", index)
			return nil
		}
		return fmt.Errorf("%w %q", ErrNoJob, c.Name)
	}
	switch c.Op {
	case OpDeleteJob:
		delete(s.Jobs, c.Name)
	case OpPause:
		js.Paused = true
	case OpResume:
		js.Paused = false
	case OpTrigger:
		if c.End <= c.Slot {
			return fmt.Errorf("%w: slot end %d is not after its start %d", ErrRejected, c.End, c.Slot)
		}
		sp := Span{c.Slot, c.End}
		if !slices.Contains(js.Triggers, sp) {
			js.Triggers = append(js.Triggers, sp)
		}
	case OpCursor:
		if c.Next <= js.Next {
			return fmt.Errorf("%w: cursor of %s is at %d already, not before %d", ErrRejected, c.Name, js.Next, c.Next)
		}
		js.Next = c.Next
		js.Skipped += c.Skipped
	case OpAssign:
		return s.assign(js, c, index)
	case OpRenew, OpFinish, OpExpire, OpCancel:
		sl := js.Slots[c.Slot]
		if sl == nil || sl.State != SlotRunning {
			return ErrStale
		}
		a := sl.Current()
		if a.N != c.Attempt || a.State != AttemptRunning || (c.Node != "" && a.Node != c.Node) {
			return ErrStale
		}
		switch c.Op {
		case OpRenew:
			a.Lease = max(a.Lease, c.Lease)
		case OpFinish:
			a.EndedAt, a.Rows, a.Error = c.At, c.Rows, c.Error
			if c.OK {
				a.State, sl.State = AttemptSucceeded, SlotSucceeded
				break
			}
			a.State = AttemptFailed
			sl.Failures++
			if sl.Failures > js.Job.Retries {
				sl.State = SlotFailed
				break
			}
			sl.State = SlotRetry
			sl.NotBefore = c.At + js.Job.Backoff.Milliseconds()<<(sl.Failures-1)
		case OpExpire:
			if c.Node == "" && c.At < a.Lease {
				return fmt.Errorf("%w: lease of attempt %d runs until %d, after %d", ErrRejected, a.N, a.Lease, c.At)
			}
			a.State, a.EndedAt = AttemptLost, c.At
			a.Error = c.Error
			if lost := countLost(sl); lost >= maxLost {
				sl.State = SlotFailed
				break
			}
			sl.State, sl.NotBefore = SlotRetry, c.At
		case OpCancel:
			a.State, a.EndedAt, a.Error = AttemptCancelled, c.At, c.Error
			sl.State = SlotCancelled
		}
	default:
		log.Warn("ignoring unknown log entry", "op", c.Op, "version", c.V, "index", index)
	}
	return nil
}

func countLost(sl *Slot) int {
	n := 0
	for _, a := range sl.Attempts {
		if a.State == AttemptLost {
			n++
		}
	}
	return n
}

// assign records an attempt. It refuses any assignment that could make a
// slot run twice at once: the slot must be new (attempt 1) or waiting for a
// retry or triggered again, with Attempt one more than the last.
func (s *State) assign(js *JobState, c *Command, index uint64) error {
	if c.End <= c.Slot {
		return fmt.Errorf("%w: slot end %d is not after its start %d", ErrRejected, c.End, c.Slot)
	}
	if s.Nodes[c.Node] == nil {
		return fmt.Errorf("%w: no member %q", ErrRejected, c.Node)
	}
	sl := js.Slots[c.Slot]
	trigger := slices.Index(js.Triggers, Span{c.Slot, c.End})
	switch {
	case sl == nil:
		if c.Attempt != 1 {
			return fmt.Errorf("%w: slot %d of %s has no attempt yet, not %d", ErrRejected, c.Slot, c.Name, c.Attempt-1)
		}
		sl = &Slot{Span: Span{c.Slot, c.End}}
		js.Slots[c.Slot] = sl
	case sl.State == SlotRunning:
		return fmt.Errorf("%w: slot %d of %s is running (attempt %d)", ErrRejected, c.Slot, c.Name, sl.Current().N)
	case sl.State != SlotRetry && trigger < 0:
		return fmt.Errorf("%w: slot %d of %s is %s", ErrRejected, c.Slot, c.Name, sl.State)
	case c.Attempt != len(sl.Attempts)+1:
		return fmt.Errorf("%w: slot %d of %s is at attempt %d, not %d", ErrRejected, c.Slot, c.Name, len(sl.Attempts), c.Attempt-1)
	}
	if trigger >= 0 {
		js.Triggers = slices.Delete(js.Triggers, trigger, trigger+1)
		if sl.State != SlotRetry {
			sl.Failures = 0 // a triggered rerun gets its own retries
		}
	}
	sl.State, sl.NotBefore = SlotRunning, 0
	sl.Attempts = append(sl.Attempts, Attempt{
		N: c.Attempt, Node: c.Node, State: AttemptRunning, Index: index, AssignedAt: c.At, Lease: c.Lease,
	})
	s.Nodes[c.Node].Assigned++
	if c.Slot >= js.Next && trigger < 0 {
		js.Next = c.End
	}
	if len(js.Slots) > maxSlots {
		prune(js)
	}
	return nil
}

// prune drops the oldest finished slots of a job beyond maxSlots.
func prune(js *JobState) {
	starts := make([]int64, 0, len(js.Slots))
	for st, sl := range js.Slots {
		if sl.State != SlotRunning && sl.State != SlotRetry {
			starts = append(starts, st)
		}
	}
	slices.Sort(starts)
	for _, st := range starts[:max(0, min(len(starts), len(js.Slots)-maxSlots))] {
		delete(js.Slots, st)
	}
}

// Snapshot captures the state; raft calls it from the FSM goroutine, then
// Persist from another while Apply goes on.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	b, err := json.Marshal(snapshotFile{V: EntryVersion, State: f.state, Applied: f.applied})
	if err != nil {
		return nil, fmt.Errorf("snapshotting scheduler state: %w", err)
	}
	return fsmSnapshot(b), nil
}

// Restore replaces the state with a snapshot's.
func (f *FSM) Restore(r io.ReadCloser) error {
	defer r.Close()
	var sf snapshotFile
	if err := json.NewDecoder(r).Decode(&sf); err != nil {
		return fmt.Errorf("restoring scheduler snapshot: %w", err)
	}
	if sf.State == nil {
		sf.State = newState()
	}
	if sf.State.Jobs == nil {
		sf.State.Jobs = map[string]*JobState{}
	}
	if sf.State.Nodes == nil {
		sf.State.Nodes = map[string]*NodeState{}
	}
	if sf.State.Control == nil {
		sf.State.Control = &control.State{}
	}
	for _, js := range sf.State.Jobs {
		if js.Slots == nil {
			js.Slots = map[int64]*Slot{}
		}
	}
	f.mu.Lock()
	f.state = sf.State
	f.applied = sf.Applied
	f.controlChange()
	f.mu.Unlock()
	select {
	case f.changed <- struct{}{}:
	default:
	}
	return nil
}

// snapshotFile is the versioned form of a snapshot.
type snapshotFile struct {
	V     int    `json:"v"`
	State *State `json:"state"`
	// Applied is the log index of the last entry in State (0 in snapshots
	// made before it was kept).
	Applied uint64 `json:"applied,omitempty"`
}

type fsmSnapshot []byte

func (s fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("writing scheduler snapshot: %w", err)
	}
	return sink.Close()
}

func (s fsmSnapshot) Release() {}
