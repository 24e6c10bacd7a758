package api

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// A token's scopes say what it may do, on top of what its department may:
// read (the catalogue, queries, downloads, live tails), push to a feed the
// department owns (push:<feed>, or push:* for all of them), and use the
// department's admin rights (admin). A token made before scopes existed
// has none stored and may do all three, as it could then.
const (
	ScopeRead       = "read"
	ScopeAdmin      = "admin"
	ScopePushPrefix = "push:"
	// ScopePushAll allows pushing to every feed the department owns.
	ScopePushAll = ScopePushPrefix + "*"
)

// DefaultScopes are a new token's scopes unless it is given others.
var DefaultScopes = []string{ScopeRead, ScopePushAll, ScopeAdmin}

// DefaultTokenTTL is how long a new token lasts unless told otherwise.
const DefaultTokenTTL = 90 * 24 * time.Hour

// TokenWarnBefore is how long before its expiry a token's responses carry
// a warning.
const TokenWarnBefore = 14 * 24 * time.Hour

// ErrBadScope is returned for a scope that is not read, admin or
// push:<feed>.
var ErrBadScope = errors.New("unknown scope")

// CheckScopes returns an error naming the first scope that is not read,
// admin, push:* or push:<feed>.
func CheckScopes(scopes []string) error {
	for _, s := range scopes {
		switch {
		case s == ScopeRead, s == ScopeAdmin, s == ScopePushAll:
		case strings.HasPrefix(s, ScopePushPrefix) && len(s) > len(ScopePushPrefix):
		default:
			return fmt.Errorf("%w %q: use %s, %s, %s or %s<feed>", ErrBadScope, s, ScopeRead, ScopeAdmin, ScopePushAll, ScopePushPrefix)
		}
	}
	return nil
}

// scopes returns the token's scopes; a token made before scopes existed
// has them all.
func (t TokenInfo) scopes() []string {
	if t.Scopes == nil {
		return DefaultScopes
	}
	return t.Scopes
}

// Has reports whether the token has scope (read or admin).
func (t TokenInfo) Has(scope string) bool { return slices.Contains(t.scopes(), scope) }

// CanPush reports whether the token's scopes allow pushing to feed (its
// department must own the feed too).
func (t TokenInfo) CanPush(feed string) bool {
	return t.Has(ScopePushAll) || t.Has(ScopePushPrefix+feed)
}

// Expired reports whether the token has expired at now.
func (t TokenInfo) Expired(now time.Time) bool { return t.Expires != nil && !now.Before(*t.Expires) }

// ExpiryWarning is what a response tells the caller of a token that
// expires within TokenWarnBefore, or that never expires; "" otherwise.
func (t TokenInfo) ExpiryWarning(now time.Time) string {
	switch {
	case t.Expires == nil:
		return fmt.Sprintf("token %s has no expiry date (it was made before tokens expired): rotate it with 'highway token rotate %s'", t.ID, t.ID)
	case t.Expires.Sub(now) <= TokenWarnBefore:
		return fmt.Sprintf("token %s expires on %s: rotate it with 'highway token rotate %s'", t.ID, t.Expires.UTC().Format(time.RFC3339), t.ID)
	}
	return ""
}
