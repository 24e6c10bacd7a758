package poll

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cityhighway/highway/connectors/connector"
	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/envelope"
)

const gaugesSpec = `
kind: feed
name: test.gauges
department: TEST
fields:
  - {name: gauge, type: string, required: true}
  - {name: level, type: float64, min: 0, max: 10}
  - {name: at, type: time, required: true}
key: [gauge]
event_time: at
interval: 1m
`

// parseLines is a parser of "gauge,minute,level" lines; a line it cannot
// split is a reject, a payload "BROKEN" an error.
func parseLines(payload []byte, _ time.Time) (connector.Result, error) {
	var res connector.Result
	if string(payload) == "BROKEN" {
		return res, errors.New("broken payload")
	}
	for i, line := range strings.Split(strings.TrimSpace(string(payload)), "\n") {
		parts := strings.Split(line, ",")
		if len(parts) != 3 {
			res.Reject("test.gauges", fmt.Sprintf("line %d", i+1), "want gauge,minute,level", []byte(line))
			continue
		}
		at := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC).Add(time.Duration(atoi(parts[1])) * time.Minute)
		res.Add(connector.Record{Feed: "test.gauges", Key: parts[0], Where: fmt.Sprintf("line %d", i+1),
			Value: []byte(fmt.Sprintf(`{"gauge":%q,"level":%s,"at":%q}`, parts[0], parts[2], at.Format(time.RFC3339)))})
	}
	return res, nil
}

func atoi(s string) int {
	n := 0
	fmt.Sscanf(s, "%d", &n)
	return n
}

// server serves body with an ETag derived from it, honouring If-None-Match
// when etags is true; status overrides 200 when set.
type server struct {
	mu     sync.Mutex
	body   string
	etags  bool
	status int
	delay  time.Duration
	hits   int
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	body, etags, status, delay := s.body, s.etags, s.status, s.delay
	s.hits++
	s.mu.Unlock()
	time.Sleep(delay)
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	tag := fmt.Sprintf(`"%d"`, len(body))
	if etags {
		if r.Header.Get("If-None-Match") == tag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", tag)
	}
	fmt.Fprint(w, body)
}

func (s *server) set(f func(s *server)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

type capture struct {
	msgs []bus.Message
	fail error
}

func (c *capture) Produce(_ context.Context, msgs ...bus.Message) error {
	if c.fail != nil {
		return c.fail
	}
	c.msgs = append(c.msgs, msgs...)
	return nil
}

func (c *capture) take() []bus.Message {
	out := c.msgs
	c.msgs = nil
	return out
}

func setup(t *testing.T) (*server, Source, *catalog.Catalog) {
	t.Helper()
	cat, err := catalog.Parse("g.yaml", []byte(gaugesSpec))
	if err != nil {
		t.Fatal(err)
	}
	srv := &server{}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return srv, Source{Name: "gauges", URL: ts.URL, Interval: time.Minute, Feeds: []string{"test.gauges"}, Parse: parseLines}, cat
}

func TestPollPublishesOnlyWhatIsNew(t *testing.T) {
	srv, src, cat := setup(t)
	dir := t.TempDir()
	out := &capture{}
	p := New(Config{Catalog: cat, StateDir: dir}, out)
	ctx := context.Background()
	steps := []struct {
		name     string
		change   func(s *server)
		poller   *Poller
		status   string
		records  []string // keys of records produced
		dlq      []string // reasons
		repeated int
	}{
		{"first poll: records, and rejects with their reasons",
			func(s *server) { s.body, s.etags = "g1,0,1.5\ng2,0,2\nbad line\ng3,0,11", true }, p,
			"new", []string{"g1", "g2"},
			[]string{"line 3: want gauge,minute,level", "line 4: field level: value 11: above the maximum 10"}, 0},
		{"304 Not Modified: nothing", nil, p, "not_modified", nil, nil, 0},
		{"same content without ETag: nothing", func(s *server) { s.etags = false }, p, "unchanged", nil, nil, 0},
		{"a new snapshot: only the newer records",
			func(s *server) { s.body = "g1,0,1.5\ng2,1,2.5\ng2,1,2.5\ng4,1,3" }, p,
			"new", []string{"g2", "g4"}, nil, 2},
		{"after a restart: the state file says what was published",
			func(s *server) { s.body = "g1,0,1.5\ng2,1,2.5\ng4,1,3\ng4,2,4" }, New(Config{Catalog: cat, StateDir: dir}, out),
			"new", []string{"g4"}, nil, 3},
	}
	for _, st := range steps {
		if st.change != nil {
			srv.set(st.change)
		}
		res, err := st.poller.Poll(ctx, src)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		var keys, reasons []string
		for _, m := range out.take() {
			if strings.HasSuffix(m.Topic, ".dlq") {
				reasons = append(reasons, string(m.Header(envelope.HeaderReason)))
				continue
			}
			keys = append(keys, string(m.Key))
			if m.Topic != "test.gauges" || string(m.Header(envelope.HeaderSource)) != src.URL || m.Header(envelope.HeaderFetchedAt) == nil {
				t.Errorf("%s: message %s lacks topic or provenance: %v", st.name, m.Key, m.Headers)
			}
		}
		if res.Status != st.status || fmt.Sprint(keys) != fmt.Sprint(st.records) || fmt.Sprint(reasons) != fmt.Sprint(st.dlq) || res.Repeated != st.repeated {
			t.Errorf("%s: status %s records %v rejects %q repeated %d; want %s %v %q %d",
				st.name, res.Status, keys, reasons, res.Repeated, st.status, st.records, st.dlq, st.repeated)
		}
	}
}

func TestPollErrors(t *testing.T) {
	srv, src, cat := setup(t)
	out := &capture{}
	p := New(Config{Catalog: cat, Client: &http.Client{Timeout: 200 * time.Millisecond}}, out)
	ctx := context.Background()
	srv.set(func(s *server) { s.status = http.StatusServiceUnavailable })
	if _, err := p.Poll(ctx, src); !errors.Is(err, ErrFetch) || !strings.Contains(err.Error(), "503") {
		t.Errorf("503: %v", err)
	}
	srv.set(func(s *server) { s.status, s.delay = 0, time.Second })
	if _, err := p.Poll(ctx, src); !errors.Is(err, ErrFetch) {
		t.Errorf("timeout: %v", err)
	}
	srv.set(func(s *server) { s.delay, s.body = 0, "BROKEN" })
	if _, err := p.Poll(ctx, src); !errors.Is(err, ErrPayload) {
		t.Errorf("unreadable payload: %v", err)
	}
	// Kafka refusing the records: nothing is remembered as published.
	srv.set(func(s *server) { s.body = "g1,0,1" })
	out.fail = errors.New("broker down")
	if _, err := p.Poll(ctx, src); err == nil {
		t.Error("produce failure not reported")
	}
	out.fail = nil
	if res, err := p.Poll(ctx, src); err != nil || res.Records != 1 {
		t.Errorf("after Kafka is back: %+v, %v", res, err)
	}
	if len(out.take()) != 1 {
		t.Error("the record was not produced after Kafka came back")
	}
}

func TestBackoff(t *testing.T) {
	p := New(Config{}, nil)
	src := Source{Interval: 30 * time.Second}
	for failures, limits := range map[int][2]time.Duration{
		1: {500 * time.Millisecond, time.Second}, 3: {2 * time.Second, 4 * time.Second},
		10: {15 * time.Second, 30 * time.Second}, 40: {15 * time.Second, 30 * time.Second},
	} {
		for i := 0; i < 50; i++ {
			if d := p.backoff(src, failures); d < limits[0] || d > limits[1] {
				t.Fatalf("backoff after %d failures = %s, want within %v", failures, d, limits)
			}
		}
	}
}

// Run backs off after errors and carries on by itself.
func TestRunRecovers(t *testing.T) {
	srv, src, cat := setup(t)
	src.Interval = 50 * time.Millisecond
	out := &capture{}
	var mu sync.Mutex
	p := New(Config{Catalog: cat, MaxBackoff: 100 * time.Millisecond}, producerFunc(func(msgs ...bus.Message) error {
		mu.Lock()
		defer mu.Unlock()
		return out.Produce(context.Background(), msgs...)
	}))
	srv.set(func(s *server) { s.status = http.StatusInternalServerError })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx, src) }()
	time.Sleep(300 * time.Millisecond)
	srv.set(func(s *server) { s.status, s.body = 0, "g1,0,1" })
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(out.msgs)
		mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not recover from server errors")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type producerFunc func(msgs ...bus.Message) error

func (f producerFunc) Produce(_ context.Context, msgs ...bus.Message) error { return f(msgs...) }

// A produce that fails for some records only: the next poll of the same
// payload sends only those, not the ones Kafka already has.
func TestPollAfterAPartlyFailedProduce(t *testing.T) {
	srv, src, cat := setup(t)
	out := &capture{}
	calls := 0
	p := New(Config{Catalog: cat, StateDir: t.TempDir()}, producerFunc(func(msgs ...bus.Message) error {
		calls++
		if calls == 1 { // g2 fails, g1 and g3 are written
			out.msgs = append(out.msgs, msgs[0], msgs[2])
			return fmt.Errorf("wrapped: %w", &bus.ProduceError{Topic: "test.gauges", Total: len(msgs), Failed: []int{1}, Err: errors.New("leader moved")})
		}
		return out.Produce(context.Background(), msgs...)
	}))
	srv.set(func(s *server) { s.body = "g1,0,1\ng2,0,2\ng3,0,3" })
	if _, err := p.Poll(context.Background(), src); err == nil {
		t.Fatal("a partly failed produce was not reported")
	}
	if _, err := p.Poll(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, m := range out.take() {
		keys = append(keys, string(m.Key))
	}
	if fmt.Sprint(keys) != "[g1 g3 g2]" {
		t.Errorf("records produced over both polls: %v, want [g1 g3 g2] (each once)", keys)
	}
}
