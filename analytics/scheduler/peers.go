package scheduler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Peers carries what a node sends to the leader outside raft: entries to
// append (raft appends only on the leader) and heartbeats (liveness for
// assignments). Implementations must be safe for concurrent use.
type Peers interface {
	// Forward asks node to (as leader) apply the command, and returns the
	// log index of the entry and the answer: nil, an error wrapping
	// ErrRejected or ErrNotLeader, or a transport error.
	Forward(ctx context.Context, node string, c *Command) (uint64, error)
	// Heartbeat tells node (the leader) that from is alive.
	Heartbeat(ctx context.Context, node, from string) error
}

// httpPeers reaches other nodes on the HTTP addresses they registered.
type httpPeers struct {
	client *http.Client
	addrOf func(id string) string
}

func newHTTPPeers(addrOf func(string) string) *httpPeers {
	return &httpPeers{client: &http.Client{Timeout: 5 * time.Second}, addrOf: addrOf}
}

// wireError is how a forwarded command's refusal travels.
type wireError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// error codes of wireError; each maps back to a sentinel.
var errorCodes = []struct {
	code string
	err  error
}{
	{"stale", ErrStale},
	{"no_job", ErrNoJob},
	{"exists", ErrExists},
	{"rejected", ErrRejected},
	{"not_leader", ErrNotLeader},
}

func codeOf(err error) string {
	if code := controlCode(err); code != "" {
		return code
	}
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "internal"
}

func errorOf(w wireError) error {
	if err := controlError(w.Code, w.Error); err != nil {
		return err
	}
	for _, c := range errorCodes {
		if c.code == w.Code {
			if w.Error == c.err.Error() {
				return c.err
			}
			return fmt.Errorf("%w: %s", c.err, w.Error)
		}
	}
	return errors.New(w.Error)
}

// forwarded is the answer to a forwarded command that was applied.
type forwarded struct {
	Index uint64 `json:"index"`
}

func (p *httpPeers) post(ctx context.Context, node, path string, body, answer any) error {
	addr := p.addrOf(node)
	if addr == "" {
		return fmt.Errorf("%w: the HTTP address of %s is not known yet", ErrNotLeader, node)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("reaching %s at %s: %w", node, addr, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 == 2 {
		if answer != nil {
			_ = json.Unmarshal(data, answer)
		}
		return nil
	}
	var w wireError
	if json.Unmarshal(data, &w) != nil || w.Error == "" {
		return fmt.Errorf("%s at %s answered %s: %s", node, addr, resp.Status, bytes.TrimSpace(data))
	}
	return errorOf(w)
}

func (p *httpPeers) Forward(ctx context.Context, node string, c *Command) (uint64, error) {
	var f forwarded
	err := p.post(ctx, node, "/internal/v1/forward", c, &f)
	return f.Index, err
}

func (p *httpPeers) Heartbeat(ctx context.Context, node, from string) error {
	return p.post(ctx, node, "/internal/v1/heartbeat", map[string]string{"node": from}, nil)
}
