package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/quality"
	"github.com/cityhighway/highway/highway/store"
)

// Ledger reads the quality ledger (highway/quality): *quality.Reader.
type Ledger interface {
	Summary(ctx context.Context, f *catalog.Feed) (*quality.Summary, error)
	Range(ctx context.Context, f *catalog.Feed, from, to time.Time, step time.Duration) ([]store.QualityRow, error)
}

// QualityBuckets is a feed's ledger over a time range.
type QualityBuckets struct {
	Feed        string             `json:"feed"`
	From        time.Time          `json:"from"`
	To          time.Time          `json:"to"`
	StepSeconds float64            `json:"step_seconds,omitempty"`
	Formula     string             `json:"formula"`
	Buckets     []store.QualityRow `json:"buckets"`
}

var qualityParams = []param{feedParam,
	{name: "from", in: "query", desc: "first bucket, RFC 3339 or milliseconds since 1970 (default: 24 hours before to)"},
	{name: "to", in: "query", desc: "end, exclusive (default: now)"},
	{name: "step", in: "query", desc: "merge the buckets of each step, a duration like 1h or 1d (default: one row per bucket); merged rows add up counts and average the score and parts"},
}

func (s *Server) qualityRoutes() []route {
	errs := map[int]string{400: "a bad parameter", 503: "no quality ledger configured"}
	return []route{
		{method: "GET", path: "/api/v1/feeds/{feed}/quality", auth: authToken, tag: "catalogue",
			summary:     "A feed's quality ledger: its buckets in a time range",
			description: "One row per ledger bucket (an hour by default): records accepted, rejected by reason and field, dead-lettered, late, duplicates, corrections; per field nulls, out-of-range share, min/max/mean and drift; intervals present and gaps, keys reporting and missing; freshness and worst delay; reconciliation of Kafka against ClickHouse; and the score (0-100) with its parts. " + quality.Formula + ".",
			params:      qualityParams, ok: okResponse{status: 200, types: []string{"application/json"}, schema: "QualityBuckets", desc: "the buckets"},
			errors: merge(errAuth, errs, map[int]string{404: "no such feed, or one you may not read"}), handle: s.feedQuality},
		{method: "GET", path: "/open/v1/feeds/{feed}/quality", auth: authNone, tag: "open data",
			summary: "An open feed's quality ledger (no token)", description: "As GET /api/v1/feeds/{feed}/quality, without the figures of personal fields.",
			params: qualityParams, ok: okResponse{status: 200, types: []string{"application/json"}, schema: "QualityBuckets", desc: "the buckets"},
			errors: merge(errRate, errs, map[int]string{404: "no open feed of that name"}), handle: s.openQuality},
		{method: "GET", path: "/api/v1/feeds/{feed}/data", auth: authToken, tag: "open data",
			summary:     "Download a feed's rows in a time range, as of a time, or changed since one",
			description: "As GET /open/v1/feeds/{feed}/data, for any feed the caller may read (restricted ones it is granted), without personal fields.",
			params:      append([]param{feedParam}, downloadParams...),
			ok:          okResponse{status: 200, types: store.MediaTypes(), desc: "the rows"},
			errors: merge(errAuth, errRate, map[int]string{400: "a bad parameter", 404: "no such feed, or one you may not read",
				501: "as_of or changed_since on a server without them", 502: "ClickHouse is not answering", 503: "no ClickHouse configured"}), handle: s.feedData, reads: true},
	}
}

func (s *Server) feedQuality(w http.ResponseWriter, r *http.Request, who *principal) {
	f := s.acl().feed(who.dept, r.PathValue("feed"))
	if f == nil {
		feedNotFound(w, r.PathValue("feed"))
		return
	}
	s.qualityBuckets(w, r, f)
}

func (s *Server) openQuality(w http.ResponseWriter, r *http.Request, _ *principal) {
	if f := s.openRoute(w, r); f != nil {
		s.qualityBuckets(w, r, f)
	}
}

// qualityBuckets answers a feed's ledger in the request's range, without
// the figures of personal fields (or the missing keys, when a key field is
// personal).
func (s *Server) qualityBuckets(w http.ResponseWriter, r *http.Request, f *catalog.Feed) {
	if s.cfg.Ledger == nil {
		writeError(w, http.StatusServiceUnavailable, "no quality ledger on this server: it has no ClickHouse", "try again later")
		return
	}
	v := r.URL.Query()
	to, err := parseTimeParam(v.Get("to"), s.cfg.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, "to: "+err.Error(), timeHint)
		return
	}
	from, err := parseTimeParam(v.Get("from"), to.Add(-24*time.Hour))
	if err != nil {
		writeError(w, http.StatusBadRequest, "from: "+err.Error(), timeHint)
		return
	}
	if !from.Before(to) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("from (%s) must be before to (%s)", from.Format(time.RFC3339), to.Format(time.RFC3339)), "from defaults to 24 hours before to")
		return
	}
	var step time.Duration
	if sv := v.Get("step"); sv != "" {
		if step, err = catalog.ParseDuration(sv); err != nil || step < time.Second {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("step %q is not a duration of a second or more", sv), `give a duration like "1h" or "1d"`)
			return
		}
	}
	rows, err := s.cfg.Ledger.Range(r.Context(), f, from, to, step)
	if err != nil {
		writeError(w, http.StatusBadGateway, "reading the quality ledger: "+err.Error(), "try a shorter range, or again later")
		return
	}
	personal := map[string]bool{}
	keyPersonal := false
	for _, fld := range f.Fields {
		if fld.Personal {
			personal[fld.Name] = true
			keyPersonal = keyPersonal || slices.Contains(f.Key, fld.Name)
		}
	}
	for i := range rows {
		rows[i].Fields = slices.DeleteFunc(rows[i].Fields, func(ff store.FieldFigures) bool { return personal[ff.Name] })
		if keyPersonal {
			rows[i].MissingKeys = nil
		}
	}
	if rows == nil {
		rows = []store.QualityRow{}
	}
	writeJSON(w, http.StatusOK, QualityBuckets{Feed: f.Name, From: from.UTC(), To: to.UTC(), StepSeconds: step.Seconds(), Formula: quality.Formula, Buckets: rows})
}

// score reads a feed's ledger Summary for the catalogue; nil without a
// ledger or a row, with the reason in errMsg when reading failed.
func (s *Server) score(ctx context.Context, f *catalog.Feed) (sum *quality.Summary, errMsg string) {
	if s.cfg.Ledger == nil {
		return nil, ""
	}
	sum, err := s.cfg.Ledger.Summary(ctx, f)
	if err != nil {
		return nil, err.Error()
	}
	return sum, ""
}
