// Package api owns the HTTP API: the feed catalogue with row counts and
// freshness, health, and Prometheus metrics. (Auth, push, queries, open data
// and live tails come with the API issue.)
package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// Stats reads what ClickHouse holds of a feed: *store.Store.
type Stats interface {
	Stats(ctx context.Context, feed *catalog.Feed) (store.FeedStats, error)
}

// Config configures the server.
type Config struct {
	Catalog *catalog.Catalog
	Stats   Stats
	// Gatherer serves /metrics. Default prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	Logger   *slog.Logger
	// Now is the clock, for tests. Default time.Now.
	Now func() time.Time
}

// Server is the API's http.Handler.
type Server struct {
	cfg Config
	mux *http.ServeMux
}

// New returns the API server.
func New(cfg Config) *Server {
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.DefaultGatherer
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /api/v1/feeds", s.listFeeds)
	s.mux.HandleFunc("GET /api/v1/feeds/{feed}", s.getFeed)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no route "+r.Method+" "+r.URL.Path, "see GET /api/v1/feeds")
	})
	return s
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// FieldInfo is a field in the catalogue.
type FieldInfo struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	Unit        string   `json:"unit,omitempty"`
	Description string   `json:"description,omitempty"`
	Required    bool     `json:"required"`
	Min         *float64 `json:"min,omitempty"`
	Max         *float64 `json:"max,omitempty"`
	Enum        []string `json:"enum,omitempty"`
}

// FeedInfo is a feed in the catalogue: its spec, where it lives, and how
// much and how fresh its data is.
type FeedInfo struct {
	Name            string      `json:"name"`
	Department      string      `json:"department"`
	Description     string      `json:"description,omitempty"`
	Licence         string      `json:"licence,omitempty"`
	Access          string      `json:"access"`
	Version         int         `json:"version"`
	IntervalSeconds float64     `json:"interval_seconds"`
	Key             []string    `json:"key"`
	EventTime       string      `json:"event_time"`
	Fields          []FieldInfo `json:"fields"`
	Topic           string      `json:"topic"`
	DLQTopic        string      `json:"dlq_topic"`
	Table           string      `json:"table"`
	Rows            uint64      `json:"rows"`
	LatestEventTime *time.Time  `json:"latest_event_time"`
	// Freshness is "fresh" (latest event within two intervals), "late"
	// (within five), "stale" (older) or "empty" (no rows yet).
	Freshness string `json:"freshness"`
	// StatsError says why rows and freshness are unknown, if they are.
	StatsError string `json:"stats_error,omitempty"`
}

func (s *Server) info(ctx context.Context, f *catalog.Feed) FeedInfo {
	fi := FeedInfo{
		Name: f.Name, Department: f.Department, Description: f.Description, Licence: f.Licence,
		Access: string(f.Access), Version: f.Version, IntervalSeconds: f.Interval.Seconds(),
		Key: f.Key, EventTime: f.EventTime, Topic: f.Topic(), DLQTopic: f.DLQTopic(), Table: f.Table(),
	}
	for _, fld := range f.Fields {
		fi.Fields = append(fi.Fields, FieldInfo{Name: fld.Name, Type: string(fld.Type), Unit: fld.Unit, Description: fld.Description,
			Required: fld.Required, Min: fld.Min, Max: fld.Max, Enum: fld.Enum})
	}
	st, err := s.cfg.Stats.Stats(ctx, f)
	if err != nil {
		fi.StatsError = err.Error()
		fi.Freshness = "unknown"
		return fi
	}
	fi.Rows = st.Rows
	fi.Freshness = Freshness(st.LatestEvent, f.Interval, s.cfg.Now())
	if !st.LatestEvent.IsZero() {
		t := st.LatestEvent.UTC()
		fi.LatestEventTime = &t
	}
	return fi
}

// Freshness judges the latest event time against a feed's interval.
func Freshness(latest time.Time, interval time.Duration, now time.Time) string {
	switch age := now.Sub(latest); {
	case latest.IsZero():
		return "empty"
	case age <= 2*interval:
		return "fresh"
	case age <= 5*interval:
		return "late"
	default:
		return "stale"
	}
}

func (s *Server) listFeeds(w http.ResponseWriter, r *http.Request) {
	out := []FeedInfo{}
	for _, f := range s.cfg.Catalog.Feeds() {
		out = append(out, s.info(r.Context(), f))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getFeed(w http.ResponseWriter, r *http.Request) {
	f := s.cfg.Catalog.Feed(r.PathValue("feed"))
	if f == nil {
		writeError(w, http.StatusNotFound, "no feed called "+r.PathValue("feed"), "GET /api/v1/feeds lists the feeds")
		return
	}
	writeJSON(w, http.StatusOK, s.info(r.Context(), f))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// writeError answers with the API's error body: what went wrong and a hint
// on how to fix it.
func writeError(w http.ResponseWriter, status int, msg, hint string) {
	writeJSON(w, status, map[string]string{"error": msg, "hint": hint})
}
