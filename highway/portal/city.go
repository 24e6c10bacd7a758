package portal

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cityhighway/highway/highway/api"
	"github.com/cityhighway/highway/highway/catalog"
)

// layer is one figure of the city page: which feed it comes from and the
// query that reads its latest value per district (columns: district code,
// value, time of the latest observation).
type layer struct {
	key    string // the figure's message key and element id
	feed   string
	unit   string
	digits int
	sql    func(table string, interval time.Duration) string
}

// layers are the city page's figures, from the built-in feeds. Each reads
// only the latest observations, relative to the feed's latest event time
// (a subquery, so the figures and the freshness are read at once):
// detectors' last 5 minutes, the latest rainfall hour, each station's
// latest reading within an interval of the feed's latest (temperature averaged over a district's stations, AQHI the
// highest). Aliases differ from column names: on ClickHouse 18.16 an alias
// named like a column replaces the column in WHERE too.
var layers = []layer{
	{key: "speed", feed: "td.traffic.detectors", unit: "km/h", sql: func(t string, _ time.Duration) string {
		return "SELECT d, avg(v), max(at) FROM (SELECT assumeNotNull(district) AS d, assumeNotNull(speed) AS v, period_from AS at FROM " + t +
			" WHERE period_from >= (SELECT max(period_from) FROM " + t + ") - 300" +
			" AND valid = 1 AND ifNull(volume, 0) > 0 AND isNotNull(speed) AND isNotNull(district)) GROUP BY d ORDER BY d"
	}},
	{key: "rain", feed: "hko.weather.rainfall", unit: "mm", sql: func(t string, _ time.Duration) string {
		return "SELECT district, max(rain_max), max(end_time) FROM " + t + " WHERE end_time >= (SELECT max(end_time) FROM " + t + ")" +
			" AND isNotNull(rain_max) GROUP BY district ORDER BY district"
	}},
	{key: "temperature", feed: "hko.weather.temperature", unit: "°C", digits: 1, sql: func(t string, iv time.Duration) string {
		return "SELECT d, avg(v), max(at) FROM (SELECT argMax(assumeNotNull(district), record_time) AS d, argMax(temperature, record_time) AS v, max(record_time) AS at FROM " + t +
			" WHERE record_time > (SELECT max(record_time) FROM " + t + ") - " + seconds(iv) + " AND isNotNull(district) GROUP BY station) GROUP BY d ORDER BY d"
	}},
	{key: "aqhi", feed: "epd.aqhi.stations", sql: func(t string, iv time.Duration) string {
		return "SELECT d, max(v), max(at) FROM (SELECT argMax(assumeNotNull(district), publish_time) AS d, argMax(aqhi, publish_time) AS v, max(publish_time) AS at FROM " + t +
			" WHERE publish_time > (SELECT max(publish_time) FROM " + t + ") - " + seconds(iv) + " AND isNotNull(district) GROUP BY station) GROUP BY d ORDER BY d"
	}},
}

// seconds writes a duration as whole seconds for SQL.
func seconds(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }

// warningsFeed is the feed of the warnings in force.
const warningsFeed = "hko.weather.warnings"

// tilePlaces put the 18 districts on a grid roughly where they lie: the New
// Territories on top, Kowloon in the middle, Hong Kong Island below, the
// Islands to the west. Column, row.
var tilePlaces = []struct {
	code     string
	col, row int
}{
	{"TM", 1, 1}, {"YL", 2, 1}, {"N", 3, 1}, {"TP", 4, 1},
	{"TW", 1, 2}, {"KWT", 2, 2}, {"ST", 3, 2}, {"SK", 4, 2},
	{"SSP", 2, 3}, {"WTS", 3, 3}, {"KT", 4, 3},
	{"IS", 1, 4}, {"YTM", 2, 4}, {"KC", 3, 4},
	{"CW", 2, 5}, {"WC", 3, 5}, {"E", 4, 5},
	{"S", 3, 6},
}

// cityPage is the data of /.
type cityPage struct {
	At       time.Time
	Tiles    []tile
	Layers   []layerState
	Warnings []warning
	// WarningsFeed is the warnings' feed; nil when the public cannot read it.
	WarningsFeed *layerState
}

type tile struct {
	Code, Name string
	Col, Row   int
	// Values are the figures by layer key; nil where there is none.
	Values map[string]*float64
	// Risk is the AQHI health-risk class, for the tile's colour.
	Risk string
}

// layerState is a figure's feed and how fresh it is.
type layerState struct {
	Key, Unit string
	Digits    int
	Feed      string
	Title     localized
	Info      api.FeedInfo
	// Available is false when the feed is not in the catalogue or not
	// readable by the visitor; Error says why a query failed.
	Available bool
	Error     string
}

type warning struct {
	Family, Code, Name string
	Issued             *time.Time
}

func (s *Server) cityPage(w http.ResponseWriter, r *http.Request, v *visit) {
	page := s.city.get(viewKey(v), func() *cityPage { return s.cityData(r.Context(), v) })
	s.render(w, r, v, http.StatusOK, "city", msg(v.lang, "cityTitle"), page)
}

// cityData reads every layer's freshness, figures and the warnings,
// concurrently. A layer whose query fails is shown as unavailable with the
// error logged; the page still answers.
func (s *Server) cityData(ctx context.Context, v *visit) *cityPage {
	page := &cityPage{At: s.cfg.API.Now()}
	feeds := make([]*catalog.Feed, len(layers)+1)
	states := make([]layerState, len(layers)+1)
	for i, l := range layers {
		states[i] = layerState{Key: l.key, Unit: l.unit, Digits: l.digits, Feed: l.feed}
	}
	states[len(layers)] = layerState{Key: "warnings", Feed: warningsFeed}
	var readable []*catalog.Feed
	for i := range states {
		if f := s.cfg.API.ReadableFeed(v.dept, states[i].Feed); f != nil {
			states[i].Available = true
			states[i].Title = localize(titleOf(f), v.lang)
			feeds[i] = f
			readable = append(readable, f)
		}
	}
	values := map[string]map[string]*float64{} // district → layer → value
	var mu sync.Mutex
	var wg sync.WaitGroup
	var infos []api.FeedInfo
	wg.Go(func() { infos = s.describe(ctx, readable) })
	for i := range states {
		st := &states[i]
		if !st.Available {
			continue
		}
		table := s.cfg.API.Table(feeds[i])
		if i == len(layers) {
			wg.Go(func() {
				ws, err := s.warnings(ctx, table)
				if err != nil {
					s.cfg.Logger.Error("city page: reading warnings", "err", err)
					st.Error = err.Error()
				}
				page.Warnings = ws
			})
			continue
		}
		l, interval := layers[i], feeds[i].Interval
		wg.Go(func() {
			res, err := s.query(ctx, table, l.sql(table, interval))
			if err != nil {
				s.cfg.Logger.Error("city page: reading a figure", "figure", l.key, "err", err)
				st.Error = err.Error()
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, row := range res.Rows {
				d, _ := row[0].(string)
				if values[d] == nil {
					values[d] = map[string]*float64{}
				}
				values[d][l.key] = number(row[1])
			}
		})
	}
	wg.Wait()
	byFeed := map[string]api.FeedInfo{}
	for _, fi := range infos {
		byFeed[fi.Name] = fi
	}
	for i := range states {
		states[i].Info = byFeed[states[i].Feed]
	}
	for _, p := range tilePlaces {
		t := tile{Code: p.code, Name: s.cfg.DistrictName(p.code, v.lang), Col: p.col, Row: p.row, Values: values[p.code]}
		if t.Values == nil {
			t.Values = map[string]*float64{}
		}
		t.Risk = aqhiRisk(t.Values["aqhi"])
		page.Tiles = append(page.Tiles, t)
	}
	page.Layers = states[:len(layers)]
	if states[len(layers)].Available {
		page.WarningsFeed = &states[len(layers)]
	}
	return page
}

// warnings reads the warnings in force: per family, the latest change,
// unless it cancelled the warning.
func (s *Server) warnings(ctx context.Context, table string) ([]warning, error) {
	res, err := s.query(ctx, table, "SELECT family, argMax(code, update_time), argMax(name, update_time), argMax(action, update_time), argMax(issue_time, update_time) FROM "+
		table+" GROUP BY family ORDER BY family")
	if err != nil {
		return nil, err
	}
	var out []warning
	for _, row := range res.Rows {
		if action, _ := row[3].(string); action == "CANCEL" {
			continue
		}
		w := warning{Family: text(row[0]), Code: text(row[1]), Name: text(row[2])}
		if t := timeOf(row[4]); !t.IsZero() {
			w.Issued = &t
		}
		out = append(out, w)
	}
	return out, nil
}

// aqhiRisk is the EPD's health-risk class of an AQHI value.
func aqhiRisk(v *float64) string {
	switch {
	case v == nil:
		return "none"
	case *v <= 3:
		return "low"
	case *v <= 6:
		return "moderate"
	case *v <= 7:
		return "high"
	case *v <= 10:
		return "veryhigh"
	}
	return "serious"
}

// titleOf is a feed's title, or its name when the spec gives none.
func titleOf(f *catalog.Feed) catalog.Text {
	if len(f.Title) > 0 {
		return f.Title
	}
	return catalog.Text{catalog.English: f.Name}
}

// percent writes a share from 0 to 1 as a whole percentage.
func percent(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", *v*100)
}
