package portal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cityhighway/highway/highway/api"
	"github.com/cityhighway/highway/highway/control"
)

// Access requests in the signed-in view: the portal asks, lists, approves
// and refuses through the API's own routes (POST /api/v1/access-requests
// and the rest), called in process with the department's token, so the
// rules, the control-plane change and the audit entry are the API's and
// exist once. The portal only turns forms into the routes' JSON and the
// answers' statuses into sentences in the page's language.
//
//   - GET  /feeds/{feed} of a feed a signed-in department may not read:
//     404 with the request form, the same whether the feed is restricted
//     or does not exist (as the API answers a request alike for both, the
//     page does not tell which restricted feeds exist)
//   - POST /feeds/{feed}/access-request: purpose, until (a date)
//   - GET  /access: the department's requests and those for its feeds
//   - POST /access/{id}/approve (until, a date), /access/{id}/refuse (reason)

// requestPage is the data of the page of a feed a signed-in department
// may not read: only the name asked for, never the feed's title or owner.
type requestPage struct {
	Feed string
	// Purpose and Until are the form's values (after an error, what was
	// sent); Min is the earliest end the date picker offers.
	Purpose, Until, Min string
	Error               string
	// Mine are the department's earlier requests for the feed.
	Mine []requestRow
}

// accessPage is the data of /access.
type accessPage struct {
	// Mine are the requests the department made; ForUs the requests for
	// its feeds, each newest first.
	Mine, ForUs []requestRow
	Error       string
	// ErrorID is the request the error is about, shown beside it.
	ErrorID string
}

// requestRow is a request as the pages show it.
type requestRow struct {
	control.Request
	// Until is the end asked for as a date (the approve form's default).
	UntilDate string
	Pending   bool
}

// Dates on the forms are days in Hong Kong time; an access until a day
// lasts to the end of it, that is to midnight after it.
func untilOfDate(s string) (time.Time, bool) {
	d, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(s), hongKong)
	if err != nil {
		return time.Time{}, false
	}
	return d.AddDate(0, 0, 1), true
}

// dateOfUntil is the day an end falls at the close of (untilOfDate's
// inverse), for the forms' defaults.
func dateOfUntil(t time.Time) string {
	return t.In(hongKong).Add(-time.Nanosecond).Format(time.DateOnly)
}

// apiAnswer is what an in-process API call answered.
type apiAnswer struct {
	status int
	header http.Header
	body   bytes.Buffer
}

func (a *apiAnswer) Header() http.Header         { return a.header }
func (a *apiAnswer) Write(b []byte) (int, error) { return a.body.Write(b) }
func (a *apiAnswer) WriteHeader(status int) {
	if a.status == 0 {
		a.status = status
	}
}

// callAPI calls the API route method path as the signed-in department of
// v (its token, the visitor's address), with body as JSON, and decodes a
// 2xx answer into out. It returns the status and, for an error, the API's
// message (English; the log keeps it, the pages say it in their language).
func (s *Server) callAPI(r *http.Request, v *visit, method, path string, body, out any) (int, string) {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return http.StatusInternalServerError, err.Error()
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(r.Context(), method, path, rd)
	if err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	req.RemoteAddr, req.TLS, req.Host = r.RemoteAddr, r.TLS, r.Host
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	req.Header.Set("Authorization", "Bearer "+v.token)
	req.Header.Set("Content-Type", "application/json")
	ans := &apiAnswer{header: http.Header{}}
	s.cfg.API.ServeHTTP(ans, req)
	if ans.status == 0 {
		ans.status = http.StatusOK
	}
	if ans.status/100 != 2 {
		var e struct{ Error string }
		_ = json.Unmarshal(ans.body.Bytes(), &e)
		s.cfg.Logger.Info("portal: the API refused a call", "department", v.dept.Name, "route", method+" "+path, "status", ans.status, "err", e.Error)
		return ans.status, e.Error
	}
	if out != nil {
		if err := json.Unmarshal(ans.body.Bytes(), out); err != nil {
			return http.StatusInternalServerError, fmt.Sprintf("decoding the API's answer: %v", err)
		}
	}
	return ans.status, ""
}

// accessError is the sentence for an API status of an access-request
// call (what = "request" for asking, "decide" for approving and refusing).
func accessError(lang, what string, status int) string {
	switch status {
	case http.StatusBadRequest:
		return msg(lang, what+"Invalid")
	case http.StatusForbidden:
		return msg(lang, "decideForbidden")
	case http.StatusNotFound:
		return msg(lang, what+"NotFound")
	case http.StatusConflict:
		return msg(lang, what+"Conflict")
	case http.StatusServiceUnavailable:
		return msg(lang, "accessUnavailable")
	case http.StatusTooManyRequests:
		return msg(lang, "accessTooMany")
	case http.StatusUnauthorized:
		return msg(lang, "signedOutInvalid")
	}
	return msg(lang, "accessFailed")
}

// requests lists the requests the signed-in department may see, as GET
// /api/v1/access-requests answers; the status and message on failure.
func (s *Server) requests(r *http.Request, v *visit) ([]control.Request, int) {
	var list api.AccessRequestList
	status, _ := s.callAPI(r, v, http.MethodGet, "/api/v1/access-requests", nil, &list)
	return list.Requests, status
}

func rowOf(q control.Request) requestRow {
	return requestRow{Request: q, UntilDate: dateOfUntil(q.Until), Pending: q.State == control.RequestPending}
}

// requestable reports whether the signed-in department of v may ask for
// the feed called name from its page: one it may not read, restricted or
// not existing alike (the API decides the rest).
func (s *Server) requestable(v *visit, name string) bool {
	return v.dept != nil && strings.TrimSpace(name) != "" && s.cfg.API.ReadableFeed(v.dept, name) == nil
}

// requestForm renders the page of a feed the department may not read,
// with the request form.
func (s *Server) requestForm(w http.ResponseWriter, r *http.Request, v *visit, name string, status int, page requestPage) {
	page.Feed = name
	page.Min = dateOfUntil(s.cfg.API.Now().AddDate(0, 0, 1))
	if page.Until == "" {
		page.Until = dateOfUntil(s.cfg.API.Now().AddDate(0, 3, 0))
	}
	all, _ := s.requests(r, v)
	for _, q := range all {
		if q.Feed == name && q.Department == v.dept.Name {
			page.Mine = append(page.Mine, rowOf(q))
		}
	}
	s.render(w, r, v, status, "request", msg(v.lang, "requestAccess"), page)
}

// requestAccess posts the request form to POST /api/v1/access-requests.
func (s *Server) requestAccess(w http.ResponseWriter, r *http.Request, v *visit) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	name := r.PathValue("feed")
	if v.dept == nil {
		s.notFound(w, r, v)
		return
	}
	page := requestPage{Purpose: r.PostFormValue("purpose"), Until: r.PostFormValue("until")}
	if !checkCSRF(r, v) {
		page.Error = msg(v.lang, "csrfFailed")
		s.requestForm(w, r, v, name, http.StatusForbidden, page)
		return
	}
	until, ok := untilOfDate(page.Until)
	if !ok {
		page.Error = msg(v.lang, "badUntil")
		s.requestForm(w, r, v, name, http.StatusBadRequest, page)
		return
	}
	var out api.AccessRequest
	status, _ := s.callAPI(r, v, http.MethodPost, "/api/v1/access-requests", api.AccessRequestBody{Feed: name, Purpose: page.Purpose, Until: until}, &out)
	if status != http.StatusCreated {
		page.Error = accessError(v.lang, "request", status)
		s.requestForm(w, r, v, name, status, page)
		return
	}
	http.Redirect(w, r, "/access?done=requested", http.StatusSeeOther)
}

// accessList renders /access with the requests the department may see.
func (s *Server) accessList(w http.ResponseWriter, r *http.Request, v *visit) {
	s.renderAccess(w, r, v, http.StatusOK, accessPage{})
}

func (s *Server) renderAccess(w http.ResponseWriter, r *http.Request, v *visit, status int, page accessPage) {
	if v.dept == nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	switch r.URL.Query().Get("done") {
	case "requested", "approved", "refused":
		if status == http.StatusOK {
			v.notice = msg(v.lang, "done_"+r.URL.Query().Get("done"))
		}
	}
	all, got := s.requests(r, v)
	if got != http.StatusOK && page.Error == "" {
		page.Error, status = accessError(v.lang, "list", got), got
	}
	for _, q := range all {
		if q.Department == v.dept.Name {
			page.Mine = append(page.Mine, rowOf(q))
		}
		if q.Owner == v.dept.Name {
			page.ForUs = append(page.ForUs, rowOf(q))
		}
	}
	s.render(w, r, v, status, "access", msg(v.lang, "accessTitle"), page)
}

// decide posts an approve or refuse button to the API's route.
func (s *Server) decide(op string) func(http.ResponseWriter, *http.Request, *visit) {
	return func(w http.ResponseWriter, r *http.Request, v *visit) {
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		if v.dept == nil {
			http.Redirect(w, r, "/signin", http.StatusSeeOther)
			return
		}
		id := r.PathValue("id")
		fail := func(status int, text string) {
			s.renderAccess(w, r, v, status, accessPage{Error: text, ErrorID: id})
		}
		if !checkCSRF(r, v) {
			fail(http.StatusForbidden, msg(v.lang, "csrfFailed"))
			return
		}
		var body api.DecisionBody
		if op == "approve" {
			if d := r.PostFormValue("until"); d != "" {
				until, ok := untilOfDate(d)
				if !ok {
					fail(http.StatusBadRequest, msg(v.lang, "badUntil"))
					return
				}
				body.Until = &until
			}
		} else {
			body.Reason = strings.TrimSpace(r.PostFormValue("reason"))
		}
		status, _ := s.callAPI(r, v, http.MethodPost, "/api/v1/access-requests/"+url.PathEscape(id)+"/"+op, body, nil)
		if status != http.StatusOK {
			fail(status, accessError(v.lang, "decide", status))
			return
		}
		http.Redirect(w, r, "/access?done="+op+"d", http.StatusSeeOther)
	}
}
