package portal

import (
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cityhighway/highway/highway/catalog"
)

// get fetches path with the given cookies and headers (key, value, ...).
func (p *testPortal) get(t testing.TB, path string, cookies []*http.Cookie, headers ...string) (*http.Response, string) {
	t.Helper()
	return p.do(httptest.NewRequest(http.MethodGet, path, nil), cookies, headers)
}

// post submits a form with the cookies.
func (p *testPortal) post(t testing.TB, path string, form url.Values, cookies []*http.Cookie, headers ...string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return p.do(req, cookies, headers)
}

func (p *testPortal) do(req *http.Request, cookies []*http.Cookie, headers []string) (*http.Response, string) {
	for _, c := range cookies {
		req.AddCookie(c)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Result(), string(body)
}

func TestPages(t *testing.T) {
	p := newTestPortal(t)
	tests := []struct {
		path    string
		status  int
		want    []string
		notWant []string
	}{
		{"/", 200, []string{`<html lang="en">`, "The city now", "en:CW", "en:S", "Amber Rainstorm Warning Signal", "Traffic speed", `data-fig="speed"`, `class="badge fresh-fresh"`},
			[]string{"Standby Signal No. 1", "police"}},
		{"/?lang=zh-Hant", 200, []string{`<html lang="zh-Hant">`, "城市現況", "zh-Hant:CW", `lang="en" hreflang="en">English</a>`, "過去一小時雨量"}, nil},
		{"/feeds", 200, []string{"td.traffic.detectors", "hko.weather.rainfall", "Air Quality Health Index", "11 feeds"}, []string{"police.cases.open", "Open police cases"}},
		{"/feeds?q=rain", 200, []string{"hko.weather.rainfall"}, []string{"td.traffic.detectors"}},
		{"/feeds?q=%E9%9B%A8%E9%87%8F", 200, []string{"hko.weather.rainfall"}, []string{"td.traffic.detectors"}}, // 雨量
		{"/feeds?department=EPD", 200, []string{"epd.aqhi.stations", "epd.air.pollutants", "2 feeds"}, nil},
		{"/feeds?field=aqhi", 200, []string{"epd.aqhi.stations", "1 feeds"}, nil},
		{"/feeds?access=restricted", 200, []string{"0 feeds", "No feed matches."}, []string{"police"}},
		{"/feeds/hko.weather.temperature", 200, []string{"Air temperature", "record_time", "<svg", "/open/v1/feeds/hko.weather.temperature/data?format=csv",
			"curl -o hko_weather_temperature.csv", "Provenance of the latest rows", `id="latest-rows"`, "DCAT-AP"}, nil},
		{"/feeds/hko.weather.temperature?lang=zh-Hant", 200, []string{"氣溫", "觀測時間", "數據字典"}, nil},
		{"/feeds/police.cases.open", 404, []string{"Page not found"}, []string{"Open police cases", "case_id"}},
		{"/feeds/no.such.feed", 404, []string{"Page not found"}, nil},
		{"/jobs", 200, []string{"city.district_hourly", "platform.feed_health", "avg_speed_kmh", "55.5", "<svg"}, nil},
		{"/signin", 200, []string{`name="csrf"`, `name="token"`, `type="password"`}, nil},
		{"/no/such/page", 404, []string{"Page not found"}, nil},
		{"/static/portal.css", 200, []string{".tiles"}, nil},
		{"/static/portal.js", 200, []string{"DOMParser"}, nil},
		{"/api/v1/feeds", 401, []string{"missing bearer token"}, nil},
		{"/open/v1/feeds", 200, []string{"hko.weather.rainfall"}, []string{"police"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := p.get(t, tt.path, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tt.status, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(body, w) {
					t.Errorf("page has %q", w)
				}
			}
		})
	}
}

// The personal field of a restricted feed never appears, even to a
// department that may read the feed.
func TestPersonalFieldsNeverShown(t *testing.T) {
	p := newTestPortal(t)
	session := signIn(t, p, "td-token")
	resp, body := p.get(t, "/feeds/police.cases.open", session)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if strings.Contains(body, "officer") {
		t.Error("the personal field officer is on the page")
	}
	for _, q := range p.q.queries {
		if strings.Contains(q, "officer") {
			t.Errorf("a query reads the personal field: %s", q)
		}
	}
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn signs in with token and returns the cookies of the session.
func signIn(t testing.TB, p *testPortal, token string) []*http.Cookie {
	t.Helper()
	resp, body := p.get(t, "/signin", nil)
	m := csrfInput.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF field on the sign-in form")
	}
	cookies := resp.Cookies()
	resp, body = p.post(t, "/signin", url.Values{"csrf": {m[1]}, "token": {token}}, cookies)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: status %d\n%s", resp.StatusCode, body)
	}
	return append(cookies, resp.Cookies()...)
}

func cookieNamed(cs []*http.Cookie, name string) *http.Cookie {
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestSignInAndOut(t *testing.T) {
	p := newTestPortal(t)
	resp, body := p.get(t, "/signin", nil)
	csrf := cookieNamed(resp.Cookies(), csrfCookie)
	if csrf == nil || !csrf.HttpOnly || csrf.SameSite != http.SameSiteStrictMode || csrf.Secure {
		t.Fatalf("CSRF cookie %+v: want HttpOnly, SameSite=Strict, not Secure over plain HTTP", csrf)
	}
	field := csrfInput.FindStringSubmatch(body)[1]
	cookies := resp.Cookies()

	for _, tc := range []struct {
		name    string
		form    url.Values
		cookies []*http.Cookie
		headers []string
		status  int
		want    string
	}{
		{"no CSRF field", url.Values{"token": {"td-token"}}, cookies, nil, 403, "The form had expired"},
		{"wrong CSRF field", url.Values{"token": {"td-token"}, "csrf": {field + "x"}}, cookies, nil, 403, "The form had expired"},
		{"no CSRF cookie", url.Values{"token": {"td-token"}, "csrf": {field}}, nil, nil, 403, "The form had expired"},
		{"cross-origin", url.Values{"token": {"td-token"}, "csrf": {field}}, cookies, []string{"Sec-Fetch-Site", "cross-site"}, 403, ""},
		{"bad token", url.Values{"token": {"nope"}, "csrf": {field}}, cookies, nil, 401, "unknown or revoked"},
		{"undeclared department", url.Values{"token": {"ghost-token"}, "csrf": {field}}, cookies, nil, 401, "not declared"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := p.post(t, "/signin", tc.form, tc.cookies, tc.headers...)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("status %d, want %d with %q\n%s", resp.StatusCode, tc.status, tc.want, body)
			}
			if cookieNamed(resp.Cookies(), sessionCookie) != nil {
				t.Fatal("a session cookie was set")
			}
		})
	}

	session := signIn(t, p, "td-token")
	c := cookieNamed(session, sessionCookie)
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie %+v: want HttpOnly and SameSite=Strict", c)
	}
	_, body = p.get(t, "/feeds", session)
	if !strings.Contains(body, "police.cases.open") || !strings.Contains(body, "Signed in as <strong>TD</strong>") {
		t.Fatal("signed in, TD does not see its granted restricted feed")
	}
	if _, body := p.get(t, "/feeds/police.cases.open", session); !strings.Contains(body, "Open police cases") || !strings.Contains(body, "POST /api/v1/query") {
		t.Fatal("the restricted feed's page is not shown to TD, or without its API call")
	}
	// EPD is not granted it.
	if _, body := p.get(t, "/feeds", signIn(t, p, "epd-token")); strings.Contains(body, "police") {
		t.Fatal("EPD sees a restricted feed it is not granted")
	}

	// A revoked token is signed out at the next page.
	p.tokens.revoke("td-token")
	resp, body = p.get(t, "/feeds", session)
	if strings.Contains(body, "police") || !strings.Contains(body, "You were signed out") {
		t.Fatal("a revoked token still sees the restricted feed, or is not told it was signed out")
	}
	if c := cookieNamed(resp.Cookies(), sessionCookie); c == nil || c.MaxAge >= 0 {
		t.Fatalf("the revoked session's cookie is not deleted: %+v", c)
	}

	// Signing out needs the CSRF field too.
	session = signIn(t, p, "epd-token")
	if resp, _ := p.post(t, "/signout", url.Values{}, session); resp.StatusCode != 403 {
		t.Fatalf("sign-out without CSRF: status %d", resp.StatusCode)
	}
	resp, _ = p.post(t, "/signout", url.Values{"csrf": {cookieNamed(session, csrfCookie).Value}}, session)
	if c := cookieNamed(resp.Cookies(), sessionCookie); resp.StatusCode != http.StatusSeeOther || c == nil || c.MaxAge >= 0 {
		t.Fatalf("sign-out: status %d, cookie %+v", resp.StatusCode, c)
	}
}

// Over TLS every cookie is Secure.
func TestCookiesSecureOverTLS(t *testing.T) {
	p := newTestPortal(t)
	req := httptest.NewRequest(http.MethodGet, "https://portal.example/signin?lang=zh-Hant", nil)
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, req)
	cs := rec.Result().Cookies()
	if len(cs) < 2 {
		t.Fatalf("cookies %v, want the CSRF and the language cookie", cs)
	}
	for _, c := range cs {
		if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
			t.Errorf("cookie %s is not Secure, HttpOnly and SameSite=Strict over TLS", c.Name)
		}
	}
}

func TestLanguage(t *testing.T) {
	p := newTestPortal(t)
	for _, tc := range []struct {
		name    string
		path    string
		cookies []*http.Cookie
		accept  string
		want    string
	}{
		{"default", "/feeds", nil, "", "en"},
		{"query", "/feeds?lang=zh-Hant", nil, "", "zh-Hant"},
		{"cookie", "/feeds", []*http.Cookie{{Name: langCookie, Value: "zh-Hant"}}, "", "zh-Hant"},
		{"query beats cookie", "/feeds?lang=en", []*http.Cookie{{Name: langCookie, Value: "zh-Hant"}}, "", "en"},
		{"Accept-Language zh-HK", "/feeds", nil, "zh-HK,zh;q=0.9,en;q=0.8", "zh-Hant"},
		{"Accept-Language zh-CN is not offered", "/feeds", nil, "zh-CN, en;q=0.5", "en"},
		{"unknown language", "/feeds?lang=fr", nil, "", "en"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := p.get(t, tc.path, tc.cookies, "Accept-Language", tc.accept)
			if !strings.Contains(body, `<html lang="`+tc.want+`">`) || resp.Header.Get("Content-Language") != tc.want {
				t.Fatalf("want lang %s; Content-Language %q", tc.want, resp.Header.Get("Content-Language"))
			}
		})
	}
	// A chosen language is remembered.
	resp, _ := p.get(t, "/?lang=zh-Hant", nil)
	if c := cookieNamed(resp.Cookies(), langCookie); c == nil || c.Value != "zh-Hant" {
		t.Fatalf("language cookie %+v", c)
	}
}

func TestMessagesInEveryLanguage(t *testing.T) {
	en := slices.Sorted(maps.Keys(messages[catalog.English]))
	for _, l := range catalog.Languages {
		if got := slices.Sorted(maps.Keys(messages[l])); !slices.Equal(got, en) {
			t.Errorf("%s has keys %v, English %v", l, got, en)
		}
	}
}

// Every page's own texts exist: no key is shown as itself.
func TestNoMissingMessages(t *testing.T) {
	p := newTestPortal(t)
	session := signIn(t, p, "td-token")
	keyLike := regexp.MustCompile(`>([a-z]+[A-Z][A-Za-z]+)<`)
	for _, path := range []string{"/", "/feeds", "/feeds/td.traffic.detectors", "/feeds/police.cases.open", "/jobs", "/signin", "/nope"} {
		for _, l := range catalog.Languages {
			_, body := p.get(t, path+"?lang="+l, session)
			if m := keyLike.FindStringSubmatch(body); m != nil {
				t.Errorf("%s in %s shows %q, a message key", path, l, m[1])
			}
		}
	}
}

func TestDownloadRange(t *testing.T) {
	p := newTestPortal(t)
	resp, _ := p.get(t, "/feeds/hko.weather.rainfall/download?from=2026-11-20&to=2026-11-21&format=ndjson", nil)
	loc := resp.Header.Get("Location")
	want := "/open/v1/feeds/hko.weather.rainfall/data?format=ndjson&from=2026-11-20T00%3A00%3A00%2B08%3A00&to=2026-11-22T00%3A00%3A00%2B08%3A00"
	if resp.StatusCode != http.StatusSeeOther || loc != want {
		t.Fatalf("status %d, Location %q, want %q", resp.StatusCode, loc, want)
	}
	for _, bad := range []string{"from=2026-11-22&to=2026-11-21&format=csv", "from=yesterday&to=2026-11-21", "from=2026-11-20&to=2026-11-21&format=xls"} {
		if resp, body := p.get(t, "/feeds/hko.weather.rainfall/download?"+bad, nil); resp.StatusCode != 400 || !strings.Contains(body, "YYYY-MM-DD") {
			t.Errorf("%s: status %d", bad, resp.StatusCode)
		}
	}
	if resp, _ := p.get(t, "/feeds/police.cases.open/download?from=2026-11-20&to=2026-11-21&format=csv", signIn(t, p, "td-token")); resp.StatusCode != 404 {
		t.Errorf("a restricted feed's open download: status %d", resp.StatusCode)
	}
}
