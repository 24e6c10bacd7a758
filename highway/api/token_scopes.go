package api

import "github.com/cityhighway/highway/highway/control"

// A token's scopes, expiry and info are the control plane's
// (highway/control); these names keep the API's vocabulary.
const (
	ScopeRead       = control.ScopeRead
	ScopeAdmin      = control.ScopeAdmin
	ScopePushPrefix = control.ScopePushPrefix
	ScopePushAll    = control.ScopePushAll
	// DefaultTokenTTL is how long a new token lasts unless told otherwise.
	DefaultTokenTTL = control.DefaultTokenTTL
	// TokenWarnBefore is how long before its expiry a token's responses
	// carry a warning.
	TokenWarnBefore = control.TokenWarnBefore
)

// DefaultScopes are a new token's scopes unless it is given others.
var DefaultScopes = control.DefaultScopes

// ErrBadScope is returned for a scope that is not read, admin or
// push:<feed>.
var ErrBadScope = control.ErrBadScope

// TokenInfo is what is known of a token, without its secret.
type TokenInfo = control.TokenInfo

// TokenSpec is what a new token is made with.
type TokenSpec = control.TokenSpec

// CheckScopes returns an error naming the first scope that is not read,
// admin, push:* or push:<feed>.
func CheckScopes(scopes []string) error { return control.CheckScopes(scopes) }
