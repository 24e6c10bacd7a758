package control

import (
	"fmt"
	"slices"
	"time"
)

// OpExpire ends what Change.Expire lists: it removes the grants, marks
// the access requests expired and forgets the tokens and requests that
// ended more than Retention ago. Only the scheduler's leader proposes it,
// from State.Due; every item listed must have ended by the change's time,
// or the whole change is refused (the leader lists them again at its next
// tick).
const OpExpire Op = "control.expire"

// Retention is how long the state keeps a token after it was revoked or
// expired, and an access request after it was refused or expired, for
// lists and the audit's context; then OpExpire removes it, so that the
// state does not grow forever. The audit log keeps every step.
const Retention = 30 * 24 * time.Hour

// Expiry lists what an OpExpire change ends.
type Expiry struct {
	// Grants are the ended grants, by department, feed and end; a grant
	// made again since, with another end, is not one of them.
	Grants []Grant `json:"grants,omitempty"`
	// Requests are the IDs of the access requests that ended: approved
	// ones whose grant ended, pending ones whose asked end passed.
	Requests []string `json:"requests,omitempty"`
	// Tokens are the IDs of the tokens revoked or expired more than
	// Retention ago, which leave the state.
	Tokens []string `json:"tokens,omitempty"`
	// Forget are the IDs of the access requests refused or expired more
	// than Retention ago, which leave the state.
	Forget []string `json:"forget,omitempty"`
}

// Empty reports whether e ends nothing.
func (e *Expiry) Empty() bool {
	return e == nil || len(e.Grants) == 0 && len(e.Requests) == 0 && len(e.Tokens) == 0 && len(e.Forget) == 0
}

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
		if requestStale(r, now) {
			e.Forget = append(e.Forget, r.ID)
		}
	}
	for _, t := range s.Tokens {
		if tokenStale(t, now) {
			e.Tokens = append(e.Tokens, t.ID)
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

// tokenEnd returns when t stopped working (the earlier of its revocation
// and its expiry), or false while it works at now.
func tokenEnd(t Token, now time.Time) (time.Time, bool) {
	var end time.Time
	if t.Revoked != nil {
		end = *t.Revoked
	}
	if t.Expired(now) && (end.IsZero() || t.Expires.Before(end)) {
		end = *t.Expires
	}
	return end, !end.IsZero()
}

// tokenStale reports whether t stopped working Retention or more before now.
func tokenStale(t Token, now time.Time) bool {
	end, ok := tokenEnd(t, now)
	return ok && !now.Before(end.Add(Retention))
}

// requestStale reports whether r, as stored, was refused or expired
// Retention or more before now. An approved or pending request is stored
// as expired by an earlier OpExpire first.
func requestStale(r Request, now time.Time) bool {
	var end time.Time
	switch r.State {
	case RequestRefused:
		if r.DecidedAt == nil {
			return false
		}
		end = *r.DecidedAt
	case RequestExpired:
		end = r.Until
		if r.GrantUntil != nil {
			end = *r.GrantUntil
		}
	default:
		return false
	}
	return !now.Before(end.Add(Retention))
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
	for _, id := range e.Forget {
		i := s.request(id)
		if i < 0 {
			return fmt.Errorf("%w: %q", ErrNoRequest, id)
		}
		if !requestStale(s.Requests[i], at) {
			return fmt.Errorf("%w: request %s (%s) ended less than %s ago", ErrInvalid, id, s.Requests[i].State, Retention)
		}
	}
	for _, id := range e.Tokens {
		i := s.token(id)
		if i < 0 {
			return fmt.Errorf("%w: %q", ErrNoToken, id)
		}
		if !tokenStale(s.Tokens[i], at) {
			return fmt.Errorf("%w: token %s works or stopped less than %s ago", ErrInvalid, id, Retention)
		}
	}
	for _, i := range ended {
		s.Requests[i].State = RequestExpired
	}
	s.Requests = slices.DeleteFunc(s.Requests, func(r Request) bool { return slices.Contains(e.Forget, r.ID) })
	for _, id := range e.Tokens {
		if c := s.Tokens[s.token(id)].Created; c.After(s.TokensForgotten) {
			s.TokensForgotten = c
		}
	}
	s.Tokens = slices.DeleteFunc(s.Tokens, func(t Token) bool { return slices.Contains(e.Tokens, t.ID) })
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
