package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/envelope"
)

// The samples of connectors/*/testdata, replayed through each feed's
// connector with --dry-run: records on stdout, rejects and a summary on
// stderr, the exit status says whether all was well.
func TestConnectReplay(t *testing.T) {
	const (
		hko       = "../../connectors/hko/testdata/"
		td        = "../../connectors/td/testdata/"
		epd       = "../../connectors/epd/testdata/"
		httppoll  = "../../connectors/httppoll/testdata/"
		locations = td + "td_traffic_speed_volume_occ_info.csv"
	)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sample, err := os.ReadFile(td + "td_rawSpeedVol-all.xml")
	if err != nil {
		t.Fatal(err)
	}
	badLanes := write("bad.xml", strings.Replace(strings.Replace(string(sample), "<speed>66</speed>", "<speed>fast</speed>", 1), "<occupancy>5</occupancy>", "<occupancy>500</occupancy>", 1))
	truncated := write("cut.xml", string(sample[:len(sample)/2]))
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		records int      // lines on stdout
		stderr  []string // lines stderr must contain
	}{
		{"detectors, with districts", []string{"--feed", "td.traffic.detectors", "--replay", td + "td_rawSpeedVol-all.xml", "--locations", locations}, 0, 20,
			[]string{"td.traffic.detectors: 20 record(s), 0 reject(s) from td_rawSpeedVol-all.xml (connector td.rawspeedvol)"}},
		{"detectors without locations", []string{"--feed", "td.traffic.detectors", "--replay", td + "td_rawSpeedVol-all.xml"}, 0, 20,
			[]string{"note: no --locations FILE: detector records have no district"}},
		{"a bad lane and a value out of range: exit 1, each reject with where and why", []string{"--feed", "td.traffic.detectors", "--replay", badLanes}, 1, 18,
			[]string{
				`reject period 21:27:00, detector AID01101, lane 1: speed "fast" is not a number`,
				`reject period 21:27:00, detector AID01101, lane 2: field occupancy: value 500: above the maximum 100`,
				"td.traffic.detectors: 18 record(s), 2 reject(s) from bad.xml",
			}},
		{"a truncated file: the records before the cut, exit 1", []string{"--feed", "td.traffic.detectors", "--replay", truncated}, 1, 9,
			[]string{"the payload could not be read whole: rawSpeedVol-all.xml: truncated:"}},
		{"segments", []string{"--feed", "td.traffic.segments", "--replay", td + "td_irnAvgSpeed-all.xml"}, 0, 6, []string{"td.traffic.segments: 6 record(s), 0 reject(s)"}},
		{"journey times", []string{"--feed", "td.traffic.journeytimes", "--replay", td + "td_journeytime.xml"}, 0, 2, nil},
		{"rhrread: temperature", []string{"--feed", "hko.weather.temperature", "--replay", hko + "hko_rhrread_en_2020-05-23.json"}, 0, 4, []string{"(connector hko.rhrread)"}},
		{"rhrread: rainfall", []string{"--feed", "hko.weather.rainfall", "--replay", hko + "hko_rhrread_en_2020-05-23.json"}, 0, 3, nil},
		{"rhrread: humidity", []string{"--feed", "hko.weather.humidity", "--replay", hko + "hko_rhrread_en_2020-05-23.json"}, 0, 1, nil},
		{"rhrread: uv", []string{"--feed", "hko.weather.uv", "--replay", hko + "hko_rhrread_en_2020-05-23.json"}, 0, 1, nil},
		{"warnings", []string{"--feed", "hko.weather.warnings", "--replay", hko + "hko_warnsum_tc_2026-09-25.json"}, 0, 2, nil},
		{"forecast", []string{"--feed", "hko.weather.forecast", "--replay", hko + "hko_fnd_tc_2021-09-14.json"}, 0, 2, nil},
		{"AQHI", []string{"--feed", "epd.aqhi.stations", "--replay", epd + "epd_aqhi_ind_rss_Eng.xml"}, 0, 2, nil},
		{"pollutants", []string{"--feed", "epd.air.pollutants", "--replay", "../../connectors/builtin/testdata/epd_24pc_Eng.xml"}, 0, 1, nil},
		{"a feed added with YAML alone", []string{"--specs", "../../docs/examples", "--feed", "td.carpark.vacancy", "--replay", httppoll + "td_carpark_vacancy_all.json"}, 0, 3,
			[]string{"td.carpark.vacancy: 3 record(s), 0 reject(s) from td_carpark_vacancy_all.json (connector td.carpark.vacancy)"}},
		{"a feed with two connectors needs --connector", []string{"--specs", "../../docs/examples", "--feed", "mtr.trains.next", "--replay", httppoll + "mtr_getSchedule.json"}, 2, 0,
			[]string{"feed mtr.trains.next has 2 connectors (mtr.tkl.lhp.down, mtr.tkl.lhp.up): pick one with --connector"}},
		{"--connector picks one", []string{"--specs", "../../docs/examples", "--feed", "mtr.trains.next", "--connector", "mtr.tkl.lhp.down", "--replay", httppoll + "mtr_getSchedule.json"}, 0, 1, nil},
		{"the wrong file for the feed", []string{"--feed", "epd.aqhi.stations", "--replay", td + "td_journeytime.xml"}, 1, 0,
			[]string{"the payload could not be read whole: aqhi_ind_rss_Eng.xml: the root element is <jtis_journey_list>, not <rss>"}},
		{"no feed", []string{"--replay", td + "td_journeytime.xml"}, 2, 0, []string{"--dry-run checks one feed: name it with --feed"}},
		{"a feed without a connector", []string{"--feed", "city.nothing", "--replay", td + "td_journeytime.xml"}, 2, 0, []string{`no feed called "city.nothing"`}},
		{"a missing file", []string{"--feed", "td.traffic.journeytimes", "--replay", filepath.Join(dir, "none.xml")}, 1, 0, []string{"reading the payload to replay"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"connect", "--dry-run"}, tc.args...)
			code := run(context.Background(), args, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstderr: %s", code, tc.code, stderr.String())
			}
			lines := 0
			if s := strings.TrimSpace(stdout.String()); s != "" {
				lines = len(strings.Split(s, "\n"))
			}
			if lines != tc.records {
				t.Errorf("%d records on stdout, want %d:\n%s", lines, tc.records, stdout.String())
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
		})
	}
}

func TestConnectUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"connect", "--feed", "td.traffic.segments", "--replay", "x.xml"}, "--replay publishes nothing; add --dry-run"},
		{[]string{"connect", "--feed", "td.traffic.segments"}, "no Kafka brokers"},
		{[]string{"connect", "--base-url", "localhost:1", "--dry-run"}, "--base-url"},
		{[]string{"connect", "--fetched-at", "today", "--dry-run"}, "--fetched-at"},
	} {
		t.Setenv("HIGHWAY_KAFKA", "")
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), tc.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// connect polls a source (here a test server at --base-url) and produces
// its records to Kafka (here the embedded broker): the real path, end to
// end, in a few seconds.
func TestConnectProduces(t *testing.T) {
	payload, err := os.ReadFile("../../connectors/td/testdata/td_journeytime.xml")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/td/jss/Journeytimev2.xml" {
			http.NotFound(w, r)
			return
		}
		w.Write(payload)
	}))
	defer srv.Close()
	kafka, err := bus.StartEmbedded(bus.EmbeddedConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer kafka.Close()
	brokers := strings.Join(kafka.Brokers(), ",")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"connect", "--feed", "td.traffic.journeytimes", "--kafka", brokers, "--base-url", srv.URL,
			"--state-dir", t.TempDir(), "--metrics-addr", "", "--log-level", "warn"}, &bytes.Buffer{}, &stderr)
	}()
	b, err := bus.New(bus.Config{Brokers: kafka.Brokers()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		msgs, _ := b.ReadAll(context.Background(), "td.traffic.journeytimes")
		if len(msgs) == 2 {
			if string(msgs[0].Header(envelope.HeaderSource)) != srv.URL+"/td/jss/Journeytimev2.xml" {
				t.Errorf("provenance: %v", msgs[0].Headers)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d records in Kafka, want 2; stderr:\n%s", len(msgs), stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}
