//go:build integration

package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cityhighway/highway/highway/api"
	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/internal/testenv"
)

// TestPushIdempotencyTwoServers: two API servers, each with its own
// ClickHouse connection to one push keys' table and a real Kafka producer,
// get the same Idempotency-Key at once: the records reach Kafka once, every
// push answers with the first response, and another body is 422.
func TestPushIdempotencyTwoServers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := bus.New(bus.Config{Brokers: testenv.Kafka(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	prod := b.NewProducer()
	defer prod.Close()

	var cfgA *api.Config
	e := newEnv(t, 0, func(c *api.Config) {
		pk, err := storeFor(t, ctx, c.Database).OpenPushKeys(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		c.Producer, c.PushKeys = prod, pk
		c.TokenRate = api.Rate{PerSecond: 100, Burst: 100}
		cfgA = c
	})
	if err := b.EnsureTopics(ctx, 2, e.feed.Topic(), e.feed.DLQTopic()); err != nil {
		t.Fatal(err)
	}
	// Server B: the same configuration, its own connection and keys.
	cfgB := *cfgA
	cfgB.Gatherer, cfgB.Registerer = prometheus.NewRegistry(), nil
	pkB, err := storeFor(t, ctx, cfgA.Database).OpenPushKeys(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	cfgB.PushKeys = pkB
	srvB := api.New(cfgB)
	t.Cleanup(srvB.Close)
	tsB := httptest.NewServer(srvB)
	t.Cleanup(tsB.Close)

	marker := testenv.Name("idem")
	body := fmt.Sprintf(`[{"station": "%s-1", "value": 1, "at": "2026-11-26T12:00:00Z"}, {"station": "%s-2", "value": 2, "at": "2026-11-26T12:00:00Z"}]`, marker, marker)
	push := func(url, key, body string) (int, string, string) {
		req, _ := http.NewRequestWithContext(ctx, "POST", url+"/api/v1/feeds/"+e.feed.Name+"/records", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.tokens["TEST"])
		req.Header.Set(api.HeaderIdempotencyKey, key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, "", ""
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(got), resp.Header.Get(api.HeaderIdempotentReplayed)
	}

	const n = 6
	codes, bodies, replayed := make([]int, n), make([]string, n), 0
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := e.ts.URL
			if i%2 == 1 {
				url = tsB.URL
			}
			code, got, r := push(url, marker, body)
			mu.Lock()
			defer mu.Unlock()
			codes[i], bodies[i] = code, got
			if r == "true" {
				replayed++
			}
		}()
	}
	wg.Wait()
	for i := range n {
		if codes[i] != http.StatusOK || bodies[i] != bodies[0] {
			t.Errorf("push %d: %d %s, want 200 and the first response %s", i, codes[i], bodies[i], bodies[0])
		}
	}
	if replayed != n-1 {
		t.Errorf("%d of %d pushes were replays, want %d", replayed, n, n-1)
	}
	if code, got, _ := push(tsB.URL, marker, strings.Replace(body, "value\": 2", "value\": 3", 1)); code != http.StatusUnprocessableEntity || !strings.Contains(got, "for a different request") {
		t.Errorf("the key with another body: %d %s, want 422", code, got)
	}

	msgs, err := b.ReadAll(ctx, e.feed.Topic())
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, m := range msgs {
		if strings.Contains(string(m.Value), marker) {
			count++
		}
	}
	if count != 2 {
		t.Errorf("Kafka holds %d of the pushed records, want each of the 2 once", count)
	}
	var rows uint64
	q := fmt.Sprintf("SELECT count() FROM %s.%s WHERE key = ? AND state = ?", store.RestrictedDatabase(cfgA.Database), store.PushKeyTable)
	if err := e.st.QueryRow(ctx, []any{&rows}, q, marker, uint8(store.PushKeyDone)); err != nil || rows != 1 {
		t.Errorf("the keys' table holds %d done rows of the key (err %v), want 1", rows, err)
	}
}

// storeFor opens another connection to database, as another API server
// would.
func storeFor(t *testing.T, ctx context.Context, database string) *store.Store {
	t.Helper()
	dsn, err := store.WithDatabase(testenv.ClickHouse(t), database)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
