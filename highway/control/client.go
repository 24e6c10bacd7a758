package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The errors of Client besides those of Apply.
var (
	// ErrUnavailable means no node took the change (none answered, or
	// there was no leader) for as long as the client retried.
	ErrUnavailable = errors.New("control plane unavailable")
	// ErrUnauthorized means the node refused the client's secret.
	ErrUnauthorized = errors.New("control plane refused the secret (--control-secret)")
)

// Client changes and reads the control plane through any of its nodes. A
// change a node could not confirm (it died, or lost the leadership, with
// the change in flight) is retried on the next node: every change is
// idempotent, so a change applies once, and the client then reads the state
// to tell whether it applied. It is safe for concurrent use.
type Client struct {
	nodes  []string
	secret string
	http   *http.Client
	// Actor is who changes (Change.Actor when the change names none).
	Actor string
	// Retry is how long a change is retried while no node takes it.
	// Default 15s.
	Retry time.Duration
	// Now is the clock of new tokens. Default time.Now.
	Now func() time.Time
}

// NewClient returns a client of the nodes (host:port or base URLs).
func NewClient(nodes []string, secret string) (*Client, error) {
	if len(nodes) == 0 {
		return nil, fmt.Errorf("control plane: no node given")
	}
	c := &Client{secret: secret, http: &http.Client{Timeout: 10 * time.Second}, Retry: 15 * time.Second, Now: time.Now}
	for _, n := range nodes {
		u, err := NodeURL(n)
		if err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, u)
	}
	return c, nil
}

// Nodes are the nodes' base URLs.
func (c *Client) Nodes() []string { return c.nodes }

// State reads the state from the first node that answers.
func (c *Client) State(ctx context.Context) (*State, error) {
	var errs []error
	for _, n := range c.nodes {
		st, err := getState(ctx, c.http, n+Path, c.secret)
		if err == nil {
			return st, nil
		}
		if errors.Is(err, ErrUnauthorized) {
			return nil, err
		}
		errs = append(errs, fmt.Errorf("%s: %w", n, err))
	}
	return nil, fmt.Errorf("%w: %w", ErrUnavailable, errors.Join(errs...))
}

// Applied is the answer to a change: the log index it applied at, and
// whether the client had to retry it (a node died or lost the leadership
// with it in flight) and found it applied.
type Applied struct {
	Index   uint64 `json:"index"`
	Retried bool   `json:"-"`
}

// Apply applies ch through the leader. It returns an error wrapping
// ErrInvalid (refused: not applied), ErrUnauthorized, or ErrUnavailable
// when no node took it for Retry and the state, read afterwards, does not
// show it (not applied; when no node answers that read either, the error
// says it is unknown).
func (c *Client) Apply(ctx context.Context, ch *Change) (Applied, error) {
	if ch.Actor == "" {
		ch.Actor = c.Actor
	}
	body, err := json.Marshal(ch)
	if err != nil {
		return Applied{}, fmt.Errorf("encoding a %s change: %w", ch.Op, err)
	}
	deadline := time.Now().Add(c.Retry)
	var last error
	// uncertain: an attempt may have reached the leader (the node went
	// away without an answer), so the change may still commit.
	uncertain := false
	for try := 0; ; try++ {
		node := c.nodes[try%len(c.nodes)]
		var a Applied
		err := c.post(ctx, node+Path+"/changes", body, &a)
		if err == nil {
			a.Retried = try > 0
			return a, nil
		}
		if try > 0 && errors.Is(err, ErrInvalid) && c.retryApplied(ctx, ch) {
			// The first attempt applied, the retry was refused as a repeat
			// (a grant removed twice).
			return Applied{Retried: true}, nil
		}
		if errors.Is(err, ErrInvalid) || errors.Is(err, ErrUnauthorized) || ctx.Err() != nil {
			return Applied{}, err
		}
		last = fmt.Errorf("%s: %w", node, err)
		if !errors.Is(err, errNoLeader) {
			uncertain = true
		}
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return Applied{}, ctx.Err()
		case <-time.After(min(time.Duration(try+1)*100*time.Millisecond, time.Second)):
		}
	}
	st, err := c.State(ctx)
	if err != nil {
		return Applied{}, fmt.Errorf("%w: the %s change may or may not have applied: no node answered (%v); 'highway token list' or 'highway grant list' shows it once one does", ErrUnavailable, ch.Op, last)
	}
	if applied(st, ch) {
		return Applied{Index: st.Index, Retried: true}, nil
	}
	if uncertain {
		return Applied{}, fmt.Errorf("%w: the %s change was NOT applied as of log index %d (a node went away with it in flight; if it had reached a majority it would show there): %v", ErrUnavailable, ch.Op, st.Index, last)
	}
	return Applied{}, fmt.Errorf("%w: the %s change was NOT applied (no node had a leader to take it): %v", ErrUnavailable, ch.Op, last)
}

// errNoLeader is a node's answer that it knows no leader: it did not take
// the change.
var errNoLeader = errors.New("no leader")

// retryApplied reads whether a change refused on a retry had applied.
func (c *Client) retryApplied(ctx context.Context, ch *Change) bool {
	st, err := c.State(ctx)
	return err == nil && applied(st, ch)
}

// applied reports whether st shows ch applied.
func applied(st *State, ch *Change) bool {
	switch ch.Op {
	case OpTokenCreate, OpTokenRotate:
		i := st.token(ch.Token.ID)
		return i >= 0 && st.Tokens[i].Hash == ch.Token.Hash
	case OpTokenRevoke:
		i := st.token(ch.ID)
		return i >= 0 && st.Tokens[i].Revoked != nil
	case OpGrantAdd:
		i := st.grant(ch.Grant.Department, ch.Grant.Feed)
		return i >= 0 && st.Grants[i].Created.Equal(ch.Grant.Created)
	case OpGrantRemove:
		return st.grant(ch.Grant.Department, ch.Grant.Feed) < 0
	case OpRequestCreate:
		return st.request(ch.Request.ID) >= 0
	case OpRequestApprove, OpRequestRefuse:
		r, ok := st.Request(ch.Request.ID)
		return ok && r.State != RequestPending && r.DecidedBy == ch.Request.DecidedBy
	}
	return false
}

func (c *Client) post(ctx context.Context, u string, body []byte, answer any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.secret != "" {
		req.Header.Set("Authorization", "Bearer "+c.secret)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return answerError(resp)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(answer)
}

// wireError is a node's error body.
type wireError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// Error codes of the control routes' answers (see analytics/scheduler).
const (
	CodeNoToken   = "no_token"
	CodeNoGrant   = "no_grant"
	CodeNoRequest = "no_request"
	CodeInvalid   = "invalid"
)

func answerError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	var w wireError
	_ = json.Unmarshal(data, &w)
	msg := strings.TrimSpace(w.Error)
	if msg == "" {
		msg = strings.TrimSpace(string(data))
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return ErrUnauthorized
	case w.Code == CodeNoToken:
		return fmt.Errorf("%w: %s", ErrNoToken, msg)
	case w.Code == CodeNoGrant:
		return fmt.Errorf("%w: %s", ErrNoGrant, msg)
	case w.Code == CodeNoRequest:
		return fmt.Errorf("%w: %s", ErrNoRequest, msg)
	case w.Code == CodeInvalid:
		return fmt.Errorf("%w: %s", ErrInvalid, msg)
	case w.Code == "not_leader":
		return fmt.Errorf("%w: %s", errNoLeader, msg)
	}
	return fmt.Errorf("%s: %s", resp.Status, msg)
}

// CreateWith makes a token for department as spec says; the token is
// shown only here.
func (c *Client) CreateWith(ctx context.Context, department string, spec TokenSpec) (string, TokenInfo, error) {
	tok, t, err := NewToken(department, spec, c.Now())
	if err != nil {
		return "", TokenInfo{}, err
	}
	if _, err := c.Apply(ctx, &Change{Op: OpTokenCreate, Token: &t}); err != nil {
		return "", TokenInfo{}, err
	}
	return tok, t.TokenInfo, nil
}

// Revoke revokes the token ID.
func (c *Client) Revoke(ctx context.Context, id string) error {
	_, err := c.Apply(ctx, &Change{Op: OpTokenRevoke, ID: id})
	return err
}

// Rotate makes a token in place of ID (see OpTokenRotate).
func (c *Client) Rotate(ctx context.Context, id string, overlap, ttl time.Duration) (string, TokenInfo, error) {
	st, err := c.State(ctx)
	if err != nil {
		return "", TokenInfo{}, err
	}
	i := st.token(id)
	if i < 0 {
		return "", TokenInfo{}, fmt.Errorf("%w: %q (highway token list shows the IDs)", ErrNoToken, id)
	}
	old := st.Tokens[i]
	tok, t, err := NewToken(old.Department, TokenSpec{Note: old.Note, Scopes: old.Scopes, TTL: ttl, Replaces: id}, c.Now())
	if err != nil {
		return "", TokenInfo{}, err
	}
	if _, err := c.Apply(ctx, &Change{Op: OpTokenRotate, ID: id, Token: &t, Overlap: overlap}); err != nil {
		return "", TokenInfo{}, err
	}
	return tok, t.TokenInfo, nil
}

// List returns every token's info, oldest first.
func (c *Client) List(ctx context.Context) ([]TokenInfo, error) {
	st, err := c.State(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]TokenInfo, len(st.Tokens))
	for i, t := range st.Tokens {
		out[i] = t.TokenInfo
	}
	return out, nil
}

// Import adds tokens as they are (ID, hash, dates), skipping those the
// control plane holds already, and those made no later than a token it
// has forgotten (State.TokensForgotten), which may have been revoked
// there: the migration of a token file. It returns
// how many it added.
func (c *Client) Import(ctx context.Context, tokens []Token) (int, error) {
	st, err := c.State(ctx)
	if err != nil {
		return 0, err
	}
	added := 0
	for _, t := range tokens {
		if slices.ContainsFunc(st.Tokens, func(h Token) bool { return h.ID == t.ID }) ||
			!st.TokensForgotten.IsZero() && !t.Created.After(st.TokensForgotten) {
			continue
		}
		t := t
		if _, err := c.Apply(ctx, &Change{Op: OpTokenCreate, Token: &t, Actor: "migration of a token file"}); err != nil {
			return added, fmt.Errorf("importing token %s: %w", t.ID, err)
		}
		added++
	}
	return added, nil
}

// Grant lets department read feed until until (zero: until removed).
func (c *Client) Grant(ctx context.Context, department, feed string, until time.Time, note string) (Applied, error) {
	g := Grant{Department: department, Feed: feed, Created: c.Now().UTC().Truncate(time.Second), Note: note}
	if !until.IsZero() {
		u := until.UTC()
		g.Until = &u
	}
	return c.Apply(ctx, &Change{Op: OpGrantAdd, Grant: &g})
}

// Ungrant removes department's grant of feed.
func (c *Client) Ungrant(ctx context.Context, department, feed string) (Applied, error) {
	return c.Apply(ctx, &Change{Op: OpGrantRemove, Grant: &Grant{Department: department, Feed: feed}})
}
