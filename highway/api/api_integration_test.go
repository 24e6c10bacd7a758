//go:build integration

package api_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cityhighway/highway/highway/api"
	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/internal/testenv"
)

const specs = `
kind: feed
name: test.open.readings
department: TEST
licence: test licence
fields:
  - {name: station, type: string, required: true}
  - {name: owner_name, type: string, personal: true}
  - {name: value, type: float64}
  - {name: at, type: time, required: true}
key: [station]
event_time: at
interval: 1m
---
kind: department
name: TEST
---
kind: department
name: OTHER
---
kind: department
name: OPS
admin: true
`

type env struct {
	st     *store.Store
	feed   *catalog.Feed
	ts     *httptest.Server
	tokens map[string]string
	audit  *store.AuditLog
	srv    *api.Server
}

func newEnv(t *testing.T, rows int, tune func(*api.Config)) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := testenv.Store(t)
	cat, err := catalog.Parse("t.yaml", []byte(specs))
	if err != nil {
		t.Fatal(err)
	}
	feed := cat.Feed("test.open.readings")
	if err := st.EnsureFeedTable(ctx, feed); err != nil {
		t.Fatal(err)
	}
	if rows > 0 {
		q := fmt.Sprintf("INSERT INTO %s.test_open_readings (station, owner_name, value, at, _topic, _partition, _offset, _ingested_at) "+
			"SELECT concat('station-', toString(number %% 100)), 'Chan Tai Man', number / 3, toDateTime(1795651200 + intDiv(number, 10)), "+
			"'t', toInt32(0), toInt64(number), now() FROM system.numbers LIMIT %d", st.Database(), rows)
		if err := st.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	al, err := st.OpenAuditLog(ctx, store.AuditConfig{FlushEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = al.Close(context.Background()) })
	tf, err := api.OpenTokenFile(filepath.Join(t.TempDir(), "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{st: st, feed: feed, tokens: map[string]string{}, audit: al}
	for _, d := range []string{"TEST", "OTHER", "OPS"} {
		if e.tokens[d], _, err = tf.Create(d, ""); err != nil {
			t.Fatal(err)
		}
	}
	cfg := api.Config{Catalog: cat, Stats: st, Gatherer: prometheus.NewRegistry(), Tokens: tf, Querier: st, Database: st.Database(),
		Audit: al, AuditTable: al.Table(), OpenRate: api.Rate{PerSecond: 100, Burst: 100}}
	if tune != nil {
		tune(&cfg)
	}
	e.srv = api.New(cfg)
	t.Cleanup(e.srv.Close)
	e.ts = httptest.NewServer(e.srv)
	t.Cleanup(e.ts.Close)
	return e
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestOpenDataStreamsLargeRange downloads a large range of an open feed and
// checks that the server streams it: the heap of this process (server and
// client both) stays far below the size of the download, and the first
// bytes arrive long before the last.
func TestOpenDataStreamsLargeRange(t *testing.T) {
	const rows = 600000
	e := newEnv(t, rows, nil)
	old := debug.SetGCPercent(10)
	defer debug.SetGCPercent(old)
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	resp, err := http.Get(e.ts.URL + "/open/v1/feeds/test.open.readings/data?from=2026-11-26T00:00:00Z&to=2026-11-28T00:00:00Z&format=csv")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	cr := &countingReader{r: resp.Body}
	var peak uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapAlloc > peak {
					peak = m.HeapAlloc
				}
			case <-done:
				return
			}
		}
	}()
	sc := bufio.NewScanner(cr)
	lines := 0
	var header string
	for sc.Scan() {
		if lines == 0 {
			header = sc.Text()
		} else if strings.Contains(sc.Text(), "Chan Tai Man") {
			t.Fatal("a personal field is in open data")
		}
		lines++
	}
	done <- struct{}{}
	<-done
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if header != "station,value,at" || lines-1 != rows {
		t.Fatalf("header %q and %d rows, want station,value,at and %d", header, lines-1, rows)
	}
	size := cr.n.Load()
	growth := int64(peak) - int64(base.HeapAlloc)
	t.Logf("downloaded %d rows, %.1f MB; heap grew by at most %.1f MB", rows, float64(size)/1e6, float64(growth)/1e6)
	if growth > size/3 {
		t.Errorf("heap grew by %d bytes for a %d-byte download: the rows are being held in memory", growth, size)
	}
}

// TestAuditThroughAPI: a query, a refused query and a download are in the
// audit table, with who did them.
func TestAuditThroughAPI(t *testing.T) {
	e := newEnv(t, 100, nil)
	post := func(token, sql string) int {
		req, _ := http.NewRequest("POST", e.ts.URL+"/api/v1/query", strings.NewReader(fmt.Sprintf(`{"sql":%q}`, sql)))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := post(e.tokens["TEST"], "SELECT count() FROM test_open_readings"); s != 200 {
		t.Fatalf("query: %d", s)
	}
	if s := post(e.tokens["TEST"], "SELECT * FROM system.users"); s != 400 {
		t.Fatalf("refused query: %d", s)
	}
	resp, err := http.Get(e.ts.URL + "/open/v1/feeds/test.open.readings/data?from=2026-11-26T00:00:00Z&to=2026-11-27T00:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err := e.audit.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Only an admin may read the audit log through the API; it is in the
	// restricted database.
	audit := store.RestrictedDatabase(e.st.Database()) + "." + store.AuditTable
	for _, sql := range []string{"SELECT * FROM " + audit, "SELECT * FROM " + store.AuditTable} {
		if s := post(e.tokens["TEST"], sql); s != 400 {
			t.Errorf("a non-admin read the audit log with %q: %d", sql, s)
		}
	}
	req, _ := http.NewRequest("POST", e.ts.URL+"/api/v1/query", strings.NewReader(
		`{"sql":"SELECT action, department, status, rows, detail FROM `+audit+` ORDER BY at_ms, action","format":"csv"}`))
	req.Header.Set("Authorization", "Bearer "+e.tokens["OPS"])
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"query,TEST,200,1,SELECT count() FROM test_open_readings",
		"query,TEST,400,0,SELECT * FROM system.users",
		"download,,200,100,from=2026-11-26T00:00:00Z to=2026-11-27T00:00:00Z format=csv limit=0",
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("the audit log lacks %q:\n%s", want, body)
		}
	}
}

// TestLiveTailRealKafka follows a topic on the real broker through the API.
func TestLiveTailRealKafka(t *testing.T) {
	b, err := bus.New(bus.Config{Brokers: testenv.Kafka(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := newEnv(t, 0, func(c *api.Config) { c.Tail = b })
	topic := e.feed.Topic()
	if err := b.EnsureTopics(ctx, 2, topic); err != nil {
		t.Fatal(err)
	}
	// A fresh topic name per test: the feed's topic is shared, so look for
	// a marker value instead.
	marker := testenv.Name("live")
	req, _ := http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/api/v1/feeds/"+e.feed.Name+"/live", nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens["TEST"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := b.NewProducer()
	defer p.Close()
	go func() {
		// Keep producing until the tail has seen one (it starts at the end).
		for ctx.Err() == nil {
			_ = p.Produce(ctx, bus.Message{Topic: topic, Key: []byte("s"), Value: []byte(`{"station":"` + marker + `"}`)})
			time.Sleep(200 * time.Millisecond)
		}
	}()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") && strings.Contains(sc.Text(), marker) {
			return
		}
	}
	t.Fatalf("no record arrived: %v", sc.Err())
}
