package control

import (
	"fmt"
	"slices"
	"time"
)

// The changes of access requests.
const (
	// OpRequestCreate records Request, pending.
	OpRequestCreate Op = "request.create"
	// OpRequestApprove approves the pending request Request.ID until
	// Request.GrantUntil and, in the same change, grants its feed to its
	// department until then.
	OpRequestApprove Op = "request.approve"
	// OpRequestRefuse refuses the pending request Request.ID (Reason).
	OpRequestRefuse Op = "request.refuse"
)

// RequestState is where an access request stands.
type RequestState string

// The states of a request. An approved request reads as expired once its
// grant has ended, and is stored so when the leader's OpExpire change
// (expiry.go) has recorded it.
const (
	RequestPending  RequestState = "pending"
	RequestApproved RequestState = "approved"
	RequestRefused  RequestState = "refused"
	RequestExpired  RequestState = "expired"
)

// ErrNoRequest is returned for an unknown access request ID.
var ErrNoRequest = fmt.Errorf("%w: no such access request", ErrInvalid)

// Request is a department's request to read a restricted feed of another,
// which the owner approves (with an end) or refuses.
type Request struct {
	ID string `json:"id"`
	// Department asks; Owner owns Feed and decides. Owner is empty for a
	// feed that does not exist (the API records such requests too, so as
	// not to tell which restricted feeds exist): no one decides it.
	Department string    `json:"department"`
	Feed       string    `json:"feed"`
	Owner      string    `json:"owner"`
	Purpose    string    `json:"purpose"`
	Until      time.Time `json:"until"`
	Created    time.Time `json:"created"`
	// AskedBy and DecidedBy are token IDs.
	AskedBy    string       `json:"asked_by,omitempty"`
	State      RequestState `json:"state"`
	DecidedAt  *time.Time   `json:"decided_at,omitempty"`
	DecidedBy  string       `json:"decided_by,omitempty"`
	GrantUntil *time.Time   `json:"grant_until,omitempty"`
	Reason     string       `json:"reason,omitempty"`
}

// StateAt is the request's state at now: an approved request whose grant
// has ended, or a pending one past the end it asked for, is expired.
func (r Request) StateAt(now time.Time) RequestState {
	if requestEnded(r, now) {
		return RequestExpired
	}
	return r.State
}

func (s *State) request(id string) int {
	return slices.IndexFunc(s.Requests, func(r Request) bool { return r.ID == id })
}

// Request returns the request with the given ID.
func (s *State) Request(id string) (Request, bool) {
	if i := s.request(id); i >= 0 {
		return s.Requests[i], true
	}
	return Request{}, false
}

// applyRequest applies the request changes.
func (s *State) applyRequest(c *Change, at time.Time) error {
	r := c.Request
	if r == nil || r.ID == "" {
		return fmt.Errorf("%w: %s needs a request with an ID", ErrInvalid, c.Op)
	}
	i := s.request(r.ID)
	if c.Op == OpRequestCreate {
		if i >= 0 {
			if o := s.Requests[i]; o.Department == r.Department && o.Feed == r.Feed && o.Purpose == r.Purpose {
				return nil // a retried create
			}
			return fmt.Errorf("%w: request %s exists", ErrInvalid, r.ID)
		}
		if r.Department == "" || r.Feed == "" || r.Purpose == "" {
			return fmt.Errorf("%w: a request needs a department, a feed and a purpose", ErrInvalid)
		}
		if !r.Until.After(at) {
			return fmt.Errorf("%w: the request's end %s is not in the future", ErrInvalid, r.Until.UTC().Format(time.RFC3339))
		}
		nr := *r
		nr.State, nr.Created, nr.DecidedAt, nr.DecidedBy, nr.GrantUntil, nr.Reason = RequestPending, at, nil, "", nil, ""
		s.Requests = append(s.Requests, nr)
		return nil
	}
	if i < 0 {
		return fmt.Errorf("%w: %q", ErrNoRequest, r.ID)
	}
	old := &s.Requests[i]
	if old.State != RequestPending {
		if c.Op == OpRequestApprove && old.State == RequestApproved && old.DecidedBy == r.DecidedBy && r.GrantUntil != nil && old.GrantUntil.Equal(*r.GrantUntil) ||
			c.Op == OpRequestRefuse && old.State == RequestRefused && old.DecidedBy == r.DecidedBy {
			return nil // a retried decision
		}
		return fmt.Errorf("%w: request %s is %s already", ErrInvalid, r.ID, old.State)
	}
	switch c.Op {
	case OpRequestApprove:
		if r.GrantUntil == nil || !r.GrantUntil.After(at) {
			return fmt.Errorf("%w: an approval needs an end in the future", ErrInvalid)
		}
		until := r.GrantUntil.UTC()
		g := Grant{Department: old.Department, Feed: old.Feed, Created: at, Until: &until, Note: "access request " + old.ID}
		if err := s.Apply(&Change{Op: OpGrantAdd, Grant: &g}, at); err != nil {
			return err
		}
		old.State, old.GrantUntil = RequestApproved, &until
	case OpRequestRefuse:
		old.State, old.Reason = RequestRefused, r.Reason
	}
	old.DecidedAt, old.DecidedBy = &at, r.DecidedBy
	return nil
}
