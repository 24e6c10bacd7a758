package api

import (
	"context"
	"net/http"
	"time"

	"github.com/cityhighway/highway/highway/api/wire"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/quality"
)

// FieldInfo is a field in the catalogue: wire.Field, the one definition
// the API's clients read too.
type FieldInfo = wire.Field

// FeedInfo is a feed in the catalogue as this server answers it: the
// wire.Feed its clients read, and what only the server knows of the feed.
type FeedInfo struct {
	wire.Feed
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
	fi := FeedInfo{Feed: wire.FeedOf(f), Quality: checks[f.Name]}
	fi.Table = s.acl().layout.FeedTable(f)
	if s.cfg.Database != "" {
		fi.Database = s.acl().layout.FeedDatabase(f)
	}
	if p := s.cfg.Catalog.PipelineOf(f.Name); p != nil {
		for _, w := range p.Windows {
			fi.WindowTables = append(fi.WindowTables, s.acl().layout.WindowTable(f, w))
		}
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

func (s *Server) listFeeds(w http.ResponseWriter, r *http.Request, who *principal) {
	q := s.quality()
	out := []FeedInfo{}
	for _, f := range s.acl().view(who.dept).feeds {
		out = append(out, s.info(r.Context(), f, q))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getFeed(w http.ResponseWriter, r *http.Request, who *principal) {
	f := s.acl().feed(who.dept, r.PathValue("feed"))
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
	v := s.acl().view(who.dept)
	m := Me{Department: who.dept.Name, Description: who.dept.Description, Admin: who.dept.Admin,
		Grants: append([]string{}, who.dept.Grants...), TokenID: who.token.ID, TokenScopes: who.token.ScopeList(), TokenExpires: who.token.Expires,
		TokenWarning: who.token.ExpiryWarning(s.cfg.Now()), Feeds: []string{}, Tables: v.tables, Database: s.cfg.Database}
	if s.cfg.Database != "" {
		m.RestrictedDatabase = s.acl().layout.Restricted
	}
	for _, f := range v.feeds {
		m.Feeds = append(m.Feeds, f.Name)
	}
	writeJSON(w, http.StatusOK, m)
}
