// Package scheduler runs analytics jobs on a cluster of nodes coordinated
// by hashicorp/raft, so that every time slot of every job runs exactly once,
// through the loss of leaders and workers.
//
// The replicated state (FSM) holds the job definitions and the record of
// every slot. Only the leader decides: it appends "slot S of job J runs on
// node N as attempt A, under a lease until L" to the log before anyone runs
// it. The worker on N runs the slot's SQL while it holds the lease, renews
// it through the log, and reports the outcome through the log. A worker
// that dies loses its lease and the leader assigns the next attempt. Output
// is keyed by slot and attempt (see analytics/jobs), so a retry replaces a
// slot's result instead of doubling it.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cityhighway/highway/highway/catalog"
)

// Runner runs one attempt of one slot of a job and returns the rows it
// wrote. It must stop when ctx ends (the attempt's timeout or the loss of
// its lease), and its output must be keyed by slot and attempt so that a
// later attempt replaces it.
type Runner interface {
	Run(ctx context.Context, job *catalog.Job, run Run) (rows int64, err error)
}

// Run identifies the attempt a Runner executes.
type Run struct {
	Job     string
	Start   time.Time // slot start, included
	End     time.Time // slot end, excluded
	Attempt int
	Node    string
}

// Watermarks tells how far a feed's data has arrived: the latest event time
// in its table. The leader asks it for jobs with wait_for.
type Watermarks interface {
	Watermark(ctx context.Context, feed string) (time.Time, error)
}

// Config configures a Node. Zero values take the defaults documented on
// each field; Validate reports the combinations that cannot work.
type Config struct {
	// ID names the node in the cluster; it must be stable across restarts.
	ID string
	// RaftAddr is the host:port other nodes reach this node's raft on; the
	// node listens on it unless Transport is given.
	RaftAddr string
	// HTTPAddr is the host:port of this node's Handler, which other nodes
	// use to forward entries to the leader (HTTP peers).
	HTTPAddr string
	// DataDir keeps the raft log, stable store (raft.db, raft-boltdb) and
	// snapshots. Empty keeps everything in memory (tests).
	DataDir string
	// Bootstrap starts a new cluster with Servers (default: this node alone)
	// when the node has no state yet; ignored when it has.
	Bootstrap bool
	Servers   []raft.Server
	// Transport overrides the TCP transport (tests use raft's in-memory one).
	Transport raft.Transport
	// Peers carries forwarded entries and heartbeats to the leader
	// (default: HTTP to the addresses members registered).
	Peers Peers
	// Runner runs the slots assigned to this node (required).
	Runner Runner
	// Watermarks answers wait_for checks; nil treats every feed as ready.
	Watermarks Watermarks
	// Catalog validates jobs created through the API (default: built-in).
	Catalog *catalog.Catalog
	// Jobs are put into the replicated state whenever this node is elected
	// and they differ from what it holds (the catalogue's jobs).
	Jobs []*catalog.Job
	// ElectionTimeout is raft's heartbeat and election timeout (default 1s).
	ElectionTimeout time.Duration
	// Lease is how long an assignment holds without renewal (default 15s).
	Lease time.Duration
	// Tick is how often the leader looks for due slots (default 100ms).
	Tick time.Duration
	// Heartbeat is how often a node tells the leader it is alive (default
	// 500ms); a node unheard for 3 heartbeats gets no new assignments.
	Heartbeat time.Duration
	// Logger receives the scheduler's log (default slog.Default()).
	Logger *slog.Logger
	// RaftLog receives raft's own log at warn level and above (default stderr).
	RaftLog io.Writer
	// Registerer receives the Prometheus metrics (default: none).
	Registerer prometheus.Registerer
	// ControlSecret, when set, is the bearer token the control plane's
	// routes (tokens and grants, control.go) require.
	ControlSecret string
	// Audit records the control plane's changes asked of this node
	// (default: none).
	Audit Auditor
}

func (c *Config) setDefaults() {
	if c.ElectionTimeout == 0 {
		c.ElectionTimeout = time.Second
	}
	if c.Lease == 0 {
		c.Lease = 15 * time.Second
	}
	if c.Tick == 0 {
		c.Tick = 100 * time.Millisecond
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = 500 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.RaftLog == nil {
		c.RaftLog = os.Stderr
	}
}

// Validate reports a config that cannot work.
func (c *Config) Validate() error {
	switch {
	case c.ID == "":
		return errors.New("scheduler: node ID is empty")
	case c.RaftAddr == "" && c.Transport == nil:
		return errors.New("scheduler: no raft address")
	case c.Runner == nil:
		return errors.New("scheduler: no Runner")
	case c.ElectionTimeout < 50*time.Millisecond:
		return fmt.Errorf("scheduler: election timeout %s is below 50ms", c.ElectionTimeout)
	case c.Lease < 4*c.Heartbeat:
		return fmt.Errorf("scheduler: lease %s must be at least 4 heartbeats (%s)", c.Lease, 4*c.Heartbeat)
	}
	return nil
}

// Node is one member of the scheduler cluster: a raft peer, the leader's
// decision loop (active while it leads) and a worker. It is safe for
// concurrent use.
type Node struct {
	cfg     Config
	log     *slog.Logger
	fsm     *FSM
	raft    *raft.Raft
	trans   raft.Transport
	closers []io.Closer
	peers   Peers
	metrics *metrics
	cat     *catalog.Catalog
	// startIndex is the last log index when this process started: attempts
	// assigned at or before it belong to an earlier life of this node.
	startIndex uint64
	// fresh is true when the node started without raft state.
	fresh bool

	mu   sync.Mutex
	seen map[string]time.Time // heartbeats heard while leading

	wm     sync.Mutex
	wmarks map[string]watermark

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type watermark struct {
	at   time.Time
	when time.Time
}

// New opens the node's stores, starts raft and, with Bootstrap on a node
// without state, forms a new cluster. Call Start to run its loops.
func New(cfg Config) (*Node, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: cfg.Logger.With("node", cfg.ID), seen: map[string]time.Time{}, wmarks: map[string]watermark{}}
	n.fsm = NewFSM(n.log)
	n.metrics = newMetrics(cfg.Registerer)
	n.cat = cfg.Catalog
	if n.cat == nil {
		c, err := catalog.Builtin()
		if err != nil {
			return nil, fmt.Errorf("scheduler: built-in catalogue: %w", err)
		}
		n.cat = c
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.HeartbeatTimeout = cfg.ElectionTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.ElectionTimeout / 2
	rc.SnapshotInterval = 30 * time.Second
	rc.SnapshotThreshold = 2048
	rc.TrailingLogs = 2048
	rc.Logger = hclog.New(&hclog.LoggerOptions{Name: "raft " + cfg.ID, Level: hclog.Warn, Output: cfg.RaftLog})
	if err := raft.ValidateConfig(rc); err != nil {
		return nil, fmt.Errorf("scheduler: raft config: %w", err)
	}

	var (
		logs   raft.LogStore
		stable raft.StableStore
		snaps  raft.SnapshotStore
	)
	if cfg.DataDir == "" {
		mem := raft.NewInmemStore()
		logs, stable, snaps = mem, mem, raft.NewInmemSnapshotStore()
	} else {
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("scheduler: creating data dir: %w", err)
		}
		bolt, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.DataDir, "raft.db")})
		if err != nil {
			return nil, fmt.Errorf("scheduler: opening %s: %w", filepath.Join(cfg.DataDir, "raft.db"), err)
		}
		n.closers = append(n.closers, bolt)
		logs, stable = bolt, bolt
		fs, err := raft.NewFileSnapshotStore(cfg.DataDir, 2, cfg.RaftLog)
		if err != nil {
			n.closeStores()
			return nil, fmt.Errorf("scheduler: snapshot store in %s: %w", cfg.DataDir, err)
		}
		snaps = fs
	}

	n.trans = cfg.Transport
	if n.trans == nil {
		addr, err := net.ResolveTCPAddr("tcp", cfg.RaftAddr)
		if err != nil {
			n.closeStores()
			return nil, fmt.Errorf("scheduler: raft address %q: %w", cfg.RaftAddr, err)
		}
		t, err := raft.NewTCPTransport(cfg.RaftAddr, addr, 3, 5*time.Second, cfg.RaftLog)
		if err != nil {
			n.closeStores()
			return nil, fmt.Errorf("scheduler: listening for raft on %s: %w", cfg.RaftAddr, err)
		}
		n.trans = t
		n.closers = append(n.closers, t)
	}

	last, err := logs.LastIndex()
	if err != nil {
		n.closeStores()
		return nil, fmt.Errorf("scheduler: reading the raft log: %w", err)
	}
	n.startIndex = last
	has, err := raft.HasExistingState(logs, stable, snaps)
	if err != nil {
		n.closeStores()
		return nil, fmt.Errorf("scheduler: checking raft state: %w", err)
	}
	n.fresh = !has
	if cfg.Bootstrap {
		if !has {
			servers := cfg.Servers
			if len(servers) == 0 {
				servers = []raft.Server{{ID: rc.LocalID, Address: n.trans.LocalAddr()}}
			}
			if err := raft.BootstrapCluster(rc, logs, stable, snaps, n.trans, raft.Configuration{Servers: servers}); err != nil {
				n.closeStores()
				return nil, fmt.Errorf("scheduler: bootstrapping the cluster: %w", err)
			}
		}
	}
	r, err := raft.NewRaft(rc, n.fsm, logs, stable, snaps, n.trans)
	if err != nil {
		n.closeStores()
		return nil, fmt.Errorf("scheduler: starting raft: %w", err)
	}
	n.raft = r
	if cfg.Peers == nil {
		n.peers = newHTTPPeers(n.httpAddrOf)
	} else {
		n.peers = cfg.Peers
	}
	return n, nil
}

func (n *Node) closeStores() {
	for i := len(n.closers) - 1; i >= 0; i-- {
		_ = n.closers[i].Close()
	}
	n.closers = nil
}

// Start runs the node's loops until Close or until ctx ends.
func (n *Node) Start(ctx context.Context) {
	ctx, n.cancel = context.WithCancel(ctx)
	for _, loop := range []func(context.Context){n.leaderLoop, n.workerLoop, n.heartbeatLoop} {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			loop(ctx)
		}()
	}
}

// Close stops the loops (running attempts are cancelled, their slots are
// retried elsewhere when their leases run out), then raft and the stores.
func (n *Node) Close() error {
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
	err := n.raft.Shutdown().Error()
	n.closeStores()
	if err != nil {
		return fmt.Errorf("scheduler: shutting down raft: %w", err)
	}
	return nil
}

// Fresh reports whether the node started without raft state: it must be
// bootstrapped or joined to a cluster.
func (n *Node) Fresh() bool { return n.fresh }

// ID is the node's ID.
func (n *Node) ID() string { return n.cfg.ID }

// FSM is the node's replicated state (for reading).
func (n *Node) FSM() *FSM { return n.fsm }

// Raft is the node's raft instance.
func (n *Node) Raft() *raft.Raft { return n.raft }

// IsLeader reports whether the node leads now.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// httpAddrOf returns the HTTP address a member registered, or "".
func (n *Node) httpAddrOf(id string) string {
	var addr string
	n.fsm.Read(func(s *State) {
		if m := s.Nodes[id]; m != nil {
			addr = m.HTTP
		}
	})
	return addr
}

// Propose appends a command to the log through the leader: locally when
// this node leads, forwarded otherwise. It returns the state machine's
// answer (nil, or an error wrapping ErrRejected), or ErrNotLeader when no
// leader is known.
func (n *Node) Propose(ctx context.Context, c *Command) error {
	if c.At == 0 {
		c.At = time.Now().UnixMilli()
	}
	if c.V == 0 {
		c.V = EntryVersion
	}
	if n.IsLeader() {
		_, err := n.applyLocal(c)
		return err
	}
	_, leader := n.raft.LeaderWithID()
	if leader == "" {
		return ErrNotLeader
	}
	index, err := n.peers.Forward(ctx, string(leader), c)
	if err == nil {
		n.waitApplied(ctx, index)
	}
	return err
}

// waitApplied waits, for at most 5 seconds, until this node's state holds
// the entry at index, so a write made through a follower is visible in its
// next read. It asks the FSM, not raft: raft's AppliedIndex counts an entry
// once handed to the FSM, before its Apply has run.
func (n *Node) waitApplied(ctx context.Context, index uint64) {
	deadline := time.Now().Add(5 * time.Second)
	for n.fsm.Applied() < index && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
}

// HandleForward applies a command forwarded by another node and returns
// the log index of its entry; it does not forward again, so a forwarded
// command reaches at most one hop.
func (n *Node) HandleForward(ctx context.Context, c *Command) (uint64, error) {
	if !n.IsLeader() {
		return 0, ErrNotLeader
	}
	switch c.Op {
	case opJoin:
		return 0, n.join(c)
	case opRemove:
		return 0, n.remove(ctx, c.Node)
	}
	return n.applyLocal(c)
}

// HandleHeartbeat records that node id is alive; only the leader keeps it.
func (n *Node) HandleHeartbeat(id string) {
	n.mu.Lock()
	n.seen[id] = time.Now()
	n.mu.Unlock()
}

// applyLocal appends a command on this node, the leader, and returns its
// log index and the state machine's answer.
func (n *Node) applyLocal(c *Command) (uint64, error) {
	b, err := encode(c)
	if err != nil {
		return 0, err
	}
	f := n.raft.Apply(b, 5*time.Second)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) || errors.Is(err, raft.ErrLeadershipTransferInProgress) {
			return 0, fmt.Errorf("%w: %v", ErrNotLeader, err)
		}
		return 0, fmt.Errorf("applying %s: %w", c.Op, err)
	}
	if e, ok := f.Response().(error); ok {
		return f.Index(), e
	}
	return f.Index(), nil
}

// join adds a voter and registers it; the leader runs it.
func (n *Node) join(c *Command) error {
	if c.Node == "" || c.Raft == "" {
		return fmt.Errorf("%w: join needs a node ID and a raft address", ErrRejected)
	}
	if err := n.raft.AddVoter(raft.ServerID(c.Node), raft.ServerAddress(c.Raft), 0, 10*time.Second).Error(); err != nil {
		return fmt.Errorf("adding %s at %s: %w", c.Node, c.Raft, err)
	}
	_, err := n.applyLocal(&Command{V: EntryVersion, Op: OpNode, At: c.At, Node: c.Node, Raft: c.Raft, HTTP: c.HTTP})
	return err
}

// Join asks the cluster, through this node's leader, to add member id.
func (n *Node) Join(ctx context.Context, id, raftAddr, httpAddr string) error {
	c := &Command{Op: opJoin, Node: id, Raft: raftAddr, HTTP: httpAddr, At: time.Now().UnixMilli(), V: EntryVersion}
	if n.IsLeader() {
		return n.join(c)
	}
	_, leader := n.raft.LeaderWithID()
	if leader == "" {
		return ErrNotLeader
	}
	_, err := n.peers.Forward(ctx, string(leader), c)
	return err
}

// Remove takes member id out of the raft configuration and the registry,
// through the leader.
func (n *Node) Remove(ctx context.Context, id string) error {
	if n.IsLeader() {
		return n.remove(ctx, id)
	}
	_, leader := n.raft.LeaderWithID()
	if leader == "" {
		return ErrNotLeader
	}
	_, err := n.peers.Forward(ctx, string(leader), &Command{Op: opRemove, Node: id, At: time.Now().UnixMilli(), V: EntryVersion})
	return err
}

func (n *Node) remove(ctx context.Context, id string) error {
	if err := n.raft.RemoveServer(raft.ServerID(id), 0, 10*time.Second).Error(); err != nil {
		return fmt.Errorf("removing %s: %w", id, err)
	}
	return n.Propose(ctx, &Command{Op: OpRemoveNode, Node: id})
}

// heartbeatLoop tells the leader this node is alive and registers the
// node's addresses when the replicated registry lacks or differs from them.
func (n *Node) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(n.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var registered bool
		n.fsm.Read(func(s *State) {
			m := s.Nodes[n.cfg.ID]
			registered = m != nil && m.HTTP == n.cfg.HTTPAddr && m.Raft == string(n.trans.LocalAddr())
		})
		if !registered && (n.IsLeader() || n.leaderKnown()) {
			c := &Command{Op: OpNode, Node: n.cfg.ID, Raft: string(n.trans.LocalAddr()), HTTP: n.cfg.HTTPAddr}
			if err := n.Propose(ctx, c); err != nil {
				n.log.Debug("registering with the cluster", "err", err)
			}
		}
		if n.IsLeader() {
			continue
		}
		if _, leader := n.raft.LeaderWithID(); leader != "" {
			hctx, cancel := context.WithTimeout(ctx, n.cfg.Heartbeat)
			if err := n.peers.Heartbeat(hctx, string(leader), n.cfg.ID); err != nil {
				n.log.Debug("heartbeat to the leader", "leader", leader, "err", err)
			}
			cancel()
		}
	}
}

func (n *Node) leaderKnown() bool {
	_, id := n.raft.LeaderWithID()
	return id != "" && n.httpAddrOf(string(id)) != "" || id != "" && n.cfg.Peers != nil
}
