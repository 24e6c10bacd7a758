// Package control is the control plane's state: the departments' bearer
// tokens (the SHA-256 of each, its scopes, expiry and revocation) and the
// grants of restricted feeds made at run time, on top of those the
// department specs declare.
//
// The state is replicated by the scheduler's raft cluster
// (analytics/scheduler): a Change goes through the leader into the log and
// every node applies it with State.Apply, which is deterministic. An API
// server keeps a Replica of one node's copy in memory, refreshed by a long
// poll (GET /api/v1/control?after=INDEX), so authenticating a request is a
// memory lookup and a revocation reaches every API server within a second.
// Client writes changes (the `highway token` and `highway grant` commands).
package control

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"
)

// The errors of Apply. Each wraps ErrInvalid, the refusal of a change.
var (
	// ErrInvalid is wrapped by every refusal of a change.
	ErrInvalid = errors.New("invalid change")
	// ErrNoToken is returned for an unknown token ID.
	ErrNoToken = fmt.Errorf("%w: no such token", ErrInvalid)
	// ErrNoGrant is returned for removing a grant that does not exist.
	ErrNoGrant = fmt.Errorf("%w: no such grant", ErrInvalid)
)

// Grant lets a department read a restricted feed it does not own.
type Grant struct {
	Department string    `json:"department"`
	Feed       string    `json:"feed"`
	Created    time.Time `json:"created"`
	// Until is when the grant ends; nil lasts until it is removed.
	Until *time.Time `json:"until,omitempty"`
	// Note says why (an access request's ID, a ticket).
	Note string `json:"note,omitempty"`
}

// Active reports whether the grant holds at now.
func (g Grant) Active(now time.Time) bool { return g.Until == nil || now.Before(*g.Until) }

// Op names a kind of change.
type Op string

// The changes of the control plane.
const (
	// OpTokenCreate adds Token; adding a token whose ID exists with the same
	// hash is a no-op (a retried write, the migration of a token file).
	OpTokenCreate Op = "token.create"
	// OpTokenRevoke revokes the token ID (again: no-op).
	OpTokenRevoke Op = "token.revoke"
	// OpTokenRotate adds Token in place of the token ID, with its
	// department, scopes and note, and makes ID expire Overlap after the
	// change unless it would sooner.
	OpTokenRotate Op = "token.rotate"
	// OpGrantAdd adds Grant, replacing the department's grant of the feed.
	OpGrantAdd Op = "grant.add"
	// OpGrantRemove removes the grant of Grant.Feed to Grant.Department.
	OpGrantRemove Op = "grant.remove"
)

// IsOp reports whether op is a control-plane change.
func IsOp(op string) bool {
	switch Op(op) {
	case OpTokenCreate, OpTokenRevoke, OpTokenRotate, OpGrantAdd, OpGrantRemove, OpRequestCreate, OpRequestApprove, OpRequestRefuse, OpExpire:
		return true
	}
	return false
}

// Change is one change of the state, as it travels and is logged.
type Change struct {
	Op Op `json:"op"`
	// Token is the new token of create and rotate.
	Token *Token `json:"token,omitempty"`
	// ID is the token revoked or rotated.
	ID string `json:"id,omitempty"`
	// Overlap is how long a rotated token keeps working.
	Overlap time.Duration `json:"overlap,omitempty"`
	Grant   *Grant        `json:"grant,omitempty"`
	// Request is the access request created, approved or refused.
	Request *Request `json:"request,omitempty"`
	// Expire is what an OpExpire change ends.
	Expire *Expiry `json:"expire,omitempty"`
	// Actor says who asked (user@host of the CLI, the API's department and
	// token for an access request); it goes to the audit log.
	Actor string `json:"actor,omitempty"`
}

// State is the control plane's state. Index is the raft log index of the
// last change applied (0 for a state that is not replicated).
type State struct {
	Index  uint64  `json:"index"`
	Tokens []Token `json:"tokens"`
	Grants []Grant `json:"grants"`
	// Requests are the access requests, oldest first.
	Requests []Request `json:"requests,omitempty"`
	// TokensForgotten is the latest creation time of a token OpExpire has
	// removed (Retention after it stopped working): Client.Import does not
	// bring back a token file's token made then or before, which could be
	// one revoked here and forgotten since.
	TokensForgotten time.Time `json:"tokens_forgotten,omitzero"`
}

// Apply changes the state by c, made at at (the proposer's clock, so that
// every node that applies it reaches the same state). It returns nil or an
// error wrapping ErrInvalid, and leaves the state unchanged on error.
func (s *State) Apply(c *Change, at time.Time) error {
	at = at.UTC().Truncate(time.Second)
	switch c.Op {
	case OpTokenCreate:
		if c.Token == nil || c.Token.ID == "" || c.Token.Department == "" || c.Token.Hash == "" {
			return fmt.Errorf("%w: %s needs a token with an ID, a department and a hash", ErrInvalid, c.Op)
		}
		if i := s.token(c.Token.ID); i >= 0 {
			if s.Tokens[i].Hash == c.Token.Hash {
				return nil
			}
			return fmt.Errorf("%w: token %s exists with another secret", ErrInvalid, c.Token.ID)
		}
		s.Tokens = append(s.Tokens, *c.Token)
	case OpTokenRevoke:
		i := s.token(c.ID)
		if i < 0 {
			return fmt.Errorf("%w: %q (highway token list shows the IDs)", ErrNoToken, c.ID)
		}
		if s.Tokens[i].Revoked == nil {
			s.Tokens[i].Revoked = &at
		}
	case OpTokenRotate:
		i := s.token(c.ID)
		if i < 0 {
			return fmt.Errorf("%w: %q (highway token list shows the IDs)", ErrNoToken, c.ID)
		}
		if c.Token == nil || c.Token.ID == "" || c.Token.Hash == "" {
			return fmt.Errorf("%w: %s needs the new token", ErrInvalid, c.Op)
		}
		if j := s.token(c.Token.ID); j >= 0 {
			if s.Tokens[j].Hash == c.Token.Hash && s.Tokens[j].Replaces == c.ID {
				return nil // a retried rotation
			}
			return fmt.Errorf("%w: token %s exists", ErrInvalid, c.Token.ID)
		}
		old := &s.Tokens[i]
		if old.Revoked != nil || old.Expired(at) {
			return fmt.Errorf("%w: token %s is revoked or expired: make a new one with 'highway token create --department %s'", ErrInvalid, c.ID, old.Department)
		}
		nt := *c.Token
		nt.Department, nt.Scopes, nt.Note, nt.Replaces = old.Department, slices.Clone(old.Scopes), old.Note, old.ID
		end := at.Add(c.Overlap)
		if old.Expires == nil || end.Before(*old.Expires) {
			old.Expires = &end
		}
		s.Tokens = append(s.Tokens, nt)
	case OpGrantAdd:
		g := c.Grant
		if g == nil || g.Department == "" || g.Feed == "" {
			return fmt.Errorf("%w: %s needs a department and a feed", ErrInvalid, c.Op)
		}
		if g.Until != nil && !g.Until.After(at) {
			return fmt.Errorf("%w: the grant of %s to %s would end at %s, before it starts", ErrInvalid, g.Feed, g.Department, g.Until.UTC().Format(time.RFC3339))
		}
		ng := *g
		if ng.Created.IsZero() {
			ng.Created = at
		}
		if i := s.grant(g.Department, g.Feed); i >= 0 {
			s.Grants[i] = ng
		} else {
			s.Grants = append(s.Grants, ng)
		}
	case OpGrantRemove:
		if c.Grant == nil {
			return fmt.Errorf("%w: %s needs a department and a feed", ErrInvalid, c.Op)
		}
		i := s.grant(c.Grant.Department, c.Grant.Feed)
		if i < 0 {
			return fmt.Errorf("%w: %s is not granted %s", ErrNoGrant, c.Grant.Department, c.Grant.Feed)
		}
		s.Grants = slices.Delete(s.Grants, i, i+1)
	case OpRequestCreate, OpRequestApprove, OpRequestRefuse:
		return s.applyRequest(c, at)
	case OpExpire:
		return s.applyExpire(c.Expire, at)
	default:
		return fmt.Errorf("%w: unknown operation %q", ErrInvalid, c.Op)
	}
	return nil
}

func (s *State) token(id string) int {
	return slices.IndexFunc(s.Tokens, func(t Token) bool { return t.ID == id })
}

func (s *State) grant(dept, feed string) int {
	return slices.IndexFunc(s.Grants, func(g Grant) bool { return g.Department == dept && g.Feed == feed })
}

// Clone returns a deep enough copy for another goroutine to read while
// this one goes on applying.
func (s *State) Clone() *State {
	c := &State{Index: s.Index, Tokens: slices.Clone(s.Tokens), Grants: slices.Clone(s.Grants), Requests: slices.Clone(s.Requests), TokensForgotten: s.TokensForgotten}
	return c
}

// Verify returns the info of token if it is a stored, unrevoked token
// (expiry is the caller's to check). It compares the token's hash with every
// stored hash in constant time, so its timing says nothing about which
// token, if any, came close.
func Verify(tokens []Token, token string) (TokenInfo, bool) {
	sum := sha256.Sum256([]byte(token))
	found := -1
	for i := range tokens {
		stored, err := hex.DecodeString(tokens[i].Hash)
		if err != nil || len(stored) != len(sum) {
			continue
		}
		if subtle.ConstantTimeCompare(stored, sum[:]) == 1 {
			found = i
		}
	}
	if found < 0 || tokens[found].Revoked != nil {
		return TokenInfo{}, false
	}
	return tokens[found].TokenInfo, true
}

// ActiveGrants returns the grants that hold at now, by department.
func ActiveGrants(grants []Grant, now time.Time) map[string][]string {
	out := map[string][]string{}
	for _, g := range grants {
		if g.Active(now) {
			out[g.Department] = append(out[g.Department], g.Feed)
		}
	}
	return out
}

// NextExpiry returns the earliest end after now of the grants, or zero.
func NextExpiry(grants []Grant, now time.Time) time.Time {
	var next time.Time
	for _, g := range grants {
		if g.Until != nil && g.Until.After(now) && (next.IsZero() || g.Until.Before(next)) {
			next = *g.Until
		}
	}
	return next
}
