package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// OpenFeed is an open feed in the open-data catalogue: what it is, its
// licence, and its data dictionary (without personal fields).
type OpenFeed struct {
	Name            string      `json:"name"`
	Publisher       string      `json:"publisher"`
	Description     string      `json:"description,omitempty"`
	Licence         string      `json:"licence,omitempty"`
	IntervalSeconds float64     `json:"interval_seconds"`
	Key             []string    `json:"key"`
	EventTime       string      `json:"event_time"`
	Fields          []FieldInfo `json:"fields"`
	// Data is the path of the feed's rows.
	Data            string     `json:"data"`
	Rows            uint64     `json:"rows"`
	LatestEventTime *time.Time `json:"latest_event_time"`
	Freshness       string     `json:"freshness"`
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

// publicFields are a feed's fields that open data shows: all but personal.
func publicFields(f *catalog.Feed) []catalog.Field {
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
	o := OpenFeed{Name: f.Name, Publisher: f.Department, Description: f.Description, Licence: f.Licence,
		IntervalSeconds: f.Interval.Seconds(), Key: f.Key, EventTime: f.EventTime, Fields: []FieldInfo{},
		Data: "/open/v1/feeds/" + f.Name + "/data", Rows: fi.Rows, LatestEventTime: fi.LatestEventTime, Freshness: fi.Freshness}
	for _, fld := range publicFields(f) {
		o.Fields = append(o.Fields, fieldInfo(fld))
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
	if s.limited(w, s.openRL, s.clientAddr(r), "per client") {
		return
	}
	f := s.openFeed(r.PathValue("feed"))
	if f == nil {
		openNotFound(w, r.PathValue("feed"))
		return
	}
	writeJSON(w, http.StatusOK, s.openInfo(r, f))
}

func openNotFound(w http.ResponseWriter, name string) {
	writeError(w, http.StatusNotFound, "no open feed called "+name, "GET /open/v1/feeds lists the open feeds")
}

// openData streams a feed's rows in [from, to) without holding them in
// memory: ClickHouse's blocks are written out as they arrive.
func (s *Server) openData(w http.ResponseWriter, r *http.Request, _ *principal) {
	client := s.clientAddr(r)
	if s.limited(w, s.openRL, client, "per client") {
		return
	}
	f := s.openFeed(r.PathValue("feed"))
	if f == nil {
		openNotFound(w, r.PathValue("feed"))
		return
	}
	q := r.URL.Query()
	format := store.FormatCSV
	if v := q.Get("format"); v != "" {
		var err error
		if format, err = store.ParseFormat(v); err != nil {
			writeError(w, http.StatusBadRequest, err.Error(), "format is csv (default), json, ndjson or arrow")
			return
		}
	}
	now := s.cfg.Now()
	to, err := parseTimeParam(q.Get("to"), now)
	if err != nil {
		writeError(w, http.StatusBadRequest, "to: "+err.Error(), "give RFC 3339 (2026-11-26T08:00:00+08:00) or milliseconds since 1970")
		return
	}
	from, err := parseTimeParam(q.Get("from"), to.Add(-24*time.Hour))
	if err != nil {
		writeError(w, http.StatusBadRequest, "from: "+err.Error(), "give RFC 3339 (2026-11-26T08:00:00+08:00) or milliseconds since 1970")
		return
	}
	if !from.Before(to) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("from (%s) must be before to (%s)", from.Format(time.RFC3339), to.Format(time.RFC3339)),
			"from defaults to 24 hours before to; to defaults to now")
		return
	}
	var limit uint64
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.ParseUint(v, 10, 64); err != nil || limit == 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %q is not a positive whole number", v), "leave limit out for every row in the range")
			return
		}
	}
	if s.cfg.Querier == nil {
		writeError(w, http.StatusServiceUnavailable, "open data is not available: this server has no ClickHouse", "try again later")
		return
	}
	var cols []string
	for _, fld := range publicFields(f) {
		cols = append(cols, fld.Name)
	}
	start := time.Now()
	entry := store.AuditEntry{At: now, Client: client, Action: "download", Route: "GET /open/v1/feeds/{feed}/data", Feed: f.Name,
		Detail: fmt.Sprintf("from=%s to=%s format=%s limit=%d", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), format, limit)}
	lw := &lazyWriter{w: w, contentType: format.ContentType(),
		disposition: fmt.Sprintf(`attachment; filename="%s_%s_%s.%s"`, f.Name, from.UTC().Format("20060102T150405Z"), to.UTC().Format("20060102T150405Z"), extension(format))}
	st, err := s.cfg.Querier.QueryFeed(r.Context(), f, cols, from, to, limit, s.cfg.OpenLimits, format, lw)
	entry.Rows, entry.Bytes, entry.Duration = st.Rows, uint64(max(st.Written, 0)), time.Since(start)
	entry.Status = s.queryFailed(w, lw, err)
	if err != nil {
		entry.Error = err.Error()
	}
	s.audit(entry)
	if lw.mustCutOff(format, err) {
		cutOff(lw)
	}
}

func extension(f store.Format) string {
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
