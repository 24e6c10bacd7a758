package control

import (
	"fmt"
	"slices"
	"time"
)

// OpExpire ends what Change.Expire lists: it removes the grants and marks
// the access requests expired. Only the scheduler's leader proposes it,
// from State.Due; every item listed must have ended by the change's time,
// or the whole change is refused (the leader lists them again at its next
// tick).
const OpExpire Op = "control.expire"

// Expiry lists what an OpExpire change ends.
type Expiry struct {
	// Grants are the ended grants, by department, feed and end; a grant
	// made again since, with another end, is not one of them.
	Grants []Grant `json:"grants,omitempty"`
	// Requests are the IDs of the access requests that ended: approved
	// ones whose grant ended, pending ones whose asked end passed.
	Requests []string `json:"requests,omitempty"`
}

// Empty reports whether e ends nothing.
func (e *Expiry) Empty() bool { return e == nil || len(e.Grants) == 0 && len(e.Requests) == 0 }

// Due returns what has ended by now (at the second, as Apply sees the
// time), or nil when nothing has. Who reads the state calls it; Apply of
// an OpExpire change with its result removes the ended grants.
func (s *State) Due(now time.Time) *Expiry {
	now = now.UTC().Truncate(time.Second)
	var e Expiry
	for _, g := range s.Grants {
		if !g.Active(now) {
			e.Grants = append(e.Grants, Grant{Department: g.Department, Feed: g.Feed, Until: g.Until, Note: g.Note})
		}
	}
	for _, r := range s.Requests {
		if requestEnded(r, now) {
			e.Requests = append(e.Requests, r.ID)
		}
	}
	if e.Empty() {
		return nil
	}
	return &e
}

// requestEnded reports whether r ends at now: approved with its grant
// ended, or pending past the end it asked for.
func requestEnded(r Request, now time.Time) bool {
	switch r.State {
	case RequestApproved:
		return r.GrantUntil != nil && !now.Before(*r.GrantUntil)
	case RequestPending:
		return !now.Before(r.Until)
	}
	return false
}

// applyExpire applies an OpExpire change at at: all of it, or nothing.
func (s *State) applyExpire(e *Expiry, at time.Time) error {
	if e.Empty() {
		return fmt.Errorf("%w: %s lists nothing to end", ErrInvalid, OpExpire)
	}
	drop := make([]int, 0, len(e.Grants))
	for _, g := range e.Grants {
		i := s.grant(g.Department, g.Feed)
		if i < 0 || g.Until == nil || s.Grants[i].Until == nil || !s.Grants[i].Until.Equal(*g.Until) || s.Grants[i].Active(at) {
			return fmt.Errorf("%w: the grant of %s to %s until %s has not ended", ErrInvalid, g.Feed, g.Department, formatEnd(g.Until))
		}
		drop = append(drop, i)
	}
	ended := make([]int, 0, len(e.Requests))
	for _, id := range e.Requests {
		i := s.request(id)
		if i < 0 {
			return fmt.Errorf("%w: %q", ErrNoRequest, id)
		}
		if !requestEnded(s.Requests[i], at) {
			return fmt.Errorf("%w: request %s (%s) has not ended", ErrInvalid, id, s.Requests[i].State)
		}
		ended = append(ended, i)
	}
	for _, i := range ended {
		s.Requests[i].State = RequestExpired
	}
	kept := s.Grants[:0]
	for i, g := range s.Grants {
		if !slices.Contains(drop, i) {
			kept = append(kept, g)
		}
	}
	clear(s.Grants[len(kept):])
	s.Grants = kept
	return nil
}

func formatEnd(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}
