package api

import (
	"context"
	"net/http"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/quality"
)

// FieldInfo is a field in the catalogue.
type FieldInfo struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Unit        string `json:"unit,omitempty"`
	Description string `json:"description,omitempty"`
	// Descriptions is the description in every language the spec gives.
	Descriptions catalog.Text `json:"descriptions,omitempty"`
	Required     bool         `json:"required"`
	Min          *float64     `json:"min,omitempty"`
	Max          *float64     `json:"max,omitempty"`
	Enum         []string     `json:"enum,omitempty"`
	// Personal fields are never in open data.
	Personal bool `json:"personal,omitempty"`
}

// FeedInfo is a feed in the catalogue: its spec, where it lives, and how
// much and how fresh its data is.
type FeedInfo struct {
	Name       string `json:"name"`
	Department string `json:"department"`
	// Title is the feed's short name for people, per language.
	Title       catalog.Text `json:"title,omitempty"`
	Description string       `json:"description,omitempty"`
	// Descriptions is the description in every language the spec gives.
	Descriptions     catalog.Text `json:"descriptions,omitempty"`
	Licence          string       `json:"licence,omitempty"`
	Access           string       `json:"access"`
	Version          int          `json:"version"`
	IntervalSeconds  float64      `json:"interval_seconds"`
	RetentionSeconds float64      `json:"retention_seconds,omitempty"`
	Key              []string     `json:"key"`
	EventTime        string       `json:"event_time"`
	Fields           []FieldInfo  `json:"fields"`
	Topic            string       `json:"topic"`
	DLQTopic         string       `json:"dlq_topic"`
	// Table is the feed's table as POST /api/v1/query names it: alone for
	// an open feed, <database>_restricted.table for a restricted one.
	Table string `json:"table"`
	// Database is the ClickHouse database that holds the feed's tables.
	Database string `json:"database,omitempty"`
	// WindowTables are the tables of the feed's pipeline windows, named
	// as Table is.
	WindowTables    []string   `json:"window_tables,omitempty"`
	Rows            uint64     `json:"rows"`
	LatestEventTime *time.Time `json:"latest_event_time"`
	// Freshness is "fresh" (latest event within two intervals), "late"
	// (within five), "stale" (older), "empty" (no rows yet) or "unknown".
	Freshness string `json:"freshness"`
	// StatsError says why rows and freshness are unknown, if they are.
	StatsError string `json:"stats_error,omitempty"`
	// Quality is what the processors in this process saw of the feed, when
	// they run here (highway dev); absent otherwise.
	Quality *Quality `json:"quality,omitempty"`
	// Score is the feed's quality score from the ledger, with its parts
	// (GET /api/v1/feeds/{feed}/quality has the buckets); absent before the
	// ledger's first bucket, with ScoreError saying why if it could not be
	// read.
	Score      *quality.Summary `json:"score,omitempty"`
	ScoreError string           `json:"score_error,omitempty"`
}

func (s *Server) info(ctx context.Context, f *catalog.Feed, checks map[string]*Quality) FeedInfo {
	fi := FeedInfo{
		Name: f.Name, Department: f.Department, Title: f.Title, Description: f.Description, Descriptions: f.Descriptions, Licence: f.Licence,
		Access: string(f.Access), Version: f.Version, IntervalSeconds: f.Interval.Seconds(),
		RetentionSeconds: f.Retention.Seconds(),
		Key:              f.Key, EventTime: f.EventTime, Topic: f.Topic(), DLQTopic: f.DLQTopic(),
		Table: s.access.layout.FeedTable(f), Quality: checks[f.Name],
	}
	if s.cfg.Database != "" {
		fi.Database = s.access.layout.FeedDatabase(f)
	}
	if p := s.cfg.Catalog.PipelineOf(f.Name); p != nil {
		for _, w := range p.Windows {
			fi.WindowTables = append(fi.WindowTables, s.access.layout.WindowTable(f, w))
		}
	}
	for _, fld := range f.Fields {
		fi.Fields = append(fi.Fields, fieldInfo(fld))
	}
	fi.Score, fi.ScoreError = s.score(ctx, f)
	if s.cfg.Stats == nil {
		fi.Freshness, fi.StatsError = "unknown", "no ClickHouse configured"
		return fi
	}
	st, err := s.cfg.Stats.Stats(ctx, f)
	if err != nil {
		fi.StatsError = err.Error()
		fi.Freshness = "unknown"
		return fi
	}
	fi.Rows = st.Rows
	fi.Freshness = quality.Freshness(st.LatestEvent, f.Interval, s.cfg.Now())
	if !st.LatestEvent.IsZero() {
		t := st.LatestEvent.UTC()
		fi.LatestEventTime = &t
	}
	return fi
}

func fieldInfo(fld catalog.Field) FieldInfo {
	return FieldInfo{Name: fld.Name, Type: string(fld.Type), Unit: fld.Unit, Description: fld.Description, Descriptions: fld.Descriptions,
		Required: fld.Required, Min: fld.Min, Max: fld.Max, Enum: fld.Enum, Personal: fld.Personal}
}

func (s *Server) listFeeds(w http.ResponseWriter, r *http.Request, who *principal) {
	q := s.quality()
	out := []FeedInfo{}
	for _, f := range s.access.view(who.dept).feeds {
		out = append(out, s.info(r.Context(), f, q))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getFeed(w http.ResponseWriter, r *http.Request, who *principal) {
	f := s.access.feed(who.dept, r.PathValue("feed"))
	if f == nil {
		feedNotFound(w, r.PathValue("feed"))
		return
	}
	writeJSON(w, http.StatusOK, s.info(r.Context(), f, s.quality()))
}

// feedNotFound answers 404 for a feed that does not exist or that the
// caller may not read; the two are not told apart.
func feedNotFound(w http.ResponseWriter, name string) {
	writeError(w, http.StatusNotFound, "no feed called "+name, "GET /api/v1/feeds lists the feeds you may read")
}

// Me is who the caller is and what it may read.
type Me struct {
	Department  string   `json:"department"`
	Description string   `json:"description,omitempty"`
	Admin       bool     `json:"admin"`
	Grants      []string `json:"grants"`
	TokenID     string   `json:"token_id"`
	// TokenScopes are what the token may do: read, admin, push:<feed>.
	TokenScopes []string `json:"token_scopes"`
	// TokenExpires is when the token stops working (none: never).
	TokenExpires *time.Time `json:"token_expires,omitempty"`
	// TokenWarning says the token expires within 14 days (or never) and
	// how to rotate it.
	TokenWarning string   `json:"token_warning,omitempty"`
	Feeds        []string `json:"feeds"`
	// Tables are the ClickHouse tables POST /api/v1/query may read, as it
	// names them: open tables alone, restricted ones as
	// <RestrictedDatabase>.table. An admin's include the audit log,
	// <RestrictedDatabase>.highway_audit.
	Tables []string `json:"tables"`
	// Database is the database of the open tables, the queries' default.
	Database string `json:"database,omitempty"`
	// RestrictedDatabase is the database of the restricted tables, which
	// only callers granted a restricted feed can read.
	RestrictedDatabase string `json:"restricted_database,omitempty"`
}

func (s *Server) me(w http.ResponseWriter, _ *http.Request, who *principal) {
	v := s.access.view(who.dept)
	m := Me{Department: who.dept.Name, Description: who.dept.Description, Admin: who.dept.Admin,
		Grants: append([]string{}, who.dept.Grants...), TokenID: who.token.ID, TokenScopes: who.token.scopes(), TokenExpires: who.token.Expires,
		TokenWarning: who.token.ExpiryWarning(s.cfg.Now()), Feeds: []string{}, Tables: v.tables, Database: s.cfg.Database}
	if s.cfg.Database != "" {
		m.RestrictedDatabase = s.access.layout.Restricted
	}
	for _, f := range v.feeds {
		m.Feeds = append(m.Feeds, f.Name)
	}
	writeJSON(w, http.StatusOK, m)
}
