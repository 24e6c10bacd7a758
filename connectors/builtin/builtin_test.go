package builtin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/connectors/builtin"
	"github.com/cityhighway/highway/connectors/connector"
	"github.com/cityhighway/highway/highway/catalog"
)

func builtinCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// Every built-in feed has exactly one source, polled at the feed's cadence
// (the shortest interval of the feeds a source makes).
func TestTableCoversEveryBuiltinFeed(t *testing.T) {
	cat := builtinCatalog(t)
	made := map[string]string{}
	for _, d := range builtin.Defs() {
		shortest := time.Duration(0)
		for _, name := range d.Feeds {
			f := cat.Feed(name)
			if f == nil {
				t.Fatalf("source %s makes feed %s, which is not built in", d.Name, name)
			}
			if prev, dup := made[name]; dup {
				t.Errorf("feed %s is made by %s and %s", name, prev, d.Name)
			}
			made[name] = d.Name
			if shortest == 0 || f.Interval < shortest {
				shortest = f.Interval
			}
		}
		if d.Interval != shortest {
			t.Errorf("source %s polls every %s; its feeds' cadence is %s", d.Name, d.Interval, shortest)
		}
		if !strings.HasPrefix(d.URL, "https://") {
			t.Errorf("source %s: URL %s", d.Name, d.URL)
		}
	}
	for _, f := range cat.Feeds() {
		if made[f.Name] == "" {
			t.Errorf("built-in feed %s has no source", f.Name)
		}
	}
}

func TestURLsAndIntervals(t *testing.T) {
	r, err := builtin.New(builtin.Options{BaseURL: "http://127.0.0.1:8099/sim/", Speed: 60})
	if err != nil {
		t.Fatal(err)
	}
	srcs := r.Sources(nil)
	got := map[string]string{}
	for _, s := range srcs {
		got[s.Name] = fmt.Sprintf("%s every %s", s.URL, s.Interval)
	}
	for name, want := range map[string]string{
		"hko.rhrread":    "http://127.0.0.1:8099/sim/weatherAPI/opendata/weather.php?lang=en&dataType=rhrread every 1m0s",
		"td.rawspeedvol": "http://127.0.0.1:8099/sim/td/traffic-detectors/rawSpeedVol-all.xml every 1s",
		"epd.aqhi":       "http://127.0.0.1:8099/sim/epd/ddata/html/out/aqhi_ind_rss_Eng.xml every 1m0s",
	} {
		if got[name] != want {
			t.Errorf("%s: %s, want %s", name, got[name], want)
		}
	}
	if r.URL(builtin.LocationsURL) != "http://127.0.0.1:8099/sim/td/traffic-data-strategic-major-roads/info/traffic_speed_volume_occ_info.csv" {
		t.Errorf("locations at %s", r.URL(builtin.LocationsURL))
	}
	for _, bad := range []string{"127.0.0.1:8099", "ftp://x", "http://"} {
		if _, err := builtin.New(builtin.Options{BaseURL: bad}); err == nil {
			t.Errorf("base URL %q accepted", bad)
		}
	}
}

// Selecting one feed of a source that makes several narrows the source.
func TestSelect(t *testing.T) {
	r, _ := builtin.New(builtin.Options{})
	srcs, err := builtin.Select(r.Sources(nil), "hko.weather.humidity", "td.traffic.segments")
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != 2 || srcs[0].Name != "hko.rhrread" || !slices.Equal(srcs[0].Feeds, []string{"hko.weather.humidity"}) {
		t.Fatalf("selected %+v", srcs)
	}
	payload, err := os.ReadFile("../hko/testdata/hko_rhrread_en_2020-05-23.json")
	if err != nil {
		t.Fatal(err)
	}
	res, err := srcs[0].Parse(payload, time.Now())
	if err != nil || len(res.Records) != 1 || res.Records[0].Feed != "hko.weather.humidity" {
		t.Fatalf("narrowed parse: %+v, %v", res, err)
	}
	if _, err := builtin.Select(r.Sources(nil), "city.nothing"); err == nil || !strings.Contains(err.Error(), `no connector makes records of feed "city.nothing"; feeds with a connector: epd.air.pollutants,`) {
		t.Errorf("unknown feed: %v", err)
	}
}

// Connector specs become sources beside the built-in ones.
func TestConnectorSpecsAreSources(t *testing.T) {
	cat, err := catalog.Load(builtinCatalog(t), "../../docs/examples/td-carpark-vacancy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, _ := builtin.New(builtin.Options{BaseURL: "http://127.0.0.1:1"})
	srcs := r.Sources(cat)
	last := srcs[len(srcs)-1]
	if len(srcs) != len(builtin.Defs())+1 || last.Name != "td.carpark.vacancy" || last.URL != "http://127.0.0.1:1/td/carpark/vacancy_all.json" || last.Interval != 5*time.Minute {
		t.Fatalf("sources %+v", last)
	}
}

// The detector location list is fetched, used by the detector parser, and
// kept when a refresh fails.
func TestLocations(t *testing.T) {
	csv, err := os.ReadFile("../td/testdata/td_traffic_speed_volume_occ_info.csv")
	if err != nil {
		t.Fatal(err)
	}
	fail := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if fail || !strings.HasSuffix(req.URL.Path, "/traffic_speed_volume_occ_info.csv") {
			http.Error(w, "no", http.StatusServiceUnavailable)
			return
		}
		w.Write(csv)
	}))
	defer srv.Close()
	r, _ := builtin.New(builtin.Options{BaseURL: srv.URL})
	detectors := r.Sources(nil)[3]
	payload, err := os.ReadFile("../td/testdata/td_rawSpeedVol-all.xml")
	if err != nil {
		t.Fatal(err)
	}
	district := func() string {
		res, err := detectors.Parse(payload, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%s %s", res.Records[0].Key, res.Records[0].Value[strings.Index(string(res.Records[0].Value), `"district"`):][:15])
	}
	if got := district(); got != `AID01101|Fast Lane "district":null` {
		t.Errorf("before the list is loaded: %s", got)
	}
	if err := r.LoadLocations(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := district(); got != `AID01101|Fast Lane "district":"S",` {
		t.Errorf("after: %s", got)
	}
	fail = true
	if err := r.LoadLocations(context.Background()); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("failed refresh: %v", err)
	}
	if len(r.Locations()) != 4 {
		t.Errorf("the list was not kept after a failed refresh: %v", r.Locations())
	}
	if err := r.SetLocations([]byte("<html/>")); err == nil {
		t.Error("a list that is not CSV was taken")
	}
}

// Every sample of the built-in sources parses into records that fit their
// specs.
func TestSamples(t *testing.T) {
	cat := builtinCatalog(t)
	r, _ := builtin.New(builtin.Options{})
	bySource := samplePaths()
	v := connector.NewValidator(cat.Feeds()...)
	defer v.Release()
	for _, src := range r.Sources(nil) {
		payload, err := os.ReadFile(bySource[src.Name])
		if err != nil {
			t.Fatalf("%s: %v", src.Name, err)
		}
		res, err := src.Parse(payload, time.Time{})
		if err != nil {
			t.Fatalf("%s: %v", src.Name, err)
		}
		checked := v.Check(res)
		if len(res.Records) == 0 || len(checked.Records) != len(res.Records) {
			t.Errorf("%s: %d records, %d valid; rejects %+v", src.Name, len(res.Records), len(checked.Records), checked.Rejects)
		}
	}
}
