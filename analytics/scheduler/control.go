package scheduler

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cityhighway/highway/highway/control"
	"github.com/cityhighway/highway/highway/store"
)

// Auditor records the control plane's changes: *store.AuditLog.
type Auditor interface {
	Record(e store.AuditEntry)
}

// maxControlWait bounds a long poll of the control plane's state.
const maxControlWait = time.Minute

// controlRoutes adds the control plane's routes (highway/control):
//
//	GET  /api/v1/control?after=N&wait=D   the state, once its index passes N or D ends
//	POST /api/v1/control/changes          a control.Change, applied through the leader
//
// With Config.ControlSecret both need it as their bearer token.
func (n *Node) controlRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+control.Path, n.controlAuth(n.getControl))
	mux.HandleFunc("POST "+control.Path+"/changes", n.controlAuth(n.postControl))
}

func (n *Node) controlAuth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if n.cfg.ControlSecret != "" {
			scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
			if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(n.cfg.ControlSecret)) != 1 {
				writeJSON(w, http.StatusUnauthorized, wireError{Error: "the control plane needs its secret as the bearer token (--control-secret)", Code: "unauthorized"})
				return
			}
		}
		h(w, r)
	}
}

func (n *Node) getControl(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var after uint64
	var wait time.Duration
	if v := q.Get("after"); v != "" {
		a, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, wireError{Error: "after must be a log index", Code: "bad_request"})
			return
		}
		after = a
	}
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			writeJSON(w, http.StatusBadRequest, wireError{Error: "wait must be a duration such as 10s", Code: "bad_request"})
			return
		}
		wait = min(d, maxControlWait)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		st, changed := n.fsm.Control()
		if st.Index > after || wait == 0 {
			writeJSON(w, http.StatusOK, st)
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			wait = 0
		case <-r.Context().Done():
			return
		}
	}
}

func (n *Node) postControl(w http.ResponseWriter, r *http.Request) {
	var ch control.Change
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ch); err != nil || !control.IsOp(string(ch.Op)) || ch.Op == control.OpExpire {
		writeJSON(w, http.StatusBadRequest, wireError{Error: fmt.Sprintf("want a control change (token.create, token.revoke, token.rotate, grant.add, grant.remove, request.create, request.approve, request.refuse): %v", err), Code: "bad_request"})
		return
	}
	if ch.Actor == "" {
		ch.Actor = r.Header.Get(control.HeaderActor)
	}
	start := time.Now()
	err := n.proposeRetry(r.Context(), &Command{Op: Op(ch.Op), Control: &ch})
	n.auditControl(r, &ch, err, time.Since(start))
	if err != nil {
		writeError(w, err)
		return
	}
	st, _ := n.fsm.Control()
	writeJSON(w, http.StatusOK, control.Applied{Index: st.Index})
}

// The audit actions of what the leader's expiry ends.
const (
	AuditGrantExpired   = "grant.expired"
	AuditRequestExpired = "access_request.expired"
)

// expireControl ends, while this node leads, the grants and access
// requests whose end has passed at now: one control.OpExpire entry, which
// every node applies (so ended grants leave the state), and one audit
// entry per item, written here, by the leader that committed it, so once
// in the cluster. A leader that loses its leadership between the commit
// and the audit writes none: the audit is at most once.
func (n *Node) expireControl(now time.Time) {
	var due *control.Expiry
	reqs := map[string]control.Request{}
	n.fsm.Read(func(s *State) {
		due = s.Control.Due(now)
		if due != nil {
			for _, id := range due.Requests {
				reqs[id], _ = s.Control.Request(id)
			}
		}
	})
	if due == nil {
		return
	}
	ch := &control.Change{Op: control.OpExpire, Expire: due, Actor: "leader " + n.cfg.ID}
	_, err := n.applyLocal(&Command{V: EntryVersion, Op: Op(control.OpExpire), At: now.UnixMilli(), Control: ch})
	if err != nil {
		n.log.Warn("expiring grants and access requests", "grants", len(due.Grants), "requests", len(due.Requests), "forgotten_tokens", len(due.Tokens), "forgotten_requests", len(due.Forget), "err", err)
		return
	}
	n.log.Info("expired grants and access requests", "grants", len(due.Grants), "requests", len(due.Requests), "forgotten_tokens", len(due.Tokens), "forgotten_requests", len(due.Forget))
	if n.cfg.Audit == nil {
		return
	}
	for _, g := range due.Grants {
		n.cfg.Audit.Record(store.AuditEntry{At: now, Action: AuditGrantExpired, Department: g.Department, Feed: g.Feed, Status: http.StatusOK,
			Detail: fmt.Sprintf("actor=%s until=%s note=%s", ch.Actor, formatTime(g.Until), g.Note)})
	}
	for _, id := range due.Requests {
		r := reqs[id]
		n.cfg.Audit.Record(store.AuditEntry{At: now, Action: AuditRequestExpired, Department: r.Department, Feed: r.Feed, Status: http.StatusOK,
			Detail: fmt.Sprintf("actor=%s request=%s owner=%s was=%s until=%s grant_until=%s", ch.Actor, id, r.Owner, r.State, r.Until.UTC().Format(time.RFC3339), formatTime(r.GrantUntil))})
	}
}

// auditControl records a change asked of this node and its outcome.
func (n *Node) auditControl(r *http.Request, ch *control.Change, err error, took time.Duration) {
	if n.cfg.Audit == nil {
		return
	}
	e := store.AuditEntry{At: time.Now(), Action: string(ch.Op), Route: r.Method + " " + r.URL.Path, Status: http.StatusOK, Duration: took}
	e.Client, _, _ = net.SplitHostPort(r.RemoteAddr)
	switch {
	case ch.Token != nil:
		e.Department, e.TokenID = ch.Token.Department, ch.Token.ID
		e.Detail = fmt.Sprintf("actor=%s scopes=%s expires=%s", ch.Actor, strings.Join(ch.Token.ScopeList(), ","), formatTime(ch.Token.Expires))
		if ch.Op == control.OpTokenRotate {
			e.Detail += " replaces=" + ch.ID
		}
	case ch.Request != nil:
		r := ch.Request
		e.Department, e.Feed = r.Department, r.Feed
		e.Detail = fmt.Sprintf("actor=%s request=%s purpose=%q until=%s decided_by=%s grant_until=%s reason=%q", ch.Actor, r.ID, r.Purpose, r.Until.UTC().Format(time.RFC3339), r.DecidedBy, formatTime(r.GrantUntil), r.Reason)
	case ch.Grant != nil:
		e.Department, e.Feed = ch.Grant.Department, ch.Grant.Feed
		e.Detail = fmt.Sprintf("actor=%s until=%s note=%s", ch.Actor, formatTime(ch.Grant.Until), ch.Grant.Note)
	default:
		e.TokenID = ch.ID
		e.Detail = "actor=" + ch.Actor
	}
	if err != nil {
		e.Status, e.Error = statusOf(err), err.Error()
	}
	n.cfg.Audit.Record(e)
}

func formatTime(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// controlCode is the wire code of a control plane refusal, or "".
func controlCode(err error) string {
	switch {
	case errors.Is(err, control.ErrNoToken):
		return control.CodeNoToken
	case errors.Is(err, control.ErrNoGrant):
		return control.CodeNoGrant
	case errors.Is(err, control.ErrNoRequest):
		return control.CodeNoRequest
	case errors.Is(err, control.ErrInvalid):
		return control.CodeInvalid
	}
	return ""
}

// controlError is the refusal a forwarded control change's code stands for.
func controlError(code, msg string) error {
	var e error
	switch code {
	case control.CodeNoToken:
		e = control.ErrNoToken
	case control.CodeNoGrant:
		e = control.ErrNoGrant
	case control.CodeNoRequest:
		e = control.ErrNoRequest
	case control.CodeInvalid:
		e = control.ErrInvalid
	default:
		return nil
	}
	return refusal{msg: msg, errs: []error{ErrRejected, e}}
}

// refusal is a forwarded refusal: its message, and the sentinels it is.
type refusal struct {
	msg  string
	errs []error
}

func (r refusal) Error() string   { return r.msg }
func (r refusal) Unwrap() []error { return r.errs }
