// Package apitest is a Highway API for the plugin's tests: the real
// api.Server of highway/api, served by httptest, on in-memory fakes of the
// interfaces it calls (highway/api/server.go): its token verifier, its
// store (Stats, Querier) and its Kafka tail (Tailer), and a scheduler that
// lists jobs. It fakes what the server calls, not the server: bearer
// tokens, JSON errors, the catalogue, the SQL guard, POST /api/v1/query
// answered as an Arrow IPC stream, the jobs proxy and a feed's live tail as
// Server-Sent Events are the API's own code, so the plugin's client and the
// server cannot drift apart. Queries are answered by a function the test
// sets, and every SQL that passed the guard is recorded.
//
// Tests that need ClickHouse's real answers use the real store too (the
// integration tests).
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cityhighway/highway/highway/api"
	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/plugins/grafana/pkg/apiclient"
)

// Token is the department token the server accepts, of department TD.
const Token = "td-test-token"

// Department is the department of Token.
const Department = "TD"

// Database is the database of the API's open tables; restricted feeds'
// tables are in store.RestrictedDatabase(Database).
const Database = "default"

// Answer answers one query that passed the API's SQL guard: a record batch,
// which the API sends as an Arrow stream, or an error. A *store.QueryError
// is ClickHouse refusing the query (the API answers 400 with its message);
// any other error is ClickHouse failing (502).
type Answer func(sql string) (arrow.RecordBatch, error)

// Server is the API. The Set methods may be called between calls; a mutex
// guards what they set against the server's goroutines.
type Server struct {
	*httptest.Server
	api       *api.Server
	scheduler *httptest.Server

	mu      sync.Mutex
	answer  Answer
	queries []string
	stats   map[string]store.FeedStats
	jobs    []apiclient.Job
	edits   map[string]func(*apiclient.Feed)
	live    map[string][]json.RawMessage
	// liveClose makes a feed's tail end after its records instead of
	// staying open, to test reconnection.
	liveClose bool
	liveConns int
}

// New starts the API over cat, whose feeds all hold 100 rows with the
// latest event a minute ago (fresh). Close it when done.
func New(cat *catalog.Catalog) *Server {
	s := &Server{stats: map[string]store.FeedStats{}, edits: map[string]func(*apiclient.Feed){}, live: map[string][]json.RawMessage{}}
	latest := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	for _, f := range cat.Feeds() {
		s.stats[f.Name] = store.FeedStats{Rows: 100, LatestEvent: latest}
	}
	s.scheduler = httptest.NewServer(http.HandlerFunc(s.schedule))
	schedURL, _ := url.Parse(s.scheduler.URL)
	s.api = api.New(api.Config{
		Catalog:  cat,
		Stats:    stats{s},
		Querier:  querier{s},
		Database: Database,
		Tokens:   tokens{},
		Tail:     tailer{s},
		// A registry of its own: tests start many servers in one process.
		Gatherer:  prometheus.NewRegistry(),
		Logger:    slog.New(slog.DiscardHandler),
		Scheduler: schedURL,
		// Tests call faster than any department may.
		TokenRate: api.Rate{PerSecond: 1e6, Burst: 1e6},
	})
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close stops the API and the scheduler.
func (s *Server) Close() {
	s.api.Close()
	s.Server.Close()
	s.scheduler.Close()
}

// SetAnswer sets how queries are answered.
func (s *Server) SetAnswer(a Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = a
}

// Queries returns the SQL of every query that reached the store so far.
func (s *Server) Queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.queries...)
}

// SetStats sets what the store holds of a feed: its rows and latest event
// time, from which the API judges its freshness.
func (s *Server) SetStats(feed string, rows uint64, latest time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats[feed] = store.FeedStats{Rows: rows, LatestEvent: latest}
}

// SetFeed changes the catalogue entry of a feed as the API answered it,
// for the answers no server of this version gives (an older API's, a
// hostile one's): the API's JSON is decoded, changed and sent on.
func (s *Server) SetFeed(name string, change func(*apiclient.Feed)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.edits[name] = change
}

// SetJobs sets the jobs the scheduler lists.
func (s *Server) SetJobs(jobs []apiclient.Job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs = jobs
}

// SetLive sets the records a feed's Kafka tail delivers, each time the API
// starts one; with closeAfter the tail ends after them (the API then ends
// its clients' streams), otherwise it stays open.
func (s *Server) SetLive(feed string, recs []json.RawMessage, closeAfter bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live[feed] = recs
	s.liveClose = closeAfter
}

// LiveConnections counts the Kafka tails the API started so far: one per
// client connection while no other client follows the feed.
func (s *Server) LiveConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.liveConns
}

// serve is the API, with SetFeed's changes applied to the catalogue.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	edited := len(s.edits) > 0
	s.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, "/api/v1/feeds")
	if !edited || r.Method != http.MethodGet || path == r.URL.Path || strings.Count(path, "/") > 1 {
		s.api.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	s.api.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if rec.Code == http.StatusOK {
		body = s.edit(body, path == "" || path == "/")
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

// edit applies SetFeed's changes to a catalogue answer: a list, or one feed.
func (s *Server) edit(body []byte, list bool) []byte {
	var feeds []apiclient.Feed
	if list {
		if json.Unmarshal(body, &feeds) != nil {
			return body
		}
	} else {
		var f apiclient.Feed
		if json.Unmarshal(body, &f) != nil {
			return body
		}
		feeds = []apiclient.Feed{f}
	}
	s.mu.Lock()
	for i := range feeds {
		if change := s.edits[feeds[i].Name]; change != nil {
			change(&feeds[i])
		}
	}
	s.mu.Unlock()
	var v any = feeds
	if !list {
		v = feeds[0]
	}
	out, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return out
}

// schedule is the scheduler's GET /api/v1/jobs, where the API proxies it.
func (s *Server) schedule(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.URL.Path != "/api/v1/jobs" {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	jobs := s.jobs
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"jobs": jobs})
}

// tokens accepts Token, for Department.
type tokens struct{}

func (tokens) Verify(token string) (api.TokenInfo, bool) {
	if token != Token {
		return api.TokenInfo{}, false
	}
	return api.TokenInfo{ID: "test", Department: Department}, true
}

// stats is the store's Stats.
type stats struct{ s *Server }

func (st stats) Stats(_ context.Context, f *catalog.Feed) (store.FeedStats, error) {
	st.s.mu.Lock()
	defer st.s.mu.Unlock()
	return st.s.stats[f.Name], nil
}

// querier is the store's Querier: it records the SQL and writes the
// test's Answer as an Arrow stream.
type querier struct{ s *Server }

func (q querier) Query(_ context.Context, sql string, _ store.Limits, f store.Format, w io.Writer) (store.QueryStats, error) {
	q.s.mu.Lock()
	q.s.queries = append(q.s.queries, sql)
	answer := q.s.answer
	q.s.mu.Unlock()
	if f != store.FormatArrow {
		return store.QueryStats{}, fmt.Errorf("apitest answers queries in format arrow only, not %s", f)
	}
	if answer == nil {
		return store.QueryStats{}, errors.New("the test set no answer (apitest.Server.SetAnswer)")
	}
	rec, err := answer(sql)
	if err != nil {
		return store.QueryStats{}, err
	}
	defer rec.Release()
	var buf bytes.Buffer
	wr := ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()))
	if rec.NumRows() > 0 {
		if err := wr.Write(rec); err != nil {
			return store.QueryStats{}, fmt.Errorf("apitest: writing the answer: %w", err)
		}
	}
	if err := wr.Close(); err != nil {
		return store.QueryStats{}, fmt.Errorf("apitest: writing the answer: %w", err)
	}
	n, err := w.Write(buf.Bytes())
	return store.QueryStats{Rows: uint64(rec.NumRows()), Columns: int(rec.NumCols()), Written: int64(n)}, err
}

func (querier) QueryFeed(context.Context, *catalog.Feed, []string, time.Time, time.Time, uint64, store.Limits, store.Format, io.Writer) (store.QueryStats, error) {
	return store.QueryStats{}, errors.New("apitest: the plugin does not download feeds")
}

// tailer is the bus's Tail: it delivers the feed's SetLive records, then
// ends or waits for the API to stop it.
type tailer struct{ s *Server }

func (t tailer) Tail(ctx context.Context, topic string, fn func(bus.Message) error) error {
	t.s.mu.Lock()
	t.s.liveConns++
	recs, closeAfter := t.s.live[topic], t.s.liveClose
	t.s.mu.Unlock()
	for i, rec := range recs {
		if err := fn(bus.Message{Topic: topic, Offset: int64(i), Value: rec}); err != nil {
			return err
		}
	}
	if closeAfter {
		return errors.New("apitest: the tail ends after its records")
	}
	<-ctx.Done()
	return nil
}
