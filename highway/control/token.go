package control

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
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

// tokenPrefix starts every token, so a leaked one is easy to recognise.
const tokenPrefix = "hw_"

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

// TokenInfo is what is known of a token, without its secret.
type TokenInfo struct {
	// ID names the token in lists, logs and the audit log; it is not secret.
	ID         string     `json:"id"`
	Department string     `json:"department"`
	Note       string     `json:"note,omitempty"`
	Created    time.Time  `json:"created"`
	Revoked    *time.Time `json:"revoked,omitempty"`
	// Scopes say what the token may do (see ScopeRead); none stored (a
	// token made before scopes) means all of DefaultScopes.
	Scopes []string `json:"scopes,omitempty"`
	// Expires is when the token stops working; nil (a token made before
	// expiry) is never.
	Expires *time.Time `json:"expires,omitempty"`
	// Replaces is the ID of the token this one was rotated from.
	Replaces string `json:"replaces,omitempty"`
}

// ScopeList returns the token's scopes; a token made before scopes existed
// has them all.
func (t TokenInfo) ScopeList() []string {
	if t.Scopes == nil {
		return DefaultScopes
	}
	return t.Scopes
}

// Has reports whether the token has scope (read or admin).
func (t TokenInfo) Has(scope string) bool { return slices.Contains(t.ScopeList(), scope) }

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

// Token is a token as stored: its info and the SHA-256 of the secret.
type Token struct {
	TokenInfo
	Hash string `json:"sha256"`
}

// TokenSpec is what a new token is made with.
type TokenSpec struct {
	// Note says what the token is for.
	Note string
	// Scopes default to DefaultScopes.
	Scopes []string
	// TTL is how long it lasts; default DefaultTokenTTL.
	TTL time.Duration
	// Replaces names the token this one rotates.
	Replaces string
}

// NewToken makes a token for department as spec says, at now: the secret,
// shown once, and what is stored of it.
func NewToken(department string, spec TokenSpec, now time.Time) (string, Token, error) {
	if spec.Scopes == nil {
		spec.Scopes = DefaultScopes
	}
	if len(spec.Scopes) == 0 {
		return "", Token{}, fmt.Errorf("%w: a token needs at least one scope", ErrBadScope)
	}
	if err := CheckScopes(spec.Scopes); err != nil {
		return "", Token{}, err
	}
	if spec.TTL == 0 {
		spec.TTL = DefaultTokenTTL
	}
	if spec.TTL < 0 {
		return "", Token{}, fmt.Errorf("a token's lifetime must be positive, not %s", spec.TTL)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", Token{}, fmt.Errorf("making a token: %w", err)
	}
	id := make([]byte, 6)
	if _, err := rand.Read(id); err != nil {
		return "", Token{}, fmt.Errorf("making a token: %w", err)
	}
	created := now.UTC().Truncate(time.Second)
	expires := created.Add(spec.TTL)
	info := TokenInfo{ID: "tok_" + hex.EncodeToString(id), Department: department, Note: spec.Note, Created: created,
		Scopes: slices.Clone(spec.Scopes), Expires: &expires, Replaces: spec.Replaces}
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(secret)
	return token, Token{TokenInfo: info, Hash: Hash(token)}, nil
}

// Hash is how a token is stored: its SHA-256, hex.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
