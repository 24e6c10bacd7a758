package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/store"
)

// fakePushKeys is PushKeys in memory, ordered by At then Claim as
// ClickHouse orders them. Like ClickHouse, a row's At is taken when its
// insert begins and the row is visible only when the insert ends, lag
// later; a read sees the rows of its start and returns lag later.
type fakePushKeys struct {
	mu   sync.Mutex
	now  func() time.Time
	lag  time.Duration
	rows []store.PushKey
	fail error // returned by every call when set
}

func (f *fakePushKeys) PutPushKey(_ context.Context, k store.PushKey) error {
	f.mu.Lock()
	k.At = f.now()
	fail := f.fail
	f.mu.Unlock()
	if fail != nil {
		return fail
	}
	time.Sleep(f.lag)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rows = append(f.rows, k)
	return nil
}

func (f *fakePushKeys) PushKeys(_ context.Context, department, key string, window time.Duration) ([]store.PushKey, error) {
	f.mu.Lock()
	defer time.Sleep(f.lag)
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	var out []store.PushKey
	for _, r := range f.rows {
		if r.Department == department && r.Key == key && f.now().Sub(r.At) <= window {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b store.PushKey) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.Claim, b.Claim)
	})
	return out, nil
}

// failingProducer fails every produce while fail is set.
type failingProducer struct {
	fakeProducer
	fail bool
}

func (p *failingProducer) Produce(ctx context.Context, msgs ...bus.Message) error {
	p.mu.Lock()
	fail := p.fail
	p.mu.Unlock()
	if fail {
		return errors.New("broker down")
	}
	return p.fakeProducer.Produce(ctx, msgs...)
}

const (
	pushPath  = "/api/v1/feeds/td.traffic.cameras/records"
	goodBody  = `[{"camera": "C1", "speed": 50, "at": "2026-11-26T12:00:00Z"}, {"camera": "C2", "speed": 60, "at": "2026-11-26T12:00:00Z"}]`
	otherBody = `[{"camera": "C3", "speed": 70, "at": "2026-11-26T12:00:00Z"}]`
	badBody   = `[{"camera": "C1", "speed": 999, "at": "2026-11-26T12:00:00Z"}]`
)

// keyedPush is one push of a sequence: its token's department, key, body,
// and what it must answer.
type keyedPush struct {
	dept, key, body string
	status          int
	replayed        bool
	errHas          string // in the body, for errors
	sameAs          int    // index of an earlier push whose body this one's must equal, or -1
}

func doKeyed(h *harness, dept, key, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", pushPath, strings.NewReader(body))
	if dept == "EPD" {
		r = httptest.NewRequest("POST", "/api/v1/feeds/epd.air.test/records", strings.NewReader(body))
	}
	r.Header.Set("Authorization", "Bearer "+h.tokens[dept])
	if key != "-" {
		r.Header.Set(HeaderIdempotencyKey, key)
	}
	rr := httptest.NewRecorder()
	h.srv.ServeHTTP(rr, r)
	return rr
}

func TestPushIdempotencyKey(t *testing.T) {
	cases := []struct {
		name     string
		pushes   []keyedPush
		produced int // records in the feed's topic at the end
		rejects  int // records in the dead-letter topic at the end
	}{
		{name: "a retry replays the first response and writes nothing", pushes: []keyedPush{
			{dept: "TD", key: "k1", body: goodBody, status: 200, sameAs: -1},
			{dept: "TD", key: "k1", body: goodBody, status: 200, replayed: true, sameAs: 0},
			{dept: "TD", key: "k1", body: goodBody, status: 200, replayed: true, sameAs: 0},
		}, produced: 2},
		{name: "the same key with another body is 422", pushes: []keyedPush{
			{dept: "TD", key: "k1", body: goodBody, status: 200, sameAs: -1},
			{dept: "TD", key: "k1", body: otherBody, status: 422, errHas: `Idempotency-Key \"k1\" was already used at 2026-11-26T12:00:00Z for a different request`, sameAs: -1},
			{dept: "TD", key: "k2", body: otherBody, status: 200, sameAs: -1},
		}, produced: 3},
		{name: "a rejected push is replayed as rejected", pushes: []keyedPush{
			{dept: "TD", key: "k1", body: badBody, status: 422, sameAs: -1},
			{dept: "TD", key: "k1", body: badBody, status: 422, replayed: true, sameAs: 0},
		}, rejects: 1},
		{name: "keys are per department", pushes: []keyedPush{
			{dept: "TD", key: "k1", body: goodBody, status: 200, sameAs: -1},
			{dept: "EPD", key: "k1", body: `[{"station": "S1", "at": "2026-11-26T12:00:00Z"}]`, status: 200, sameAs: -1},
		}, produced: 3},
		{name: "without a key every push writes", pushes: []keyedPush{
			{dept: "TD", key: "-", body: goodBody, status: 200, sameAs: -1},
			{dept: "TD", key: "-", body: goodBody, status: 200, sameAs: -1},
		}, produced: 4},
		{name: "a bad key is 400", pushes: []keyedPush{
			{dept: "TD", key: "", body: goodBody, status: 400, errHas: "it must be 1 to 255", sameAs: -1},
			{dept: "TD", key: strings.Repeat("k", 256), body: goodBody, status: 400, errHas: "256 bytes long", sameAs: -1},
			{dept: "TD", key: "k\u00e91", body: goodBody, status: 400, errHas: "visible ASCII only", sameAs: -1},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var h *harness
			h = newHarness(t, func(c *Config) {
				c.PushKeys = &fakePushKeys{now: func() time.Time { return h.now }}
				c.IdempotencySettle = time.Millisecond
			})
			var bodies []string
			for i, p := range tc.pushes {
				rr := doKeyed(h, p.dept, p.key, p.body)
				bodies = append(bodies, rr.Body.String())
				if rr.Code != p.status {
					t.Fatalf("push %d: status %d, want %d: %s", i, rr.Code, p.status, rr.Body)
				}
				if got := rr.Header().Get(HeaderIdempotentReplayed) == "true"; got != p.replayed {
					t.Errorf("push %d: replayed %t, want %t", i, got, p.replayed)
				}
				if p.errHas != "" && !strings.Contains(rr.Body.String(), p.errHas) {
					t.Errorf("push %d: body %s lacks %q", i, rr.Body, p.errHas)
				}
				if p.sameAs >= 0 && bodies[p.sameAs] != rr.Body.String() {
					t.Errorf("push %d: body %s, want push %d's %s", i, rr.Body, p.sameAs, bodies[p.sameAs])
				}
			}
			if len(h.producer.good) != tc.produced || len(h.producer.bad) != tc.rejects {
				t.Errorf("produced %d records and %d rejects, want %d and %d", len(h.producer.good), len(h.producer.bad), tc.produced, tc.rejects)
			}
		})
	}
}

// TestPushIdempotencyConcurrent: retries that arrive while the first push
// runs, at this server and at another one sharing the keys, write once.
func TestPushIdempotencyConcurrent(t *testing.T) {
	keys := &fakePushKeys{now: time.Now, lag: 20 * time.Millisecond}
	producer := &fakeProducer{}
	var servers []*harness
	for range 2 {
		servers = append(servers, newHarness(t, func(c *Config) {
			c.PushKeys, c.Producer, c.Now = keys, producer, time.Now
			c.IdempotencySettle = 100 * time.Millisecond // > lag
			c.TokenRate = Rate{PerSecond: 1000, Burst: 1000}
		}))
	}
	// Tokens differ between the two harnesses, both of department TD.
	const n = 8
	var wg sync.WaitGroup
	bodies := make([]string, n)
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rr := doKeyed(servers[i%2], "TD", "same-key", goodBody)
			bodies[i], codes[i] = rr.Body.String(), rr.Code
		}()
	}
	wg.Wait()
	for i := range n {
		if codes[i] != 200 || bodies[i] != bodies[0] {
			t.Errorf("push %d: %d %s, want 200 and the first response %s", i, codes[i], bodies[i], bodies[0])
		}
	}
	if len(producer.good) != 2 {
		t.Errorf("%d pushes with one key produced %d records, want the 2 of one push", n, len(producer.good))
	}
}

// TestPushIdempotencyRetryAfterFailure: a push that failed (503) wrote
// nothing, so its key is released and the retry runs.
func TestPushIdempotencyRetryAfterFailure(t *testing.T) {
	var h *harness
	producer := &failingProducer{fail: true}
	h = newHarness(t, func(c *Config) {
		c.PushKeys, c.Producer = &fakePushKeys{now: func() time.Time { return h.now }}, producer
		c.IdempotencySettle = time.Millisecond
	})
	if rr := doKeyed(h, "TD", "k1", goodBody); rr.Code != http.StatusServiceUnavailable {
		t.Fatalf("with Kafka down: %d %s, want 503", rr.Code, rr.Body)
	}
	producer.mu.Lock()
	producer.fail = false
	producer.mu.Unlock()
	rr := doKeyed(h, "TD", "k1", goodBody)
	if rr.Code != 200 || rr.Header().Get(HeaderIdempotentReplayed) != "" {
		t.Fatalf("the retry: %d replayed=%q %s, want a fresh 200", rr.Code, rr.Header().Get(HeaderIdempotentReplayed), rr.Body)
	}
	if rr := doKeyed(h, "TD", "k1", goodBody); rr.Header().Get(HeaderIdempotentReplayed) != "true" {
		t.Fatalf("the third push was not replayed: %d %s", rr.Code, rr.Body)
	}
	if len(producer.good) != 2 {
		t.Errorf("produced %d records, want 2", len(producer.good))
	}
}

// TestPushIdempotencyUnavailable: a keyed push that cannot be checked
// writes nothing.
func TestPushIdempotencyUnavailable(t *testing.T) {
	cases := []struct {
		name   string
		keys   PushKeys
		errHas string
	}{
		{"no key store", nil, "this server keeps no Idempotency-Keys"},
		{"key store down", &fakePushKeys{now: time.Now, fail: errors.New("clickhouse: connection refused")}, "checking the Idempotency-Key failed: clickhouse: connection refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.PushKeys = tc.keys })
			rr := doKeyed(h, "TD", "k1", goodBody)
			if rr.Code != http.StatusServiceUnavailable || !strings.Contains(rr.Body.String(), tc.errHas) {
				t.Errorf("%d %s, want 503 with %q", rr.Code, rr.Body, tc.errHas)
			}
			if len(h.producer.good) != 0 {
				t.Errorf("produced %d records", len(h.producer.good))
			}
		})
	}
}

// TestPushIdempotencyInFlight: a push whose key another server holds waits,
// then answers 409 and writes nothing.
func TestPushIdempotencyInFlight(t *testing.T) {
	keys := &fakePushKeys{now: time.Now}
	hash := pushHash("td.traffic.cameras", []byte(goodBody))
	if err := keys.PutPushKey(context.Background(), store.PushKey{Department: "TD", Key: "k1", BodyHash: hash, Claim: "other", State: store.PushKeyClaimed}); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *Config) {
		c.PushKeys, c.Now = keys, time.Now
		c.IdempotencySettle, c.IdempotencyWait = time.Millisecond, 300*time.Millisecond
	})
	rr := doKeyed(h, "TD", "k1", goodBody)
	if rr.Code != http.StatusConflict || !strings.Contains(rr.Body.String(), "still being processed") {
		t.Errorf("%d %s, want 409 still being processed", rr.Code, rr.Body)
	}
	if len(h.producer.good) != 0 {
		t.Errorf("produced %d records", len(h.producer.good))
	}
}

func TestIdempotencyJudge(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	row := func(claim, hash string, state store.PushKeyState, ago time.Duration) store.PushKey {
		return store.PushKey{Claim: claim, BodyHash: hash, State: state, At: now.Add(-ago), Status: 200}
	}
	d := newIdempotency(nil, time.Second, time.Second, func() time.Time { return now }, discardLogger())
	cases := []struct {
		name  string
		rows  []store.PushKey
		claim string
		want  verdictKind
	}{
		{"no rows", nil, "", verdictFree},
		{"done, same body", []store.PushKey{row("a", "h", store.PushKeyClaimed, 5*time.Second), row("a", "h", store.PushKeyDone, 4*time.Second)}, "", verdictReplay},
		{"done, other body", []store.PushKey{row("a", "x", store.PushKeyDone, 4*time.Second)}, "", verdictConflict},
		{"done beats a later claim", []store.PushKey{row("b", "h", store.PushKeyClaimed, 5*time.Second), row("a", "h", store.PushKeyDone, 4*time.Second)}, "b", verdictReplay},
		{"another claim holds it", []store.PushKey{row("a", "h", store.PushKeyClaimed, time.Second)}, "", verdictWait},
		{"another claim with another body", []store.PushKey{row("a", "x", store.PushKeyClaimed, time.Second)}, "", verdictConflict},
		{"mine is the oldest", []store.PushKey{row("a", "h", store.PushKeyClaimed, 2*time.Second), row("b", "h", store.PushKeyClaimed, time.Second)}, "a", verdictRun},
		{"an older claim wins", []store.PushKey{row("a", "h", store.PushKeyClaimed, 2*time.Second), row("b", "h", store.PushKeyClaimed, time.Second)}, "b", verdictWait},
		{"a released claim lets the next run", []store.PushKey{row("a", "h", store.PushKeyClaimed, 2*time.Second), row("a", "h", store.PushKeyReleased, time.Second), row("b", "h", store.PushKeyClaimed, time.Second)}, "b", verdictRun},
		{"a released claim with another body frees the key", []store.PushKey{row("a", "x", store.PushKeyClaimed, 2*time.Second), row("a", "x", store.PushKeyReleased, time.Second)}, "", verdictFree},
		{"an abandoned claim frees the key", []store.PushKey{row("a", "h", store.PushKeyClaimed, 3*time.Minute)}, "", verdictFree},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := d.judge(tc.rows, "h", tc.claim); got.kind != tc.want {
				t.Errorf("verdict %d, want %d", got.kind, tc.want)
			}
		})
	}
}

// TestPushIdempotencyOpenAPI: the OpenAPI document tells clients about the
// header, the 409 and the 422 for a reused key.
func TestPushIdempotencyOpenAPI(t *testing.T) {
	h := newHarness(t, nil)
	op := h.srv.OpenAPI()["paths"].(map[string]map[string]any)["/api/v1/feeds/{feed}/records"]["post"].(map[string]any)
	var header map[string]any
	for _, p := range op["parameters"].([]map[string]any) {
		if p["name"] == HeaderIdempotencyKey {
			header = p
		}
	}
	if header == nil || header["in"] != "header" || header["required"] != false {
		t.Errorf("no optional %s header parameter: %v", HeaderIdempotencyKey, op["parameters"])
	}
	responses := op["responses"].(map[string]any)
	for _, status := range []string{"409", "422"} {
		r, ok := responses[status].(map[string]any)
		if !ok || !strings.Contains(r["description"].(string), HeaderIdempotencyKey) {
			t.Errorf("response %s does not mention %s: %v", status, HeaderIdempotencyKey, responses[status])
		}
	}
	if !strings.Contains(op["description"].(string), HeaderIdempotentReplayed) {
		t.Errorf("the description does not mention %s", HeaderIdempotentReplayed)
	}
}
