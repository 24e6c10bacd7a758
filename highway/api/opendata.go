package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/cityhighway/highway/highway/api/wire"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/quality"
	"github.com/cityhighway/highway/highway/store"
)

// OpenFeed is an open feed in the open-data catalogue: what it is, its
// licence, and its data dictionary (without personal fields).
type OpenFeed struct {
	Name      string `json:"name"`
	Publisher string `json:"publisher"`
	// Title is the feed's short name for people, per language.
	Title       catalog.Text `json:"title,omitempty"`
	Description string       `json:"description,omitempty"`
	// Descriptions is the description in every language the spec gives.
	Descriptions    catalog.Text `json:"descriptions,omitempty"`
	Licence         string       `json:"licence,omitempty"`
	IntervalSeconds float64      `json:"interval_seconds"`
	Key             []string     `json:"key"`
	EventTime       string       `json:"event_time"`
	Fields          []FieldInfo  `json:"fields"`
	// Data is the path of the feed's rows.
	Data            string     `json:"data"`
	Rows            uint64     `json:"rows"`
	LatestEventTime *time.Time `json:"latest_event_time"`
	Freshness       string     `json:"freshness"`
	// Score is the feed's quality score with its parts (FeedInfo.Score);
	// Quality is the path of its ledger.
	Score   *quality.Summary `json:"score,omitempty"`
	Quality string           `json:"quality"`
}

// openFeed returns the open feed called name, or nil: restricted feeds do
// not exist here.
func (s *Server) openFeed(name string) *catalog.Feed {
	if s.cfg.Catalog == nil {
		return nil
	}
	f := s.cfg.Catalog.Feed(name)
	if f == nil || f.Access != catalog.Open {
		return nil
	}
	return f
}

// personalNames are the names of a feed's personal fields: what only its
// owner reads (the complement of PublicFields).
func personalNames(f *catalog.Feed) []string {
	var out []string
	for _, fld := range f.Fields {
		if fld.Personal {
			out = append(out, fld.Name)
		}
	}
	return out
}

// PublicFields are a feed's fields that open data shows: all but personal.
func PublicFields(f *catalog.Feed) []catalog.Field {
	var out []catalog.Field
	for _, fld := range f.Fields {
		if !fld.Personal {
			out = append(out, fld)
		}
	}
	return out
}

func (s *Server) openInfo(r *http.Request, f *catalog.Feed) OpenFeed {
	fi := s.info(r.Context(), f, nil)
	o := OpenFeed{Name: f.Name, Publisher: f.Department, Title: f.Title, Description: f.Description, Descriptions: f.Descriptions, Licence: f.Licence,
		IntervalSeconds: f.Interval.Seconds(), Key: f.Key, EventTime: f.EventTime, Fields: []FieldInfo{},
		Data: "/open/v1/feeds/" + f.Name + "/data", Rows: fi.Rows, LatestEventTime: fi.LatestEventTime, Freshness: fi.Freshness,
		Score: fi.Score, Quality: "/open/v1/feeds/" + f.Name + "/quality"}
	for _, fld := range PublicFields(f) {
		o.Fields = append(o.Fields, wire.FieldOf(fld))
	}
	return o
}

func (s *Server) openFeeds(w http.ResponseWriter, r *http.Request, _ *principal) {
	if s.limited(w, s.openRL, s.clientAddr(r), "per client") {
		return
	}
	out := []OpenFeed{}
	if s.cfg.Catalog != nil {
		for _, f := range s.cfg.Catalog.Feeds() {
			if f.Access == catalog.Open {
				out = append(out, s.openInfo(r, f))
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) openFeedInfo(w http.ResponseWriter, r *http.Request, _ *principal) {
	if f := s.openRoute(w, r); f != nil {
		writeJSON(w, http.StatusOK, s.openInfo(r, f))
	}
}

// openRoute admits a request to an /open/v1/feeds/{feed}/ route: it
// returns the open feed the path names, or nil when it has answered already
// (429 for a client over its rate, 404 for a feed that is not open).
func (s *Server) openRoute(w http.ResponseWriter, r *http.Request) *catalog.Feed {
	if s.limited(w, s.openRL, s.clientAddr(r), "per client") {
		return nil
	}
	f := s.openFeed(r.PathValue("feed"))
	if f == nil {
		writeError(w, http.StatusNotFound, "no open feed called "+r.PathValue("feed"), "GET /open/v1/feeds lists the open feeds")
	}
	return f
}

// openData streams a feed's rows in [from, to) without holding them in
// memory: ClickHouse's blocks are written out as they arrive.
func (s *Server) openData(w http.ResponseWriter, r *http.Request, _ *principal) {
	f := s.openRoute(w, r)
	if f == nil {
		return
	}
	s.download(w, r, f, s.cfg.Querier, store.AuditEntry{Client: s.clientAddr(r), Action: "download", Route: "GET /open/v1/feeds/{feed}/data", Feed: f.Name})
}

// FileExtension is the file extension of a download in format f.
func FileExtension(f store.Format) string {
	if f == store.FormatArrow {
		return "arrows"
	}
	return string(f)
}

// parseTimeParam reads RFC 3339 or integer milliseconds since 1970; empty
// is def.
func parseTimeParam(v string, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a time", v)
	}
	return t, nil
}
