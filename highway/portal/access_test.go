package portal

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/control"
)

// csrfOf is the CSRF secret of a session, as its pages' forms carry it.
func csrfOf(t testing.TB, session []*http.Cookie) string {
	t.Helper()
	c := cookieNamed(session, csrfCookie)
	if c == nil {
		t.Fatal("the session has no CSRF cookie")
	}
	return c.Value
}

// only returns the one request in the control plane, failing otherwise.
func (p *testPortal) only(t testing.TB) control.Request {
	t.Helper()
	all := p.control.Requests()
	if len(all) != 1 {
		t.Fatalf("%d requests in the control plane, want 1: %+v", len(all), all)
	}
	return all[0]
}

// A signed-in department asks for a restricted feed on its page; the
// owner approves it on /access, the others may not; the requester then
// reads the feed.
func TestAccessRequestInPortal(t *testing.T) {
	p := newTestPortal(t)
	epd, police, hko := signIn(t, p, "epd-token"), signIn(t, p, "police-token"), signIn(t, p, "hko-token")
	const feedPage = "/feeds/police.cases.open"
	const action = feedPage + "/access-request"

	resp, body := p.get(t, feedPage, epd)
	if resp.StatusCode != 404 {
		t.Fatalf("EPD on the restricted feed's page: %d", resp.StatusCode)
	}
	for _, want := range []string{`action="` + action + `"`, `<label for="purpose">`, `<label for="until">`, `name="csrf" value="` + csrfOf(t, epd) + `"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the request form lacks %q", want)
		}
	}
	for _, secret := range []string{"case_id", "POST /api/v1/query", "Open police cases", "POLICE"} {
		if strings.Contains(body, secret) {
			t.Errorf("the request form shows %q of the restricted feed", secret)
		}
	}
	// A feed that does not exist gets the same page: it does not tell
	// which restricted feeds exist.
	resp, other := p.get(t, "/feeds/police.cases.closed", epd)
	if resp.StatusCode != 404 || strings.ReplaceAll(other, "police.cases.closed", "police.cases.open") != body {
		t.Errorf("a missing feed's page (%d) differs from a restricted feed's:\n%s", resp.StatusCode, other)
	}
	if _, body := p.get(t, feedPage, signIn(t, p, "td-token")); strings.Contains(body, action) || !strings.Contains(body, "case_id") {
		t.Error("TD, granted the feed, gets the request form instead of the feed")
	}
	if resp, body := p.get(t, feedPage+"?lang=zh-Hant", epd); resp.StatusCode != 404 || !strings.Contains(body, "<label for=\"purpose\">用途</label>") {
		t.Errorf("zh-Hant request form: %d\n%s", resp.StatusCode, body)
	}

	tomorrow := testNow.In(hongKong).AddDate(0, 0, 1).Format(time.DateOnly)
	yesterday := testNow.In(hongKong).AddDate(0, 0, -1).Format(time.DateOnly)
	for _, tc := range []struct {
		name    string
		path    string
		form    url.Values
		session []*http.Cookie
		headers []string
		status  int
		want    string
	}{
		{"no CSRF field", action, url.Values{"purpose": {"x"}, "until": {"2027-01-31"}}, epd, nil, 403, "The form had expired"},
		{"cross-origin", action, url.Values{"csrf": {csrfOf(t, epd)}, "purpose": {"x"}, "until": {"2027-01-31"}}, epd, []string{"Sec-Fetch-Site", "cross-site"}, 403, ""},
		{"no purpose", action, url.Values{"csrf": {csrfOf(t, epd)}, "purpose": {" "}, "until": {"2027-01-31"}}, epd, nil, 400, "Please give a purpose"},
		{"no purpose, zh-Hant", action + "?lang=zh-Hant", url.Values{"csrf": {csrfOf(t, epd)}, "purpose": {""}, "until": {"2027-01-31"}}, epd, nil, 400, "請填寫用途"},
		{"end in the past", action, url.Values{"csrf": {csrfOf(t, epd)}, "purpose": {"x"}, "until": {yesterday}}, epd, nil, 400, "Please give a purpose and an end date after today"},
		{"not a date", action, url.Values{"csrf": {csrfOf(t, epd)}, "purpose": {"x"}, "until": {"soon"}}, epd, nil, 400, "YYYY-MM-DD"},
		{"signed out", action, url.Values{"csrf": {csrfOf(t, epd)}, "purpose": {"x"}, "until": {tomorrow}}, nil, nil, 404, "Page not found"},
		{"an open feed", "/feeds/hko.weather.rainfall/access-request", url.Values{"csrf": {csrfOf(t, epd)}, "purpose": {"x"}, "until": {tomorrow}}, epd, nil, 409, "Your department may read this feed already"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := p.post(t, tc.path, tc.form, tc.session, tc.headers...)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("status %d, want %d with %q\n%s", resp.StatusCode, tc.status, tc.want, body)
			}
			if n := len(p.control.Requests()); n != 0 {
				t.Fatalf("%d requests reached the control plane", n)
			}
		})
	}

	resp, body = p.post(t, action, url.Values{"csrf": {csrfOf(t, epd)}, "purpose": {"air quality near cases"}, "until": {"2027-01-31"}}, epd)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/access?done=requested" {
		t.Fatalf("request: %d to %q\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	q := p.only(t)
	wantUntil := time.Date(2027, 2, 1, 0, 0, 0, 0, hongKong)
	if q.Department != "EPD" || q.Feed != "police.cases.open" || q.Owner != "POLICE" || q.Purpose != "air quality near cases" ||
		!q.Until.Equal(wantUntil) || q.State != control.RequestPending || q.AskedBy != "tok_EPD" {
		t.Fatalf("the request in the control plane: %+v (until want %s)", q, wantUntil)
	}
	if _, body := p.get(t, "/access?done=requested", epd); !strings.Contains(body, q.ID) || !strings.Contains(body, "pending") ||
		!strings.Contains(body, "Your request was sent") || strings.Contains(body, "/access/"+q.ID+"/approve") || strings.Contains(body, "POLICE") {
		t.Errorf("EPD's /access does not list its pending request, or offers to approve it, or names the owner:\n%s", body)
	}
	if _, body := p.get(t, feedPage, epd); !strings.Contains(body, q.ID) {
		t.Error("the feed's page does not show EPD's earlier request")
	}
	_, body = p.get(t, "/access", police)
	for _, want := range []string{q.ID, "air quality near cases", `action="/access/` + q.ID + `/approve"`, `action="/access/` + q.ID + `/refuse"`,
		`<label for="until-` + q.ID + `">`, `value="2027-01-31"`, `<label for="reason-` + q.ID + `">`} {
		if !strings.Contains(body, want) {
			t.Errorf("POLICE's /access lacks %q", want)
		}
	}
	if _, body := p.get(t, "/access", hko); strings.Contains(body, q.ID) {
		t.Error("HKO sees a request neither made by it nor for its feeds")
	}

	approve := "/access/" + q.ID + "/approve"
	for _, tc := range []struct {
		name    string
		path    string
		form    url.Values
		session []*http.Cookie
		status  int
		want    string
	}{
		{"the requester", approve, url.Values{"csrf": {csrfOf(t, epd)}}, epd, 403, "Only the department that owns the feed decides"},
		{"the requester refuses", "/access/" + q.ID + "/refuse", url.Values{"csrf": {csrfOf(t, epd)}}, epd, 403, "Only the department that owns the feed decides"},
		{"another department", approve, url.Values{"csrf": {csrfOf(t, hko)}}, hko, 404, "There is no such request for your department"},
		{"no CSRF field", approve, url.Values{"until": {"2027-01-15"}}, police, 403, "The form had expired"},
		{"end in the past", approve, url.Values{"csrf": {csrfOf(t, police)}, "until": {yesterday}}, police, 400, "The end date must be after today"},
		{"end in the past, zh-Hant", approve + "?lang=zh-Hant", url.Values{"csrf": {csrfOf(t, police)}, "until": {yesterday}}, police, 400, "結束日期必須在今天之後"},
		{"signed out", approve, url.Values{"csrf": {csrfOf(t, epd)}}, nil, 303, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := p.post(t, tc.path, tc.form, tc.session)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("status %d, want %d with %q\n%s", resp.StatusCode, tc.status, tc.want, body)
			}
			if got := p.only(t); got.State != control.RequestPending {
				t.Fatalf("the request is %s", got.State)
			}
		})
	}

	resp, body = p.post(t, approve, url.Values{"csrf": {csrfOf(t, police)}, "until": {"2027-01-15"}}, police)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/access?done=approved" {
		t.Fatalf("approve: %d to %q\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	q = p.only(t)
	if want := time.Date(2027, 1, 16, 0, 0, 0, 0, hongKong); q.State != control.RequestApproved || q.GrantUntil == nil || !q.GrantUntil.Equal(want) || q.DecidedBy != "tok_POLICE" {
		t.Fatalf("approved request: %+v, want granted until %s", q, want)
	}
	if resp, body := p.post(t, approve, url.Values{"csrf": {csrfOf(t, police)}}, police); resp.StatusCode != 409 || !strings.Contains(body, "decided already") {
		t.Errorf("approving twice: %d\n%s", resp.StatusCode, body)
	}
	// The grant reaches the access rules in the background.
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, body := p.get(t, feedPage, epd)
		if strings.Contains(body, "case_id") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("EPD does not read the feed after the approval")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, body := p.get(t, "/access", epd); !strings.Contains(body, "approved") || !strings.Contains(body, "2027-01-16 00:00 HKT") {
		t.Error("EPD's /access does not show the approval and its end")
	}
}

func TestAccessRequestRefusedInPortal(t *testing.T) {
	p := newTestPortal(t)
	epd, police := signIn(t, p, "epd-token"), signIn(t, p, "police-token")
	resp, _ := p.post(t, "/feeds/police.cases.open/access-request", url.Values{"csrf": {csrfOf(t, epd)}, "purpose": {"curiosity"}, "until": {"2027-01-31"}}, epd)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("request: %d", resp.StatusCode)
	}
	q := p.only(t)
	resp, body := p.post(t, "/access/"+q.ID+"/refuse", url.Values{"csrf": {csrfOf(t, police)}, "reason": {"not needed for air quality"}}, police)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/access?done=refused" {
		t.Fatalf("refuse: %d to %q\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	if q = p.only(t); q.State != control.RequestRefused || q.Reason != "not needed for air quality" {
		t.Fatalf("refused request: %+v", q)
	}
	_, body = p.get(t, "/access?lang=zh-Hant", epd)
	if !strings.Contains(body, "已拒絕") || !strings.Contains(body, "not needed for air quality") {
		t.Errorf("EPD's /access does not show the refusal and its reason:\n%s", body)
	}
	if _, body := p.get(t, "/feeds/police.cases.open", epd); strings.Contains(body, "case_id") {
		t.Error("EPD reads the feed after a refusal")
	}
	if resp, _ := p.get(t, "/access", nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin" {
		t.Errorf("/access signed out: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}
