package portal

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/cityhighway/highway/highway/api"
	"github.com/cityhighway/highway/highway/catalog"
)

// The portal's cookies. All are HttpOnly and SameSite=Strict, and Secure
// when the portal is served over TLS.
const (
	// sessionCookie holds a signed-in department's API token.
	sessionCookie = "hw_session"
	// csrfCookie holds the CSRF secret that every form echoes.
	csrfCookie = "hw_csrf"
	// langCookie remembers the language chosen with ?lang=.
	langCookie = "hw_lang"
	// csrfField is the forms' hidden field with the CSRF secret.
	csrfField = "csrf"
)

// visit is who is looking at a page, and in which language.
type visit struct {
	lang string
	// dept is the signed-in department; nil for the public.
	dept *catalog.Department
	// csrf is the secret the page's forms carry.
	csrf string
	// notice is a message for the top of the page (signed out, ...).
	notice string
	// token is the signed-in department's API token, with which the
	// portal calls the API on its behalf (access requests); "" for the
	// public.
	token string
}

// visitOf reads the request's language, session and CSRF cookie, setting
// the cookies that need it: a language chosen with ?lang=, a new CSRF
// secret, and an expired session for a token that is no longer valid.
func (s *Server) visitOf(w http.ResponseWriter, r *http.Request) *visit {
	v := &visit{lang: s.language(w, r)}
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 {
		v.csrf = c.Value
	} else {
		b := make([]byte, 32)
		_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
		v.csrf = base64.RawURLEncoding.EncodeToString(b)
		setCookie(w, r, csrfCookie, v.csrf, 0)
	}
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		dept, _, err := s.cfg.API.SignIn(c.Value)
		if err != nil {
			setCookie(w, r, sessionCookie, "", -1)
			v.notice = msg(v.lang, "signedOutInvalid")
		} else {
			v.dept, v.token = dept, c.Value
		}
	}
	return v
}

// setCookie sets a portal cookie; maxAge 0 lasts the browser session,
// negative deletes it.
func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

// language picks the page's language: ?lang= (remembered in a cookie),
// else the cookie, else the first of Accept-Language the portal speaks,
// else English.
func (s *Server) language(w http.ResponseWriter, r *http.Request) string {
	if l := matchLanguage(r.URL.Query().Get("lang")); l != "" {
		setCookie(w, r, langCookie, l, int((365 * 24 * time.Hour).Seconds()))
		return l
	}
	if c, err := r.Cookie(langCookie); err == nil {
		if l := matchLanguage(c.Value); l != "" {
			return l
		}
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if l := matchLanguage(tag); l != "" {
			return l
		}
	}
	return catalog.English
}

// matchLanguage maps a language tag to one of catalog.Languages: zh, zh-HK,
// zh-TW and zh-Hant* are Traditional Chinese; en* English; "" otherwise
// (Simplified Chinese is not offered).
func matchLanguage(tag string) string {
	t := strings.ToLower(tag)
	switch {
	case t == "en" || strings.HasPrefix(t, "en-"):
		return catalog.English
	case t == "zh" || t == "zh-hk" || t == "zh-tw" || t == "zh-mo" || strings.HasPrefix(t, "zh-hant"):
		return catalog.TraditionalChinese
	}
	return ""
}

// checkCSRF reports whether a posted form carries the visit's CSRF secret.
func checkCSRF(r *http.Request, v *visit) bool {
	got := r.PostFormValue(csrfField)
	c, err := r.Cookie(csrfCookie)
	return err == nil && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(c.Value)) == 1
}

func (s *Server) signInForm(w http.ResponseWriter, r *http.Request, v *visit) {
	s.render(w, r, v, http.StatusOK, "signin", msg(v.lang, "signIn"), signInPage{})
}

type signInPage struct{ Error string }

func (s *Server) signIn(w http.ResponseWriter, r *http.Request, v *visit) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if !checkCSRF(r, v) {
		s.render(w, r, v, http.StatusForbidden, "signin", msg(v.lang, "signIn"), signInPage{Error: msg(v.lang, "csrfFailed")})
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	dept, _, err := s.cfg.API.SignIn(token)
	if err != nil {
		key := "badToken"
		switch {
		case errors.Is(err, api.ErrUndeclared):
			key = "undeclaredDepartment"
		case errors.Is(err, api.ErrExpired):
			key = "expiredToken"
		}
		s.render(w, r, v, http.StatusUnauthorized, "signin", msg(v.lang, "signIn"), signInPage{Error: msg(v.lang, key)})
		return
	}
	setCookie(w, r, sessionCookie, token, 0)
	s.cfg.Logger.Info("department signed in to the portal", "department", dept.Name)
	http.Redirect(w, r, "/feeds", http.StatusSeeOther)
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request, v *visit) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if !checkCSRF(r, v) {
		s.render(w, r, v, http.StatusForbidden, "signin", msg(v.lang, "signIn"), signInPage{Error: msg(v.lang, "csrfFailed")})
		return
	}
	setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
