package sim_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cityhighway/highway/connectors/builtin"
	"github.com/cityhighway/highway/connectors/connector"
	"github.com/cityhighway/highway/connectors/poll"
	"github.com/cityhighway/highway/connectors/sim"
	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
)

// clock is a settable clock for the simulator.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// simulate serves a simulator at a clock and returns the built-in sources
// pointed at it, with the detector locations loaded from it.
func simulate(t *testing.T, cfg sim.ServerConfig) (*clock, *builtin.Registry, []poll.Source) {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 26, 8, 30, 0, 0, connector.HKT)}
	cfg.Now = c.now
	srv := httptest.NewServer(sim.NewServer(cfg))
	t.Cleanup(srv.Close)
	reg, err := builtin.New(builtin.Options{BaseURL: srv.URL, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.LoadLocations(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c, reg, reg.Sources(nil)
}

func fetch(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// Every payload the simulator serves parses with the real parser into
// records that all pass the Validator, at every hour of the day and across
// midnight, with no reject when nothing is spoiled; every built-in feed gets
// records at some hour, and every detector has its district.
func TestPayloadsParseAndValidate(t *testing.T) {
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	clk, reg, sources := simulate(t, sim.ServerConfig{BadShare: -1})
	if len(reg.Locations()) != 120 || reg.Locations()["AID01101"].District != "S" {
		t.Fatalf("locations: %d, AID01101 %+v", len(reg.Locations()), reg.Locations()["AID01101"])
	}
	v := connector.NewValidator(cat.Feeds()...)
	defer v.Release()
	fed := map[string]int{}
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, connector.HKT)
	times := []time.Time{day.Add(-10 * time.Second), day.Add(20 * time.Second)}
	for h := 0; h < 24; h += 3 {
		times = append(times, day.Add(time.Duration(h)*time.Hour+17*time.Minute))
	}
	for _, at := range times {
		clk.set(at)
		for _, src := range sources {
			payload := fetch(t, src.URL)
			res, err := src.Parse(payload, at)
			if err != nil {
				t.Fatalf("%s at %s: %v", src.Name, at, err)
			}
			checked := v.Check(res)
			for _, rj := range checked.Rejects {
				t.Errorf("%s at %s: reject %s: %s\n%s", src.Name, at, rj.Where, rj.Reason, rj.Raw)
			}
			for _, rec := range checked.Records {
				fed[rec.Feed]++
				if rec.Feed == "td.traffic.detectors" && strings.Contains(string(rec.Value), `"district":null`) {
					t.Errorf("detector record without a district: %s", rec.Value)
				}
			}
		}
	}
	for _, f := range cat.Feeds() {
		if fed[f.Name] == 0 {
			t.Errorf("feed %s got no record", f.Name)
		}
	}
}

// Across midnight the detector file is dated by its first period, as TD
// does; the parser moves the 00:00 period to its day.
func TestDetectorFileAcrossMidnight(t *testing.T) {
	at := time.Date(2026, 11, 27, 0, 0, 10, 0, connector.HKT)
	s := sim.NewServer(sim.ServerConfig{BadShare: -1, Detectors: 1})
	payload, _, _, err := s.Payload("/td/traffic-detectors/rawSpeedVol-all.xml", at)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(payload), "<date>2026-11-26</date>") || !strings.Contains(string(payload), "<period_from>00:00:00</period_from>") {
		t.Fatalf("payload: %s", payload)
	}
	r, _ := builtin.New(builtin.Options{})
	res, err := r.Sources(nil)[3].Parse(payload, at)
	if err != nil {
		t.Fatal(err)
	}
	var last map[string]any
	json.Unmarshal(res.Records[len(res.Records)-1].Value, &last)
	if last["period_from"] != "2026-11-27T00:00:00+08:00" {
		t.Errorf("the 00:00 period is at %v", last["period_from"])
	}
}

// Spoiled items become rejects with reasons, never payload errors.
func TestSpoiledItemsAreRejected(t *testing.T) {
	cat, _ := catalog.Builtin()
	clk, _, sources := simulate(t, sim.ServerConfig{BadShare: 0.3})
	v := connector.NewValidator(cat.Feeds()...)
	defer v.Release()
	records, rejects := map[string]int{}, map[string]int{}
	for h := 0; h < 24; h += 4 {
		clk.set(time.Date(2026, 11, 26, h, 30, 0, 0, connector.HKT))
		for _, src := range sources {
			res, err := src.Parse(fetch(t, src.URL), clk.now())
			if err != nil {
				t.Fatalf("%s: %v", src.Name, err)
			}
			res = v.Check(res)
			records[src.Name] += len(res.Records)
			rejects[src.Name] += len(res.Rejects)
		}
	}
	for _, src := range sources {
		if records[src.Name] == 0 || rejects[src.Name] == 0 {
			t.Errorf("%s: %d records, %d rejects; want both", src.Name, records[src.Name], rejects[src.Name])
		}
	}
}

// A payload stays the same until the source's next publication: the
// runtime's conditional GET gets 304, then only new records come.
func TestPublicationsAndConditionalGET(t *testing.T) {
	cat, _ := catalog.Builtin()
	clk, _, sources := simulate(t, sim.ServerConfig{BadShare: -1, Speed: 60})
	var segments poll.Source
	for _, s := range sources {
		if s.Name == "td.irnavgspeed" {
			segments = s
		}
	}
	var produced []bus.Message
	p := poll.New(poll.Config{Catalog: cat, StateDir: t.TempDir(), Now: clk.now}, producerFunc(func(msgs ...bus.Message) error {
		produced = append(produced, msgs...)
		return nil
	}))
	for _, step := range []struct {
		after   time.Duration
		status  string
		records int
	}{
		{0, "new", 200},
		{500 * time.Millisecond, "not_modified", 0},
		{2 * time.Second, "new", 200}, // 2m / 60: the next publication
	} {
		clk.set(clk.now().Add(step.after))
		out, err := p.Poll(context.Background(), segments)
		if err != nil {
			t.Fatal(err)
		}
		if out.Status != step.status || out.Records != step.records {
			t.Errorf("after %s: %s with %d records, want %s with %d", step.after, out.Status, out.Records, step.status, step.records)
		}
	}
	if len(produced) != 400 {
		t.Errorf("%d messages produced", len(produced))
	}
}

type producerFunc func(msgs ...bus.Message) error

func (f producerFunc) Produce(_ context.Context, msgs ...bus.Message) error { return f(msgs...) }

func TestUnknownPath(t *testing.T) {
	s := sim.NewServer(sim.ServerConfig{})
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/nothing.xml", nil))
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "/td/jss/Journeytimev2.xml") {
		t.Errorf("%d %s", rec.Code, rec.Body.String())
	}
}
