package api

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestRoleRouteMatrix calls every route that needs a token with a token of
// each kind and checks the exact status: no token, expired, revoked, a
// token without the scope the route needs, another department's, a
// granted one's, the owner's, an admin's and an admin department's token
// without the admin scope. A route added without a line here fails.
func TestRoleRouteMatrix(t *testing.T) {
	var fc *fakeControl
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	h := newHarness(t, withControl(&fc, &now))
	tf := h.srv.cfg.Tokens.(*TokenFile)
	mk := func(name, dept string, spec TokenSpec, at time.Time) {
		tf.now = func() time.Time { return at }
		tok, _, err := tf.CreateWith(dept, spec)
		if err != nil {
			t.Fatal(err)
		}
		h.tokens[name] = tok
	}
	mk("expired", "POLICE", TokenSpec{TTL: 24 * time.Hour}, h.now.Add(-48*time.Hour))
	mk("push only", "POLICE", TokenSpec{Scopes: []string{"push:police.cases"}}, h.now)
	mk("read only", "POLICE", TokenSpec{Scopes: []string{ScopeRead}}, h.now)
	mk("admin, no admin scope", "OPS", TokenSpec{Scopes: []string{ScopeRead}}, h.now)
	tf.now = time.Now

	roles := []string{"", "expired", "revoked", "push only", "read only", "EPD", "TD", "POLICE", "OPS", "admin, no admin scope"}
	record := `[{"case_id":"C9","at":"2026-11-26T08:00:00+08:00"}]`
	query := `{"sql":"SELECT count() FROM highway_restricted.police_cases"}`
	// Each route's call and its status for each role, in the order of roles.
	type call struct {
		path, body string
		status     [10]int
	}
	denied := [3]int{401, 401, 401}
	row := func(rest ...int) [10]int {
		var s [10]int
		copy(s[:], append(denied[:], rest...))
		return s
	}
	matrix := map[string]call{
		"GET /api/v1/feeds":                 {"/api/v1/feeds", "", row(403, 200, 200, 200, 200, 200, 200)},
		"GET /api/v1/feeds/{feed}":          {"/api/v1/feeds/police.cases", "", row(403, 200, 404, 200, 200, 200, 404)},
		"POST /api/v1/feeds/{feed}/records": {"/api/v1/feeds/police.cases/records", record, row(200, 403, 404, 403, 200, 403, 404)},
		"GET /api/v1/feeds/{feed}/live":     {"/api/v1/feeds/police.cases/live", "", row(403, 200, 404, 200, 200, 200, 404)},
		"POST /api/v1/query":                {"/api/v1/query", query, row(403, 200, 400, 200, 200, 200, 400)},
		"GET /api/v1/me":                    {"/api/v1/me", "", row(200, 200, 200, 200, 200, 200, 200)},
		"GET /api/v1/me/usage":              {"/api/v1/me/usage", "", row(200, 200, 200, 200, 200, 200, 200)},
		"GET /api/v1/feeds/{feed}/quality":  {"/api/v1/feeds/police.cases/quality", "", row(403, 503, 404, 503, 503, 503, 404)},
		"GET /api/v1/feeds/{feed}/data":     {"/api/v1/feeds/police.cases/data", "", row(403, 200, 404, 200, 200, 200, 404)},
		// Access requests (a fake control plane holds ar_one and ar_two of
		// EPD for police.cases, owned by POLICE). "read only" is POLICE's.
		"POST /api/v1/access-requests": {"/api/v1/access-requests", `{"feed":"police.cases","purpose":"p","until":"2027-01-01T00:00:00Z"}`,
			row(403, 409, 201, 409, 409, 409, 201)},
		"GET /api/v1/access-requests":               {"/api/v1/access-requests", "", row(403, 200, 200, 200, 200, 200, 200)},
		"GET /api/v1/access-requests/{id}":          {"/api/v1/access-requests/ar_one", "", row(403, 200, 200, 404, 200, 200, 404)},
		"POST /api/v1/access-requests/{id}/approve": {"/api/v1/access-requests/ar_one/approve", "{}", row(403, 403, 403, 404, 200, 403, 404)},
		"POST /api/v1/access-requests/{id}/refuse":  {"/api/v1/access-requests/ar_two/refuse", "{}", row(403, 403, 403, 404, 200, 403, 404)},
	}
	// Without a scheduler the jobs and cluster routes answer 503 to whoever
	// may read.
	for _, r := range []string{"GET /api/v1/cluster", "GET /api/v1/jobs", "POST /api/v1/jobs", "GET /api/v1/jobs/{job}", "PUT /api/v1/jobs/{job}",
		"DELETE /api/v1/jobs/{job}", "POST /api/v1/jobs/{job}/pause", "POST /api/v1/jobs/{job}/resume", "POST /api/v1/jobs/{job}/trigger", "GET /api/v1/jobs/{job}/runs"} {
		_, path, _ := strings.Cut(r, " ")
		matrix[r] = call{strings.ReplaceAll(path, "{job}", "j1"), "{}", row(403, 503, 503, 503, 503, 503, 503)}
	}
	for _, rt := range h.srv.routeTable() {
		if rt.auth != authToken {
			continue
		}
		key := rt.method + " " + rt.path
		c, ok := matrix[key]
		if !ok {
			t.Errorf("route %s is not in the role × route matrix: add it", key)
			continue
		}
		for i, role := range roles {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond) // ends live tails
			r := httptest.NewRequestWithContext(ctx, rt.method, c.path, strings.NewReader(c.body))
			if role != "" {
				r.Header.Set("Authorization", "Bearer "+h.tokens[role])
			}
			rr := httptest.NewRecorder()
			h.srv.ServeHTTP(rr, r)
			cancel()
			if rr.Code != c.status[i] {
				t.Errorf("%s as %q: %d, want %d: %s", key, role, rr.Code, c.status[i], strings.TrimSpace(rr.Body.String()))
			}
		}
	}
}

func TestTokenExpiryWarnings(t *testing.T) {
	h := newHarness(t, nil)
	tf := h.srv.cfg.Tokens.(*TokenFile)
	tf.now = func() time.Time { return h.now.Add(-80 * 24 * time.Hour) }
	soon, info, err := tf.Create("TD", "expires in 10 days")
	if err != nil {
		t.Fatal(err)
	}
	tf.now = func() time.Time { return h.now }
	later, _, err := tf.Create("TD", "expires in 90 days")
	if err != nil {
		t.Fatal(err)
	}
	rr := h.do("GET", "/api/v1/me", soon, "")
	if got := rr.Header().Get(HeaderTokenWarning); !strings.Contains(got, info.ID+" expires on 2026-12-06") || !strings.Contains(got, "highway token rotate "+info.ID) {
		t.Errorf("warning %q", got)
	}
	if got := rr.Header().Get(HeaderTokenExpires); got != info.Expires.Format(time.RFC3339) {
		t.Errorf("expires header %q, want %s", got, info.Expires.Format(time.RFC3339))
	}
	if !strings.Contains(rr.Body.String(), `"token_warning": "token `+info.ID+` expires on`) {
		t.Errorf("GET /api/v1/me does not carry the warning: %s", rr.Body.String())
	}
	if rr := h.do("GET", "/api/v1/feeds", later, ""); rr.Code != 200 || rr.Header().Get(HeaderTokenWarning) != "" || rr.Header().Get(HeaderTokenExpires) == "" {
		t.Errorf("a token with 90 days left: %d, warning %q", rr.Code, rr.Header().Get(HeaderTokenWarning))
	}
	h.now = h.now.Add(11 * 24 * time.Hour)
	if rr := h.do("GET", "/api/v1/feeds", soon, ""); rr.Code != 401 || !strings.Contains(rr.Body.String(), "expired on 2026-12-06") {
		t.Errorf("an expired token: %d %s", rr.Code, rr.Body.String())
	}
}

func TestTokenRotate(t *testing.T) {
	tf, err := OpenTokenFile(t.TempDir() + "/tokens.json")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	tf.now = func() time.Time { return now }
	oldTok, old, err := tf.CreateWith("TD", TokenSpec{Note: "detectors", Scopes: []string{"push:td.traffic.detectors"}})
	if err != nil {
		t.Fatal(err)
	}
	newTok, rotated, err := tf.Rotate(old.ID, 7*24*time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Replaces != old.ID || rotated.Department != "TD" || fmt.Sprint(rotated.Scopes) != "[push:td.traffic.detectors]" || rotated.Note != "detectors" ||
		!rotated.Expires.Equal(now.Add(DefaultTokenTTL)) {
		t.Errorf("rotated %+v", rotated)
	}
	// Both work during the overlap; after it only the new one does.
	for _, at := range []struct {
		after      time.Duration
		old, fresh bool
	}{{time.Hour, true, true}, {8 * 24 * time.Hour, false, true}} {
		now = now.Add(at.after)
		for tok, want := range map[string]bool{oldTok: at.old, newTok: at.fresh} {
			info, ok := tf.Verify(tok)
			if got := ok && !info.Expired(now); got != want {
				t.Errorf("%s after %s: valid %v, want %v", info.ID, at.after, got, want)
			}
		}
	}
	if _, _, err := tf.Rotate(old.ID, time.Hour, 0); err == nil || !strings.Contains(err.Error(), "revoked or expired") {
		t.Errorf("rotating an expired token: %v", err)
	}
	for _, scopes := range [][]string{{}, {"write"}, {"push:"}} {
		if _, _, err := tf.CreateWith("TD", TokenSpec{Scopes: scopes}); err == nil {
			t.Errorf("scopes %q accepted", scopes)
		}
	}
}
