package portal

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cityhighway/highway/highway/api"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// feedPage is the data of /feeds/{feed}.
type feedPage struct {
	Title, Description localized
	Info               api.FeedInfo
	Quality            string
	Open               bool
	Fields             []fieldRow
	Provenance         *provenance
	// Chart is the main figure over the last 24 hours; Figure names it.
	Chart  chartSVG
	Figure string
	Rows   *result
	Cells  [][]string
	// Downloads are the formats with their links and API calls.
	Downloads    []downloadLink
	From, To     string // the date range form's defaults, YYYY-MM-DD
	RestrictedQL string // for a restricted feed: the API call that reads it
	Curl         string
}

type fieldRow struct {
	F           catalog.Field
	Description localized
	Key, Event  bool
}

type provenance struct {
	Source, ETag string
	FetchedAt    *time.Time
	Version      string
}

type downloadLink struct {
	Format, URL, Curl string
}

func (s *Server) feed(w http.ResponseWriter, r *http.Request, v *visit) {
	name := r.PathValue("feed")
	if base, ok := strings.CutSuffix(name, ".jsonld"); ok {
		s.feedJSONLD(w, r, v, base)
		return
	}
	f := s.cfg.API.ReadableFeed(v.dept, name)
	if f == nil {
		if s.requestable(v, name) {
			s.requestForm(w, r, v, name, http.StatusNotFound, requestPage{})
			return
		}
		s.notFound(w, r, v)
		return
	}
	page := s.feedData(r.Context(), r, v, f)
	s.render(w, r, v, http.StatusOK, "feed", page.Title.S, page)
}

// mainFigure is the field a feed's chart shows: its first numeric field
// that is not a key nor personal; nil if it has none.
func mainFigure(f *catalog.Feed) *catalog.Field {
	for i, fld := range f.Fields {
		if fld.Type.Numeric() && !fld.Personal && !slices.Contains(f.Key, fld.Name) {
			return &f.Fields[i]
		}
	}
	return nil
}

func (s *Server) feedData(ctx context.Context, r *http.Request, v *visit, f *catalog.Feed) *feedPage {
	fi := s.describe(ctx, []*catalog.Feed{f})[0]
	page := &feedPage{Title: localize(titleOf(f), v.lang), Description: localize(f.Descriptions, v.lang), Info: fi, Quality: qualityOf(fi), Open: f.Access == catalog.Open}
	var cols []string
	for _, fld := range api.PublicFields(f) {
		page.Fields = append(page.Fields, fieldRow{F: fld, Description: localize(fld.Descriptions, v.lang), Key: slices.Contains(f.Key, fld.Name), Event: fld.Name == f.EventTime})
		cols = append(cols, fld.Name)
	}
	now := s.cfg.API.Now()
	interval := time.Duration(fi.IntervalSeconds * float64(time.Second))
	var wg sync.WaitGroup
	if fi.LatestEventTime != nil {
		latest := *fi.LatestEventTime
		since := sqlTime(latest.Add(-2 * interval))
		wg.Go(func() {
			res, err := s.query(ctx, fi.Table, fmt.Sprintf("SELECT %s FROM %s WHERE %s >= %s ORDER BY %s DESC LIMIT 20",
				strings.Join(cols, ", "), fi.Table, f.EventTime, since, f.EventTime))
			if err != nil {
				s.cfg.Logger.Error("feed page: latest rows", "feed", f.Name, "err", err)
				return
			}
			page.Rows = res
			for _, row := range res.Rows {
				cells := make([]string, len(row))
				for i, c := range row {
					cells[i] = text(c)
				}
				page.Cells = append(page.Cells, cells)
			}
		})
		wg.Go(func() {
			res, err := s.query(ctx, fi.Table, fmt.Sprintf("SELECT argMax(%s, %s), argMax(%s, %s), max(%s), argMax(%s, %s) FROM %s WHERE %s >= %s",
				store.ColSource, store.ColFetchedAt, store.ColETag, store.ColFetchedAt, store.ColFetchedAt, store.ColSchemaVersion, store.ColFetchedAt,
				fi.Table, f.EventTime, since))
			if err != nil || len(res.Rows) == 0 {
				if err != nil {
					s.cfg.Logger.Error("feed page: provenance", "feed", f.Name, "err", err)
				}
				return
			}
			row := res.Rows[0]
			p := &provenance{Source: text(row[0]), ETag: text(row[1]), Version: text(row[3])}
			if t := timeOf(row[2]); !t.IsZero() && t.Unix() > 0 {
				p.FetchedAt = &t
			}
			page.Provenance = p
		})
	}
	if fig := mainFigure(f); fig != nil {
		page.Figure = fig.Name
		if fig.Unit != "" {
			page.Figure += " (" + fig.Unit + ")"
		}
		bucket := max(interval, time.Hour)
		from := now.Add(-24 * time.Hour)
		wg.Go(func() {
			secs := int64(bucket / time.Second)
			res, err := s.query(ctx, fi.Table, fmt.Sprintf("SELECT intDiv(toUInt32(%s), %d) * %d AS bucket_start, avg(%s) FROM %s WHERE %s >= %s AND %s < %s GROUP BY bucket_start ORDER BY bucket_start",
				f.EventTime, secs, secs, fig.Name, fi.Table, f.EventTime, sqlTime(from), f.EventTime, sqlTime(now)))
			if err != nil {
				s.cfg.Logger.Error("feed page: chart", "feed", f.Name, "err", err)
				return
			}
			var pts []point
			for _, row := range res.Rows {
				at, y := number(row[0]), number(row[1])
				if at != nil && y != nil {
					pts = append(pts, point{time.Unix(int64(*at), 0), *y})
				}
			}
			page.Chart = lineChart(pts, from, now, fig.Unit, fmt.Sprintf(msg(v.lang, "chartOf"), page.Figure))
		})
	}
	wg.Wait()
	base := baseURL(r)
	today := now.In(hongKong)
	page.From, page.To = today.AddDate(0, 0, -1).Format(time.DateOnly), today.Format(time.DateOnly)
	if page.Open {
		for _, format := range store.Formats {
			u := "/open/v1/feeds/" + f.Name + "/data?format=" + string(format)
			page.Downloads = append(page.Downloads, downloadLink{Format: string(format), URL: u,
				Curl: fmt.Sprintf("curl -o %s.%s '%s%s'", f.Table(), api.FileExtension(format), base, u)})
		}
	} else {
		body, _ := json.Marshal(api.QueryRequest{SQL: fmt.Sprintf("SELECT %s FROM %s WHERE %s >= now() - 86400", strings.Join(cols, ", "), fi.Table, f.EventTime), Format: "csv"})
		page.RestrictedQL = "POST /api/v1/query " + string(body)
		page.Curl = fmt.Sprintf("curl -H \"Authorization: Bearer $HIGHWAY_TOKEN\" -d '%s' %s/api/v1/query", body, base)
	}
	return page
}

// baseURL is the scheme and host the request came to, for examples.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// download turns the date range form into the open-data download: whole
// days in Hong Kong time, from the first date's midnight to the midnight
// after the second.
func (s *Server) download(w http.ResponseWriter, r *http.Request, v *visit) {
	f := s.cfg.API.ReadableFeed(nil, r.PathValue("feed"))
	if f == nil {
		s.notFound(w, r, v)
		return
	}
	q := r.URL.Query()
	from, err1 := time.ParseInLocation(time.DateOnly, q.Get("from"), hongKong)
	to, err2 := time.ParseInLocation(time.DateOnly, q.Get("to"), hongKong)
	format, err3 := store.ParseFormat(q.Get("format"))
	if err1 != nil || err2 != nil || err3 != nil || to.Before(from) {
		v.notice = msg(v.lang, "badDates")
		page := s.feedData(r.Context(), r, v, f)
		s.render(w, r, v, http.StatusBadRequest, "feed", page.Title.S, page)
		return
	}
	u := url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.AddDate(0, 0, 1).Format(time.RFC3339)}, "format": {string(format)}}
	http.Redirect(w, r, "/open/v1/feeds/"+f.Name+"/data?"+u.Encode(), http.StatusSeeOther)
}
