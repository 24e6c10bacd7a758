package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// HistoryQuerier streams a feed's rows as they were at a time, or those
// changed since one: *store.Store. A Querier without it answers as_of and
// changed_since with 501.
type HistoryQuerier interface {
	QueryFeedHistory(ctx context.Context, feed *catalog.Feed, columns []string, from, to time.Time, h store.History, limit uint64, lim store.Limits, f store.Format, w io.Writer) (store.QueryStats, error)
}

// downloadParams are the query parameters of both data downloads.
var downloadParams = []param{
	{name: "from", in: "query", desc: "start of the event times, RFC 3339 or milliseconds since 1970 (default: 24 hours before to; with changed_since alone, the beginning)"},
	{name: "to", in: "query", desc: "end, exclusive (default: now; with changed_since alone, no end)"},
	{name: "as_of", in: "query", desc: "the feed as the platform held it then: rows that had landed by then (that second included) and, of rows with the same key and event time, the latest that had (corrections applied by then); ordered by key and event time"},
	{name: "changed_since", in: "query", desc: "only rows that landed (arrived or were corrected) from then on, that second included, for incremental syncs: ask again from the time of your last sync; a row may come twice, never be missed"},
	{name: "format", in: "query", desc: "csv (default), json, ndjson or arrow", enum: []string{"csv", "json", "ndjson", "arrow"}},
	{name: "limit", in: "query", desc: "at most this many rows (default: all)"},
}

// farFuture ends the event times of a changed_since sync without to:
// ClickHouse's DateTime ends in 2106.
var farFuture = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

const timeHint = "give RFC 3339 (2026-11-26T08:00:00+08:00) or milliseconds since 1970"

// download streams a feed's public fields in the parameters' range, through
// q, without holding them in memory: ClickHouse's blocks are written out as
// they arrive. entry says who asked; the rest is filled here.
func (s *Server) download(w http.ResponseWriter, r *http.Request, f *catalog.Feed, q Querier, entry store.AuditEntry) {
	v := r.URL.Query()
	format := store.FormatCSV
	if fv := v.Get("format"); fv != "" {
		var err error
		if format, err = store.ParseFormat(fv); err != nil {
			writeError(w, http.StatusBadRequest, err.Error(), "format is csv (default), json, ndjson or arrow")
			return
		}
	}
	now := s.cfg.Now()
	var h store.History
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"as_of", &h.AsOf}, {"changed_since", &h.ChangedSince}} {
		t, err := parseTimeParam(v.Get(p.name), time.Time{})
		if err != nil {
			writeError(w, http.StatusBadRequest, p.name+": "+err.Error(), timeHint)
			return
		}
		*p.dst = t
	}
	if !h.AsOf.IsZero() && !h.ChangedSince.IsZero() && !h.ChangedSince.Before(h.AsOf) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("changed_since (%s) must be before as_of (%s)", h.ChangedSince.Format(time.RFC3339), h.AsOf.Format(time.RFC3339)),
			"together they pick the rows that landed between the two")
		return
	}
	sync := !h.ChangedSince.IsZero() && v.Get("from") == "" && v.Get("to") == ""
	defTo := now
	if sync {
		defTo = farFuture
	}
	to, err := parseTimeParam(v.Get("to"), defTo)
	if err != nil {
		writeError(w, http.StatusBadRequest, "to: "+err.Error(), timeHint)
		return
	}
	defFrom := to.Add(-24 * time.Hour)
	if sync {
		defFrom = time.Unix(0, 0)
	}
	from, err := parseTimeParam(v.Get("from"), defFrom)
	if err != nil {
		writeError(w, http.StatusBadRequest, "from: "+err.Error(), timeHint)
		return
	}
	if !from.Before(to) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("from (%s) must be before to (%s)", from.Format(time.RFC3339), to.Format(time.RFC3339)),
			"from defaults to 24 hours before to; to defaults to now")
		return
	}
	var limit uint64
	if lv := v.Get("limit"); lv != "" {
		if limit, err = strconv.ParseUint(lv, 10, 64); err != nil || limit == 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %q is not a positive whole number", lv), "leave limit out for every row in the range")
			return
		}
	}
	if q == nil {
		writeError(w, http.StatusServiceUnavailable, "downloads are not available: this server has no ClickHouse", "try again later")
		return
	}
	hq, historyOK := q.(HistoryQuerier)
	if h != (store.History{}) && !historyOK {
		writeError(w, http.StatusNotImplemented, "as_of and changed_since are not available on this server", "leave them out")
		return
	}
	var cols []string
	for _, fld := range PublicFields(f) {
		cols = append(cols, fld.Name)
	}
	start := time.Now()
	entry.At = now
	entry.Detail = fmt.Sprintf("from=%s to=%s format=%s limit=%d", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), format, limit)
	if !h.AsOf.IsZero() {
		entry.Detail += " as_of=" + h.AsOf.UTC().Format(time.RFC3339)
	}
	if !h.ChangedSince.IsZero() {
		entry.Detail += " changed_since=" + h.ChangedSince.UTC().Format(time.RFC3339)
	}
	lw := &lazyWriter{w: w, contentType: format.ContentType(),
		disposition: fmt.Sprintf(`attachment; filename="%s_%s_%s.%s"`, f.Name, from.UTC().Format("20060102T150405Z"), to.UTC().Format("20060102T150405Z"), FileExtension(format))}
	var st store.QueryStats
	if historyOK {
		st, err = hq.QueryFeedHistory(r.Context(), f, cols, from, to, h, limit, s.cfg.OpenLimits, format, lw)
	} else {
		st, err = q.QueryFeed(r.Context(), f, cols, from, to, limit, s.cfg.OpenLimits, format, lw)
	}
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

// feedData is the /api/ download: any feed the caller may read, restricted
// ones through the restricted querier, never personal fields.
func (s *Server) feedData(w http.ResponseWriter, r *http.Request, who *principal) {
	if s.limited(w, s.tokenRL, who.token.ID, "per token") {
		return
	}
	f := s.acl().feed(who.dept, r.PathValue("feed"))
	if f == nil {
		feedNotFound(w, r.PathValue("feed"))
		return
	}
	q := s.cfg.Querier
	if f.Access == catalog.Restricted {
		q = s.cfg.RestrictedQuerier
	}
	s.download(w, r, f, q, store.AuditEntry{Department: who.dept.Name, TokenID: who.token.ID, Client: s.clientAddr(r),
		Action: "download", Route: "GET /api/v1/feeds/{feed}/data", Feed: f.Name})
}
