package control

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Path is the control plane's route on a scheduler node: GET returns the
// State (with ?after=INDEX&wait=DURATION, once its index passes INDEX or
// the wait ends); POST Path+"/changes" applies a Change through the leader.
const Path = "/api/v1/control"

// HeaderActor carries Change.Actor's default: who runs the client.
const HeaderActor = "Highway-Actor"

// ReplicaConfig configures a Replica.
type ReplicaConfig struct {
	// Nodes are the base URLs (http://host:port) of scheduler nodes; the
	// replica follows the first that answers and moves to the next when it
	// stops answering.
	Nodes []string
	// Secret is sent as the bearer token of the control routes (the
	// scheduler's --control-secret); empty sends none.
	Secret string
	// Wait is how long a long poll waits for a change. Default 10s.
	Wait time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Replica is an in-memory copy of the control plane's state, kept current
// by long polls of a scheduler node: every read is a memory lookup. It is
// safe for concurrent use; Run keeps it current.
type Replica struct {
	cfg    ReplicaConfig
	client *http.Client
	state  atomic.Pointer[State]
	synced atomic.Int64 // Unix ms of the last answer

	mu      sync.Mutex
	changed chan struct{} // closed and replaced at each new state
}

// NewReplica returns a replica of an empty state; Run fills it.
func NewReplica(cfg ReplicaConfig) (*Replica, error) {
	if len(cfg.Nodes) == 0 {
		return nil, fmt.Errorf("control plane: no node to follow")
	}
	for i, n := range cfg.Nodes {
		u, err := NodeURL(n)
		if err != nil {
			return nil, err
		}
		cfg.Nodes[i] = u
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Replica{cfg: cfg, client: &http.Client{Timeout: cfg.Wait + 5*time.Second}, changed: make(chan struct{})}
	r.state.Store(&State{})
	return r, nil
}

// NodeURL turns host:port or a URL into a node's base URL.
func NodeURL(s string) (string, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "/")
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("control plane node %q: want host:port or http://host:port", s)
	}
	return s, nil
}

// State returns the current state; the caller must not change it.
func (r *Replica) State() *State { return r.state.Load() }

// Verify returns the info of token if the control plane holds it,
// unrevoked (TokenVerifier of highway/api).
func (r *Replica) Verify(token string) (TokenInfo, bool) { return Verify(r.state.Load().Tokens, token) }

// Grants returns the grants made on the control plane, active or not.
func (r *Replica) Grants() []Grant { return r.state.Load().Grants }

// Requests returns the access requests; the caller does not change them.
func (r *Replica) Requests() []Request { return r.state.Load().Requests }

// Changed returns a channel closed at the next new state.
func (r *Replica) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// Synced is when a node last answered (zero: never).
func (r *Replica) Synced() time.Time {
	if ms := r.synced.Load(); ms != 0 {
		return time.UnixMilli(ms)
	}
	return time.Time{}
}

// Check fails when no node has answered for three waits: the replica may
// miss revocations (a readiness check).
func (r *Replica) Check(context.Context) error {
	last := r.Synced()
	if last.IsZero() || time.Since(last) > 3*r.cfg.Wait {
		return fmt.Errorf("no control plane node (%s) answered since %s", strings.Join(r.cfg.Nodes, ", "), last.Format(time.RFC3339))
	}
	return nil
}

// Sync waits until a node has answered once, or ctx ends.
func (r *Replica) Sync(ctx context.Context) error {
	for r.Synced().IsZero() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("reading the control plane from %s: %w", strings.Join(r.cfg.Nodes, ", "), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// Run follows the nodes until ctx ends: a long poll at a time, to the node
// that answered last, the next one after an error.
func (r *Replica) Run(ctx context.Context) {
	node, fails := 0, 0
	for ctx.Err() == nil {
		// The first poll asks for the state as it is, without waiting.
		wait := r.cfg.Wait
		if r.Synced().IsZero() {
			wait = 0
		}
		st, err := r.poll(ctx, r.cfg.Nodes[node], r.state.Load().Index, wait)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			fails++
			if fails == len(r.cfg.Nodes) || fails%50 == 0 {
				r.cfg.Logger.Warn("control plane unreachable: keeping the tokens and grants read last", "node", r.cfg.Nodes[node], "err", err)
			}
			node = (node + 1) % len(r.cfg.Nodes)
			select {
			case <-ctx.Done():
				return
			case <-time.After(min(time.Duration(fails)*50*time.Millisecond, time.Second)):
			}
			continue
		}
		if fails >= len(r.cfg.Nodes) {
			r.cfg.Logger.Info("control plane reachable again", "node", r.cfg.Nodes[node], "index", st.Index)
		}
		fails = 0
		r.synced.Store(time.Now().UnixMilli())
		if st.Index > r.state.Load().Index {
			r.set(st)
		}
	}
}

func (r *Replica) set(st *State) {
	r.state.Store(st)
	r.mu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

func (r *Replica) poll(ctx context.Context, node string, after uint64, wait time.Duration) (*State, error) {
	u := fmt.Sprintf("%s%s?after=%d&wait=%s", node, Path, after, wait)
	return getState(ctx, r.client, u, r.cfg.Secret)
}

func getState(ctx context.Context, client *http.Client, u, secret string) (*State, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, answerError(resp)
	}
	var st State
	if err := json.NewDecoder(io.LimitReader(resp.Body, 256<<20)).Decode(&st); err != nil {
		return nil, fmt.Errorf("reading the control plane's state from %s: %w", u, err)
	}
	return &st, nil
}
