package scheduler

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/control"
)

// EntryVersion is the version of the log entries this build writes. An
// entry carries its version; a node applies entries of any version up to
// the one it knows, and treats an operation it does not know as a no-op
// (logged), so a cluster keeps running while its nodes are upgraded one by
// one. New fields are added as optional JSON fields, which older nodes
// ignore; the meaning of an existing field never changes within a version.
const EntryVersion = 1

// Op names one kind of log entry.
type Op string

// The operations of the replicated log.
const (
	// OpPutJob creates or replaces a job definition (Job).
	OpPutJob Op = "put_job"
	// OpDeleteJob removes a job and its runs (Name).
	OpDeleteJob Op = "delete_job"
	// OpPause and OpResume stop and restart the scheduling of a job (Name).
	OpPause  Op = "pause"
	OpResume Op = "resume"
	// OpTrigger asks for one slot of a job to run now (Name, Slot), even if
	// it ran already; a rerun replaces the slot's output.
	OpTrigger Op = "trigger"
	// OpCursor moves a job's cursor, the start of the next slot the leader
	// will schedule, forward to Next; the slots jumped over are counted as
	// skipped (Name, Next, Skipped).
	OpCursor Op = "cursor"
	// OpAssign records the leader's decision that attempt Attempt of slot
	// Slot of job Name runs on node Node under a lease until Lease. It is
	// in the log before any worker runs the slot.
	OpAssign Op = "assign"
	// OpRenew extends the lease of a running attempt (Name, Slot, Attempt,
	// Node, Lease).
	OpRenew Op = "renew"
	// OpFinish reports the outcome of an attempt (Name, Slot, Attempt, Node,
	// OK, Rows, Error).
	OpFinish Op = "finish"
	// OpExpire records that an attempt's lease ran out (or that its node
	// restarted and abandoned it): the attempt is lost and the slot retried.
	OpExpire Op = "expire"
	// OpCancel stops a running attempt because a newer slot replaces it
	// (concurrency: replace).
	OpCancel Op = "cancel"
	// OpNode registers or updates a member (Node, Raft, HTTP).
	OpNode Op = "node"
	// OpRemoveNode forgets a member (Node).
	OpRemoveNode Op = "remove_node"
	// OpDrain and OpUndrain stop and restart assignments to a node (Node).
	OpDrain   Op = "drain"
	OpUndrain Op = "undrain"

	// The control plane's changes (tokens and grants) are ops named by
	// control.Op ("token.create", "grant.add", ...), with the change in
	// Control; see highway/control.

	// opJoin and opRemove are never in the log: they ask the leader to add
	// a voter (then to append OpNode for it) or to remove one.
	opJoin   Op = "join"
	opRemove Op = "remove"
)

// Command is one entry of the replicated log. Times are Unix milliseconds
// taken by the proposer, so applying an entry never reads a clock and every
// node reaches the same state.
type Command struct {
	V  int   `json:"v"`
	Op Op    `json:"op"`
	At int64 `json:"at"`

	Job     *catalog.Job `json:"job,omitempty"`
	Name    string       `json:"name,omitempty"`
	Slot    int64        `json:"slot,omitempty"` // slot start, Unix seconds
	End     int64        `json:"end,omitempty"`  // slot end, Unix seconds
	Attempt int          `json:"attempt,omitempty"`
	Node    string       `json:"node,omitempty"`
	Lease   int64        `json:"lease,omitempty"` // lease deadline, Unix ms
	OK      bool         `json:"ok,omitempty"`
	Rows    int64        `json:"rows,omitempty"`
	Error   string       `json:"error,omitempty"`
	Next    int64        `json:"next,omitempty"` // new cursor, Unix seconds
	Skipped int64        `json:"skipped,omitempty"`
	Raft    string       `json:"raft,omitempty"`
	HTTP    string       `json:"http,omitempty"`
	// Create makes put_job refuse a name that exists (ErrExists).
	Create bool `json:"create,omitempty"`
	// Control is the change of a control-plane op.
	Control *control.Change `json:"control,omitempty"`
}

// Errors returned by applying a command. They are part of the contract
// between workers and the leader: a worker that gets ErrStale stops.
var (
	// ErrRejected is wrapped by every refusal of the state machine.
	ErrRejected = errors.New("rejected")
	// ErrStale means the attempt named is no longer the running attempt of
	// its slot (it finished, expired, was cancelled or superseded).
	ErrStale = fmt.Errorf("%w: attempt is not running", ErrRejected)
	// ErrNoJob means no job has the name given.
	ErrNoJob = fmt.Errorf("%w: no such job", ErrRejected)
	// ErrExists means a job of that name exists already.
	ErrExists = fmt.Errorf("%w: job exists", ErrRejected)
	// ErrNotLeader means the node is not the leader and knows no leader to
	// forward to.
	ErrNotLeader = errors.New("no leader")
)

func encode(c *Command) ([]byte, error) {
	if c.V == 0 {
		c.V = EntryVersion
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encoding %s entry: %w", c.Op, err)
	}
	return b, nil
}

func decode(b []byte) (*Command, error) {
	var c Command
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("decoding log entry: %w", err)
	}
	return &c, nil
}
