//go:build integration

package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/envelope"
	"github.com/cityhighway/highway/highway/stream"
	"github.com/cityhighway/highway/internal/testenv"
	"github.com/cityhighway/highway/internal/testenv/feedenv"
)

// A department's feed, added with YAML alone (the README's car-park
// example, under a name unique to the test): `highway connect` polls a test
// server serving the sample payload and publishes to the real Kafka; a
// processor lands the rows in the real ClickHouse. Restarted on a new
// snapshot, the connector publishes only what is new (its state says what
// was), and a bad item goes to the dead-letter topic with its reason.
func TestConnectToKafkaAndClickHouse(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sample, err := os.ReadFile("../../connectors/httppoll/testdata/td_carpark_vacancy_all.json")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		payload = append([]byte("\ufeff"), sample...) // the live file starts with a BOM
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Write(payload)
	}))
	defer srv.Close()

	// The example's feed and connector under a fresh name, pointed at srv.
	example, err := os.ReadFile("../../docs/examples/td-carpark-vacancy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	name := "it.carpark." + strings.ReplaceAll(testenv.Name("v"), "_", "")
	spec := strings.ReplaceAll(string(example), "td.carpark.vacancy", name)
	spec = strings.ReplaceAll(spec, "https://resource.data.one.gov.hk", srv.URL)
	specFile, cat := writeSpecs(t, "carpark.yaml", spec)
	feed := cat.Feed(name)

	brokers := testenv.Kafka(t)
	b, st := feedenv.Open(t, feed)
	prod := b.NewProducer()
	defer prod.Close()
	proc, err := stream.NewProcessor(stream.Config{Feed: feed, MaxRows: 100, MaxWait: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}, b, st, prod)
	if err != nil {
		t.Fatal(err)
	}
	pctx, stopProc := context.WithCancel(ctx)
	procDone := make(chan error, 1)
	go func() { procDone <- proc.Run(pctx) }()
	defer func() { stopProc(); <-procDone }()

	stateDir := t.TempDir()
	connect := func() { t.Helper(); connectOnce(ctx, t, specFile, name, brokers, stateDir) }
	rows := func(want int) []string {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			out, err := st.QueryRows(ctx, fmt.Sprintf("SELECT concat(park_id, ' ', ifNull(toString(vacancy), 'null'), ' ', toString(last_update), ' ', ifNull(toString(_source), 'null')) FROM %s ORDER BY park_id, last_update", feed.Table()))
			if err != nil {
				t.Fatal(err)
			}
			if len(out) >= want || time.Now().After(deadline) {
				lines := make([]string, len(out))
				for i, r := range out {
					lines[i] = fmt.Sprint(r[0])
				}
				return lines
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	connect()
	got := rows(3)
	want := []string{
		"p1 12 2026-07-31 12:00:00 " + srv.URL + "/td/carpark/vacancy_all.json",
		"p2 1 2026-07-31 12:00:00 " + srv.URL + "/td/carpark/vacancy_all.json",
		"p3 0 2026-07-31 12:00:00 " + srv.URL + "/td/carpark/vacancy_all.json",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows after the first poll:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A new snapshot: p1 unchanged, p2 updated, p3 with a bad vacancy, p4 new.
	mu.Lock()
	payload = []byte("\ufeff" + `{"car_park": [
		{"park_id": "p1", "vehicle_type": [{"type": "P", "service_category": [{"category": "HOURLY", "vacancy_type": "A", "vacancy": 12, "lastupdate": "2026-07-31 20:00:00"}]}]},
		{"park_id": "p2", "vehicle_type": [{"type": "P", "service_category": [{"category": "HOURLY", "vacancy_type": "B", "vacancy": 0, "lastupdate": "2026-07-31 20:05:00"}]}]},
		{"park_id": "p3", "vehicle_type": [{"type": "P", "service_category": [{"category": "HOURLY", "vacancy_type": "A", "vacancy": "lots", "lastupdate": "2026-07-31 20:05:00"}]}]},
		{"park_id": "p4", "vehicle_type": [{"type": "P", "service_category": [{"category": "DAILY", "vacancy_type": "A", "vacancy": 40, "lastupdate": "2026-07-31 20:05:00"}]}]},
	]}`)
	mu.Unlock()
	connect() // a restart: same state folder
	got = rows(5)
	time.Sleep(time.Second) // nothing more may arrive
	got = rows(5)
	want = []string{
		want[0],
		want[1],
		"p2 0 2026-07-31 12:05:00 " + srv.URL + "/td/carpark/vacancy_all.json",
		want[2],
		"p4 40 2026-07-31 12:05:00 " + srv.URL + "/td/carpark/vacancy_all.json",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows after the restart:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	dead, err := b.ReadAll(ctx, feed.DLQTopic())
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || string(dead[0].Header(envelope.HeaderReason)) != `car_park[2].vehicle_type[0].service_category[0]: field vacancy (from "vacancy"): "lots" is not a whole number` {
		for _, m := range dead {
			t.Logf("DLQ: %s: %s", m.Header(envelope.HeaderReason), m.Value)
		}
		t.Fatalf("%d dead letters", len(dead))
	}
	published, err := b.ReadAll(ctx, feed.Topic())
	if err != nil {
		t.Fatal(err)
	}
	if len(published) != 5 {
		t.Errorf("%d records in Kafka, want 5: the restart re-published", len(published))
	}
}

// writeSpecs writes spec to a file called name in a temporary folder and
// loads it as highway's commands load --specs, returning the file (for a
// command's flags) and its catalogue.
func writeSpecs(t *testing.T, name, spec string) (string, *catalog.Catalog) {
	t.Helper()
	file := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(file, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load(nil, file)
	if err != nil {
		t.Fatal(err)
	}
	return file, cat
}

// connectOnce runs `highway connect` for the feed called name (its
// connector in specFile) until the connector's state in stateDir says it
// published a new payload, then stops it. The connector polls at once; its
// interval must be longer than the test.
func connectOnce(ctx context.Context, t *testing.T, specFile, name string, brokers []string, stateDir string) {
	t.Helper()
	before := stateFile(t, stateDir, name)
	cctx, stop := context.WithCancel(ctx)
	var stderr bytes.Buffer
	done := make(chan int)
	go func() {
		done <- run(cctx, []string{"connect", "--specs", specFile, "--feed", name, "--kafka", strings.Join(brokers, ","),
			"--state-dir", stateDir, "--metrics-addr", "", "--partitions", "1", "--log-level", "warn"}, &bytes.Buffer{}, &stderr)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for now := stateFile(t, stateDir, name); now == before || !strings.Contains(now, `"hash"`); now = stateFile(t, stateDir, name) {
		if time.Now().After(deadline) {
			t.Fatalf("the connector did not publish; stderr:\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	if code := <-done; code != 0 {
		t.Fatalf("connect exited %d: %s", code, stderr.String())
	}
}

func stateFile(t *testing.T, dir, source string) string {
	b, err := os.ReadFile(filepath.Join(dir, source+".json"))
	if err != nil {
		return ""
	}
	return string(b)
}
