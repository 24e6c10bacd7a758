// Package apitest is a Highway API for the plugin's tests: a real HTTP
// server (httptest) that speaks the API's contract — bearer tokens, JSON
// errors {"error", "hint"}, the feed catalogue, POST /api/v1/query answered
// as an Arrow IPC stream, jobs, and a feed's live tail as Server-Sent
// Events. It fakes the server, not the client: the plugin's own HTTP client
// runs against it. Queries are answered by a function the test sets, and
// every SQL received is recorded.
//
// Tests that need ClickHouse's real answers use the real highway/api
// package instead (the integration tests).
package apitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/plugins/grafana/pkg/apiclient"
)

// Token is the department token the server accepts.
const Token = "td-test-token"

// Answer answers one POST /api/v1/query: a record batch written as an
// Arrow stream, or an *apiclient.Error written as the API's JSON error.
type Answer func(sql string) (arrow.RecordBatch, error)

// Server is the fake API. Its fields may be changed between calls; the
// mutex guards them against the server's goroutines.
type Server struct {
	*httptest.Server

	mu      sync.Mutex
	feeds   []apiclient.Feed
	jobs    []apiclient.Job
	answer  Answer
	queries []string
	live    map[string][]json.RawMessage
	// liveClose makes the live tail end after its records instead of
	// staying open, to test reconnection.
	liveClose bool
	liveConns int
}

// Database is the database the fake API's tables are in, as the real API
// names them: open feeds' tables alone, restricted ones' in
// store.RestrictedDatabase(Database).
const Database = "default"

// New starts a server whose catalogue holds the feeds of cat, all fresh,
// with 100 rows and the latest event a minute ago. Close it when done.
func New(cat *catalog.Catalog) *Server {
	s := &Server{live: map[string][]json.RawMessage{}}
	layout := store.NewLayout(Database)
	latest := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	for _, f := range cat.Feeds() {
		fi := apiclient.Feed{
			Name: f.Name, Department: f.Department, Description: f.Description, Access: string(f.Access),
			IntervalSeconds: f.Interval.Seconds(), Key: f.Key, EventTime: f.EventTime, Table: layout.FeedTable(f),
			Rows: 100, LatestEventTime: &latest, Freshness: "fresh",
		}
		for _, fld := range f.Fields {
			fi.Fields = append(fi.Fields, apiclient.Field{Name: fld.Name, Type: string(fld.Type), Unit: fld.Unit,
				Description: fld.Description, Required: fld.Required, Min: fld.Min, Max: fld.Max, Enum: fld.Enum})
		}
		s.feeds = append(s.feeds, fi)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/feeds", s.auth(s.listFeeds))
	mux.HandleFunc("GET /api/v1/feeds/{feed}", s.auth(s.getFeed))
	mux.HandleFunc("GET /api/v1/feeds/{feed}/live", s.auth(s.liveTail))
	mux.HandleFunc("POST /api/v1/query", s.auth(s.query))
	mux.HandleFunc("GET /api/v1/jobs", s.auth(s.listJobs))
	s.Server = httptest.NewServer(mux)
	return s
}

// SetAnswer sets how queries are answered.
func (s *Server) SetAnswer(a Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = a
}

// Queries returns the SQL of every query received so far.
func (s *Server) Queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.queries...)
}

// SetFeed changes a feed of the catalogue in place.
func (s *Server) SetFeed(name string, change func(*apiclient.Feed)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.feeds {
		if s.feeds[i].Name == name {
			change(&s.feeds[i])
		}
	}
}

// SetJobs sets the jobs the API lists.
func (s *Server) SetJobs(jobs []apiclient.Job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs = jobs
}

// SetLive sets the records the live tail of feed sends to each client;
// with closeAfter the tail ends after them, otherwise it stays open.
func (s *Server) SetLive(feed string, recs []json.RawMessage, closeAfter bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live[feed] = recs
	s.liveClose = closeAfter
}

// LiveConnections counts the live tail connections made so far.
func (s *Server) LiveConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.liveConns
}

func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch {
		case !ok || tok == "":
			writeError(w, http.StatusUnauthorized, "no token", "send Authorization: Bearer <department token>")
		case tok != Token:
			writeError(w, http.StatusUnauthorized, "unknown or revoked token", "create one with highway token create")
		default:
			h(w, r)
		}
	}
}

func (s *Server) listFeeds(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.feeds)
}

func (s *Server) getFeed(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.feeds {
		if f.Name == r.PathValue("feed") {
			writeJSON(w, http.StatusOK, f)
			return
		}
	}
	writeError(w, http.StatusNotFound, "no feed called "+r.PathValue("feed"), "GET /api/v1/feeds lists the feeds")
}

func (s *Server) listJobs(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"jobs": s.jobs})
}

func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	var req struct {
		SQL    string `json:"sql"`
		Format string `json:"format"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "body is not JSON: "+err.Error(), `send {"sql": "...", "format": "arrow"}`)
		return
	}
	if req.Format != "arrow" {
		writeError(w, http.StatusBadRequest, "this test server answers only format arrow", "")
		return
	}
	s.mu.Lock()
	s.queries = append(s.queries, req.SQL)
	answer := s.answer
	s.mu.Unlock()
	if answer == nil {
		writeError(w, http.StatusInternalServerError, "the test set no answer", "")
		return
	}
	rec, err := answer(req.SQL)
	if err != nil {
		if ae, ok := err.(*apiclient.Error); ok {
			writeError(w, ae.Status, ae.Message, ae.Hint)
			return
		}
		writeError(w, http.StatusInternalServerError, err.Error(), "")
		return
	}
	defer rec.Release()
	w.Header().Set("Content-Type", apiclient.ArrowStreamType)
	wr := ipc.NewWriter(w, ipc.WithSchema(rec.Schema()))
	if rec.NumRows() > 0 {
		if err := wr.Write(rec); err != nil {
			return
		}
	}
	_ = wr.Close()
}

func (s *Server) liveTail(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	recs, ok := s.live[r.PathValue("feed")]
	closeAfter := s.liveClose
	s.liveConns++
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "no live tail for "+r.PathValue("feed"), "")
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	fmt.Fprint(w, ": connected\n\n")
	for _, rec := range recs {
		fmt.Fprintf(w, "event: record\ndata: %s\n\n", rec)
	}
	fl.Flush()
	if closeAfter {
		return
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			fl.Flush()
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg, hint string) {
	writeJSON(w, status, map[string]string{"error": msg, "hint": hint})
}
