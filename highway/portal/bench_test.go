package portal

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync/atomic"
	"testing"
	"time"
)

// benchPages are the pages the speed and weight budgets apply to.
var benchPages = []string{"/", "/feeds", "/feeds/td.traffic.detectors", "/jobs", "/catalog.jsonld", "/api/3/action/package_show?id=td-traffic-detectors"}

// BenchmarkPages renders each page with the built-in feeds, nothing kept
// from one request to the next (the clock of the caches moves cacheTTL
// each time). The fake querier answers at once, so this is the portal's
// own time; the browser test measures pages on the real ClickHouse.
// Budget: 100 ms a page.
func BenchmarkPages(b *testing.B) {
	p := newTestPortal(b)
	var ticks atomic.Int64
	clock := func() time.Time { return testNow.Add(time.Duration(ticks.Add(1)) * cacheTTL) }
	p.infos.now, p.city.now, p.jobsCache.now = clock, clock, clock
	for _, path := range benchPages {
		b.Run(path, func(b *testing.B) {
			for b.Loop() {
				rec := httptest.NewRecorder()
				p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}

// pageWeightBudget is the most a page may weigh with everything it loads.
const pageWeightBudget = 300 << 10

var assetRef = regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`)

// TestPageWeight adds each page's HTML and every asset it loads; the
// pages load nothing else (no fonts, images or scripts from elsewhere:
// the Content-Security-Policy allows only 'self').
func TestPageWeight(t *testing.T) {
	p := newTestPortal(t)
	for _, path := range benchPages[:4] {
		for _, lang := range []string{"en", "zh-Hant"} {
			resp, body := p.get(t, path+"?lang="+lang, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: status %d", path, resp.StatusCode)
			}
			total := len(body)
			for _, m := range assetRef.FindAllStringSubmatch(body, -1) {
				resp, asset := p.get(t, m[1], nil)
				if resp.StatusCode != 200 {
					t.Errorf("%s loads %s: status %d", path, m[1], resp.StatusCode)
				}
				total += len(asset)
			}
			t.Logf("%s (%s): %d bytes with its assets", path, lang, total)
			if total > pageWeightBudget {
				t.Errorf("%s (%s) weighs %d bytes, over the budget of %d", path, lang, total, pageWeightBudget)
			}
		}
	}
}
