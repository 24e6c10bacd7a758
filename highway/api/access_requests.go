package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cityhighway/highway/highway/control"
	"github.com/cityhighway/highway/highway/store"
)

// ControlWriter applies changes to the control plane: *control.Client.
type ControlWriter interface {
	Apply(ctx context.Context, ch *control.Change) (control.Applied, error)
}

// RequestSource reads the access requests: *control.Replica.
type RequestSource interface {
	Requests() []control.Request
}

// AccessRequestBody is the body of POST /api/v1/access-requests.
type AccessRequestBody struct {
	// Feed is the restricted feed asked for.
	Feed string `json:"feed"`
	// Purpose says what for; the owner reads it.
	Purpose string `json:"purpose"`
	// Until is the end asked for (RFC 3339).
	Until time.Time `json:"until"`
}

// DecisionBody is the body of approve (Until, default the request's) and
// refuse (Reason).
type DecisionBody struct {
	Until  *time.Time `json:"until,omitempty"`
	Reason string     `json:"reason,omitempty"`
}

// AccessRequest is an access request as the API shows it: State is
// pending, approved, refused or expired (approved, its grant ended).
type AccessRequest = control.Request

// AccessRequestList is the answer of GET /api/v1/access-requests.
type AccessRequestList struct {
	Requests []AccessRequest `json:"requests"`
}

func (s *Server) accessRequestRoutes() []route {
	jsonOK := func(status int, schema, desc string) okResponse {
		return okResponse{status: status, types: []string{"application/json"}, schema: schema, desc: desc}
	}
	idParam := param{name: "id", in: "path", required: true, desc: "the request's ID, e.g. ar_1f2e3d4c5b6a"}
	noCP := map[int]string{503: "no control plane configured (serve --control-plane), or it did not take the change"}
	return []route{
		{method: "POST", path: "/api/v1/access-requests", auth: authToken, tag: "access",
			summary:     "Ask to read a restricted feed of another department",
			description: "A request for a feed that does not exist is answered as one for a restricted feed (201, pending; no one decides it and it expires at its end), so the answer does not tell which restricted feeds exist; the requester is not shown the owner. The owning department sees the request (GET /api/v1/access-requests), approves it with an end date, which grants the feed until then on every API server, or refuses it. Every step is in the audit log.",
			body:        "AccessRequestBody", ok: jsonOK(201, "AccessRequest", "the request, pending"),
			errors: merge(errAuth, noCP, map[int]string{400: "no feed, no purpose, or an end not in the future", 409: "the department reads the feed already"}),
			handle: s.createAccessRequest},
		{method: "GET", path: "/api/v1/access-requests", auth: authToken, tag: "access",
			summary: "The access requests your department made or must decide", description: "Newest first; ?state=pending (or approved, refused, expired) filters. An admin department sees all.",
			params: []param{{name: "state", in: "query", desc: "only requests in this state", enum: []string{"pending", "approved", "refused", "expired"}}},
			ok:     jsonOK(200, "AccessRequestList", "the requests"), errors: merge(errAuth, noCP), handle: s.listAccessRequests},
		{method: "GET", path: "/api/v1/access-requests/{id}", auth: authToken, tag: "access",
			summary: "One access request (its requester's, its owner's, an admin's)", params: []param{idParam},
			ok: jsonOK(200, "AccessRequest", "the request"), errors: merge(errAuth, noCP, map[int]string{404: "no such request, or not yours"}), handle: s.getAccessRequest},
		{method: "POST", path: "/api/v1/access-requests/{id}/approve", auth: authToken, tag: "access",
			summary: "Approve a request for your feed until a date (the admin scope)", params: []param{idParam},
			description: "Grants the feed to the requesting department until `until` (default: the end it asked for), on the control plane, in the same change that marks the request approved; the grant ends by itself then.",
			body:        "DecisionBody", ok: jsonOK(200, "AccessRequest", "the request, approved"),
			errors: merge(errAuth, noCP, map[int]string{400: "an end not in the future", 403: "the feed is not your department's, or the token lacks the admin scope", 404: "no such request, or not yours", 409: "decided already"}),
			handle: s.decideAccessRequest(control.OpRequestApprove), scope: scopeAdminOf},
		{method: "POST", path: "/api/v1/access-requests/{id}/refuse", auth: authToken, tag: "access",
			summary: "Refuse a request for your feed (the admin scope)", params: []param{idParam},
			body: "DecisionBody", ok: jsonOK(200, "AccessRequest", "the request, refused"),
			errors: merge(errAuth, noCP, map[int]string{403: "the feed is not your department's, or the token lacks the admin scope", 404: "no such request, or not yours", 409: "decided already"}),
			handle: s.decideAccessRequest(control.OpRequestRefuse), scope: scopeAdminOf},
	}
}

// controlReady answers 503 when the server has no control plane.
func (s *Server) controlReady(w http.ResponseWriter) bool {
	if s.cfg.Control == nil || s.cfg.Requests == nil {
		writeError(w, http.StatusServiceUnavailable, "no control plane: access requests live on it", "start highway serve with --control-plane")
		return false
	}
	return true
}

func (s *Server) createAccessRequest(w http.ResponseWriter, r *http.Request, who *principal) {
	if !s.controlReady(w) {
		return
	}
	var body AccessRequestBody
	if !readJSON(w, r, 1<<16, &body) {
		return
	}
	f := s.cfg.Catalog.Feed(body.Feed)
	now := s.cfg.Now()
	switch {
	case strings.TrimSpace(body.Feed) == "":
		writeError(w, http.StatusBadRequest, "an access request needs a feed", `send {"feed": ..., "purpose": "what for", "until": "2027-01-31T00:00:00+08:00"}`)
		return
	case strings.TrimSpace(body.Purpose) == "":
		writeError(w, http.StatusBadRequest, "an access request needs a purpose", `send {"feed": ..., "purpose": "what for", "until": "2027-01-31T00:00:00+08:00"}`)
		return
	case !body.Until.After(now):
		writeError(w, http.StatusBadRequest, "until must be in the future", "give the end of the access asked for, RFC 3339")
		return
	case f != nil && who.dept.CanRead(f):
		writeError(w, http.StatusConflict, fmt.Sprintf("%s reads %s already", who.dept.Name, f.Name), "GET /api/v1/feeds/"+f.Name)
		return
	}
	// A request for a feed that does not exist is recorded as one for a
	// restricted feed the department may not read is, but with no owner:
	// no one decides it and it expires at its end. So the answers, now and
	// later, do not tell a caller without access which restricted feeds
	// exist (the catalogue hides them).
	req := control.Request{ID: newRequestID(), Department: who.dept.Name, Feed: body.Feed, Purpose: body.Purpose,
		Until: body.Until.UTC(), AskedBy: who.token.ID}
	if f != nil {
		req.Owner = f.Department
	}
	out, ok := s.changeRequest(w, r, who, &control.Change{Op: control.OpRequestCreate, Request: &req}, "access.request")
	if ok {
		writeJSON(w, http.StatusCreated, shown(who, out))
	}
}

// visible reports whether who may see request q.
func visible(who *principal, q control.Request) bool {
	return who.dept.Admin || q.Department == who.dept.Name || (q.Owner != "" && q.Owner == who.dept.Name)
}

// shown is q as who sees it: the owner is left out for the requester (an
// admin and the owner see it), as a request for a feed that does not exist
// has none.
func shown(who *principal, q control.Request) control.Request {
	if !who.dept.Admin && q.Owner != who.dept.Name {
		q.Owner = ""
	}
	return q
}

func (s *Server) listAccessRequests(w http.ResponseWriter, r *http.Request, who *principal) {
	if !s.controlReady(w) {
		return
	}
	want := control.RequestState(r.URL.Query().Get("state"))
	now := s.cfg.Now()
	out := AccessRequestList{Requests: []AccessRequest{}}
	all := s.cfg.Requests.Requests()
	for i := len(all) - 1; i >= 0; i-- {
		q := all[i]
		q.State = q.StateAt(now)
		if visible(who, q) && (want == "" || q.State == want) {
			out.Requests = append(out.Requests, shown(who, q))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// findRequest returns the request of the path that who may see, or
// answers 404.
func (s *Server) findRequest(w http.ResponseWriter, r *http.Request, who *principal) (control.Request, bool) {
	id := r.PathValue("id")
	for _, q := range s.cfg.Requests.Requests() {
		if q.ID == id && visible(who, q) {
			q.State = q.StateAt(s.cfg.Now())
			return q, true
		}
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("no access request %q of yours", id), "GET /api/v1/access-requests lists them")
	return control.Request{}, false
}

func (s *Server) getAccessRequest(w http.ResponseWriter, r *http.Request, who *principal) {
	if !s.controlReady(w) {
		return
	}
	if q, ok := s.findRequest(w, r, who); ok {
		writeJSON(w, http.StatusOK, shown(who, q))
	}
}

func (s *Server) decideAccessRequest(op control.Op) func(http.ResponseWriter, *http.Request, *principal) {
	return func(w http.ResponseWriter, r *http.Request, who *principal) {
		if !s.controlReady(w) {
			return
		}
		var body DecisionBody
		if r.ContentLength != 0 && !readJSON(w, r, 1<<16, &body) {
			return
		}
		q, ok := s.findRequest(w, r, who)
		if !ok {
			return
		}
		switch {
		case q.Owner != who.dept.Name:
			writeError(w, http.StatusForbidden, fmt.Sprintf("%s owns %s and decides its requests", q.Owner, q.Feed), "use a token of "+q.Owner)
			return
		case !who.token.Has(ScopeAdmin):
			writeError(w, http.StatusForbidden, fmt.Sprintf("token %s may not decide access requests (its scopes: %s)", who.token.ID, strings.Join(who.token.ScopeList(), ", ")),
				"use a token of "+q.Owner+" with the admin scope")
			return
		case q.State != control.RequestPending:
			writeError(w, http.StatusConflict, fmt.Sprintf("request %s is %s already", q.ID, q.State), "make a new request")
			return
		}
		d := control.Request{ID: q.ID, Department: q.Department, Feed: q.Feed, DecidedBy: who.token.ID, Reason: body.Reason}
		action := "access.refuse"
		if op == control.OpRequestApprove {
			until := q.Until
			if body.Until != nil {
				until = body.Until.UTC()
			}
			if !until.After(s.cfg.Now()) {
				writeError(w, http.StatusBadRequest, "until must be in the future", "give the end of the grant, RFC 3339")
				return
			}
			d.GrantUntil, action = &until, "access.approve"
		}
		out, ok := s.changeRequest(w, r, who, &control.Change{Op: op, Request: &d}, action)
		if ok {
			writeJSON(w, http.StatusOK, out)
		}
	}
}

// changeRequest applies a request change, audits it, and returns the
// request as the change left it (read back from the change itself: the
// replica may not have it yet).
func (s *Server) changeRequest(w http.ResponseWriter, r *http.Request, who *principal, ch *control.Change, action string) (control.Request, bool) {
	ch.Actor = who.dept.Name + "/" + who.token.ID
	q := *ch.Request
	start := time.Now()
	_, err := s.cfg.Control.Apply(r.Context(), ch)
	entry := store.AuditEntry{At: s.cfg.Now(), Department: who.dept.Name, TokenID: who.token.ID, Client: s.clientAddr(r), Action: action,
		Route: r.Method + " " + r.URL.Path, Feed: q.Feed, Status: http.StatusOK, Duration: time.Since(start),
		Detail: fmt.Sprintf("request=%s department=%s purpose=%q until=%s grant_until=%s reason=%q", q.ID, q.Department, q.Purpose, q.Until.Format(time.RFC3339), fmtTime(q.GrantUntil), q.Reason)}
	defer func() { s.audit(entry) }()
	if err != nil {
		entry.Status, entry.Error = http.StatusServiceUnavailable, err.Error()
		switch {
		case errors.Is(err, control.ErrNoRequest):
			entry.Status = http.StatusNotFound
		case errors.Is(err, control.ErrInvalid):
			entry.Status = http.StatusConflict
		}
		writeError(w, entry.Status, "the control plane did not take the change: "+err.Error(), "retry; GET /api/v1/access-requests shows where the request stands")
		return control.Request{}, false
	}
	now := s.cfg.Now()
	for _, cur := range s.cfg.Requests.Requests() {
		if cur.ID == q.ID {
			q = cur
		}
	}
	switch ch.Op {
	case control.OpRequestCreate:
		if q.State == "" {
			q.State, q.Created = control.RequestPending, now.UTC().Truncate(time.Second)
		}
	case control.OpRequestApprove:
		q.State, q.GrantUntil, q.DecidedBy = control.RequestApproved, ch.Request.GrantUntil, ch.Request.DecidedBy
	case control.OpRequestRefuse:
		q.State, q.Reason, q.DecidedBy = control.RequestRefused, ch.Request.Reason, ch.Request.DecidedBy
	}
	return q, true
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// newRequestID makes an access request's ID.
func newRequestID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "ar_" + hex.EncodeToString(b)
}
