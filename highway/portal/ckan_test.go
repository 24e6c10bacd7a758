package portal

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// ckanCall calls a CKAN action by GET (query) or POST (JSON body).
func ckanCall(t *testing.T, p *testPortal, method, path, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s %s: not JSON: %v\n%s", method, path, err, rec.Body)
	}
	if _, ok := out["help"].(string); !ok {
		t.Errorf("%s %s: no help in the envelope", method, path)
	}
	return rec.Code, out
}

func TestCKAN(t *testing.T) {
	p := newTestPortal(t)
	tests := []struct {
		name, method, path, body string
		status                   int
		errType                  string
		check                    func(t *testing.T, result any)
	}{
		{name: "package_list", method: "GET", path: "/api/3/action/package_list", status: 200, check: func(t *testing.T, r any) {
			names := r.([]any)
			if len(names) != 11 || !slices.Contains(names, any("hko-weather-rainfall")) || slices.Contains(names, any("police-cases-open")) {
				t.Errorf("package_list = %v, want the 11 open feeds only", names)
			}
		}},
		{name: "package_list at /api/action by POST, as ckanapi calls it", method: "POST", path: "/api/action/package_list", body: "{}", status: 200},
		{name: "package_show by CKAN name", method: "GET", path: "/api/3/action/package_show?id=epd-aqhi-stations", status: 200, check: func(t *testing.T, r any) {
			pkg := r.(map[string]any)
			if pkg["name"] != "epd-aqhi-stations" || pkg["title"] != "Air Quality Health Index" || pkg["num_resources"] != float64(4) {
				t.Errorf("package %v", pkg)
			}
			if tt := pkg["title_translated"].(map[string]any); tt["zh-Hant"] != "空氣質素健康指數" {
				t.Errorf("title_translated %v", tt)
			}
			res := pkg["resources"].([]any)[0].(map[string]any)
			if !strings.HasSuffix(res["url"].(string), "/open/v1/feeds/epd.aqhi.stations/data?format=json") || res["format"] != "JSON" {
				t.Errorf("resource %v", res)
			}
			if g := pkg["groups"].([]any)[0].(map[string]any); g["name"] != "epd" {
				t.Errorf("group %v", g)
			}
		}},
		{name: "package_show by feed name, POST", method: "POST", path: "/api/action/package_show", body: `{"id": "td.traffic.detectors"}`, status: 200},
		{name: "package_show of a restricted feed", method: "GET", path: "/api/3/action/package_show?id=police-cases-open", status: 404, errType: "Not Found Error"},
		{name: "package_show unknown", method: "GET", path: "/api/3/action/package_show?id=nope", status: 404, errType: "Not Found Error"},
		{name: "package_show without id", method: "GET", path: "/api/3/action/package_show", status: 409, errType: "Validation Error"},
		{name: "unknown action", method: "GET", path: "/api/3/action/package_create", status: 400, errType: "Bad Request"},
		{name: "bad JSON", method: "POST", path: "/api/action/package_show", body: "{", status: 400, errType: "Bad Request"},
		{name: "group_list", method: "GET", path: "/api/3/action/group_list", status: 200, check: func(t *testing.T, r any) {
			if got := r.([]any); !slices.Equal(got, []any{"epd", "hko", "td"}) {
				t.Errorf("group_list = %v; POLICE has no open feed and must not be listed", got)
			}
		}},
		{name: "group_list all_fields", method: "GET", path: "/api/3/action/group_list?all_fields=true", status: 200, check: func(t *testing.T, r any) {
			if g := r.([]any)[1].(map[string]any); g["name"] != "hko" || g["package_count"] != float64(6) {
				t.Errorf("group %v", g)
			}
		}},
		{name: "group_show", method: "GET", path: "/api/3/action/group_show?id=TD", status: 200, check: func(t *testing.T, r any) {
			if g := r.(map[string]any); g["name"] != "td" || len(g["packages"].([]any)) != 3 {
				t.Errorf("group %v", g)
			}
		}},
		{name: "group_show of a department without open feeds", method: "GET", path: "/api/3/action/group_show?id=police", status: 404, errType: "Not Found Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := ckanCall(t, p, tt.method, tt.path, tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, out)
			}
			if tt.errType != "" {
				e, _ := out["error"].(map[string]any)
				if out["success"] != false || e["__type"] != tt.errType || e["message"] == "" {
					t.Fatalf("error %v, want __type %q", out, tt.errType)
				}
				return
			}
			if out["success"] != true {
				t.Fatalf("success %v", out["success"])
			}
			if tt.check != nil {
				tt.check(t, out["result"])
			}
		})
	}
}

func TestDCAT(t *testing.T) {
	p := newTestPortal(t)
	resp, body := p.get(t, "/catalog.jsonld", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/ld+json" {
		t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc struct {
		Context map[string]string   `json:"@context"`
		Type    string              `json:"@type"`
		Title   []map[string]string `json:"dct:title"`
		Dataset []struct {
			ID    string              `json:"@id"`
			Type  string              `json:"@type"`
			Title []map[string]string `json:"dct:title"`
			Dist  []struct {
				Type   string            `json:"@type"`
				Access map[string]string `json:"dcat:accessURL"`
			} `json:"dcat:distribution"`
		} `json:"dcat:dataset"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Type != "dcat:Catalog" || doc.Context["dcat"] != "http://www.w3.org/ns/dcat#" || len(doc.Title) != 2 {
		t.Fatalf("catalog %+v", doc)
	}
	if len(doc.Dataset) != 11 {
		t.Fatalf("%d datasets, want the 11 open feeds", len(doc.Dataset))
	}
	for _, d := range doc.Dataset {
		if d.Type != "dcat:Dataset" || len(d.Dist) != 4 || d.Dist[0].Type != "dcat:Distribution" || d.Dist[0].Access["@id"] == "" || len(d.Title) != 2 {
			t.Errorf("dataset %+v", d)
		}
		if strings.Contains(d.ID, "police") {
			t.Errorf("restricted feed %s in the catalogue", d.ID)
		}
	}
	resp, body = p.get(t, "/feeds/hko.weather.uv.jsonld", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"@type": "dcat:Dataset"`) || !strings.Contains(body, `"@context"`) {
		t.Fatalf("feed JSON-LD: status %d\n%s", resp.StatusCode, body)
	}
	if resp, _ := p.get(t, "/feeds/police.cases.open.jsonld", signIn(t, p, "td-token")); resp.StatusCode != 404 {
		t.Fatalf("a restricted feed's JSON-LD: status %d", resp.StatusCode)
	}
}

func TestISODuration(t *testing.T) {
	for d, want := range map[string]string{"1h": "PT1H", "30s": "PT30S", "2m": "PT2M", "12h": "PT12H", "90m": "PT1H30M", "0s": "PT0S"} {
		dur, _ := time.ParseDuration(d)
		if got := isoDuration(dur); got != want {
			t.Errorf("isoDuration(%s) = %s, want %s", d, got, want)
		}
	}
}

// Feeds' statistics are read once per cacheTTL, not once per page.
func TestStatisticsKept(t *testing.T) {
	p := newTestPortal(t)
	now := testNow
	p.infos.now = func() time.Time { return now }
	p.get(t, "/feeds", nil)
	first := p.stats.calls.Load()
	p.get(t, "/feeds", nil)
	if got := p.stats.calls.Load(); got != first {
		t.Fatalf("a second /feeds within %s read the statistics again (%d calls, then %d)", cacheTTL, first, got)
	}
	now = now.Add(cacheTTL)
	p.get(t, "/feeds", nil)
	if got := p.stats.calls.Load(); got != 2*first {
		t.Fatalf("after %s the statistics were not read again (%d calls, want %d)", cacheTTL, got, 2*first)
	}
}
