package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// The headers that tell a caller about its token.
const (
	// HeaderTokenExpires is when the caller's token expires (RFC 3339).
	HeaderTokenExpires = "Highway-Token-Expires"
	// HeaderTokenWarning says the caller's token expires within
	// TokenWarnBefore, or never does, and how to rotate it.
	HeaderTokenWarning = "Highway-Token-Warning"
)

// principal is the authenticated caller of an /api/ route.
type principal struct {
	dept  *catalog.Department
	token TokenInfo
}

// authenticate finds the caller's department from the bearer token, or
// answers 401 (no or bad token) or 403 (a token whose department is gone).
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*principal, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, found := strings.Cut(h, " ")
	if h == "" || !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="highway"`)
		writeError(w, http.StatusUnauthorized, "missing bearer token",
			"send the header 'Authorization: Bearer <token>'; an operator makes one with 'highway token create --department NAME'")
		if h != "" {
			s.auditFailedAuth(r, TokenInfo{}, http.StatusUnauthorized, "not a bearer token")
		}
		return nil, false
	}
	dept, info, err := s.SignIn(token)
	switch {
	case errors.Is(err, ErrBadToken) && s.cfg.Tokens == nil:
		w.Header().Set("WWW-Authenticate", `Bearer realm="highway", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "invalid or revoked token", "this server has no token store configured; start it with --tokens-file")
		s.auditFailedAuth(r, info, http.StatusUnauthorized, "no token store")
		return nil, false
	case errors.Is(err, ErrBadToken):
		w.Header().Set("WWW-Authenticate", `Bearer realm="highway", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "invalid or revoked token", "check the token, or ask an operator for a new one ('highway token create')")
		s.auditFailedAuth(r, info, http.StatusUnauthorized, "unknown or revoked token")
		return nil, false
	case errors.Is(err, ErrExpired):
		w.Header().Set("WWW-Authenticate", `Bearer realm="highway", error="invalid_token", error_description="expired"`)
		writeError(w, http.StatusUnauthorized, fmt.Sprintf("token %s expired on %s", info.ID, info.Expires.UTC().Format(time.RFC3339)),
			"rotate tokens before they expire ('highway token rotate ID'); now ask an operator for a new one ('highway token create')")
		s.auditFailedAuth(r, info, http.StatusUnauthorized, "expired token")
		return nil, false
	case err != nil:
		writeError(w, http.StatusForbidden, fmt.Sprintf("the token's department %q is not declared", info.Department),
			"declare the department in a 'kind: department' spec, or use a token of another department")
		s.auditFailedAuth(r, info, http.StatusForbidden, "the token's department is not declared")
		return nil, false
	}
	if info.Expires != nil {
		w.Header().Set(HeaderTokenExpires, info.Expires.UTC().Format(time.RFC3339))
	}
	if warn := info.ExpiryWarning(s.cfg.Now()); warn != "" {
		w.Header().Set(HeaderTokenWarning, warn)
	}
	return &principal{dept: dept, token: info}, true
}

// AuditActionAuthFailed is the audit action of a request whose token was
// refused: not a bearer token, unknown, revoked or expired, or of an
// undeclared department. A request with no Authorization header at all is
// not one (the open routes and the portal are called so all the time).
const AuditActionAuthFailed = "auth.failed"

// auditFailedAuth writes the audit entry of a refused token: who (the
// token's id and department when the token is known), from where, on which
// route, and why. The token itself is never written.
func (s *Server) auditFailedAuth(r *http.Request, info TokenInfo, status int, why string) {
	s.audit(store.AuditEntry{Department: info.Department, TokenID: info.ID, Client: s.clientAddr(r), Action: AuditActionAuthFailed,
		Route: r.Method + " " + r.URL.Path, Status: status, Error: why})
}
