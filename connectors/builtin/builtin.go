// Package builtin is the registry of the built-in sources: the real Hong
// Kong endpoints the platform polls, each with its cadence, the feeds it
// feeds and the parser that reads it (one line per source in the table
// below). It also keeps the reference data a parser needs — TD's detector
// location list, which gives every detector its district — and turns the
// connector specs of a catalogue (kind: connector, read by httppoll) into
// sources beside the built-in ones, so `highway connect` and `highway dev`
// run both alike.
package builtin

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cityhighway/highway/connectors/connector"
	"github.com/cityhighway/highway/connectors/epd"
	"github.com/cityhighway/highway/connectors/hko"
	"github.com/cityhighway/highway/connectors/httppoll"
	"github.com/cityhighway/highway/connectors/poll"
	"github.com/cityhighway/highway/connectors/td"
	"github.com/cityhighway/highway/highway/catalog"
)

// hkoAPI is the Hong Kong Observatory's open-data endpoint; lang=en keys
// records on the English place names.
const hkoAPI = "https://data.weather.gov.hk/weatherAPI/opendata/weather.php?lang=en&dataType="

// LocationsURL is TD's detector location list (reference data, changed a few
// times a year): fetched when the connectors start and every
// LocationsRefresh after.
const LocationsURL = "https://static.data.gov.hk/td/traffic-data-strategic-major-roads/info/traffic_speed_volume_occ_info.csv"

// LocationsRefresh is how often the detector location list is fetched again.
const LocationsRefresh = 24 * time.Hour

// parseFunc reads one payload of a source; ref holds the reference data.
type parseFunc func(payload []byte, fetched time.Time, ref *Registry) (connector.Result, error)

// Def is one built-in source as the table declares it.
type Def struct {
	// Name identifies the source in logs, metrics and its state file.
	Name string
	// URL is the real endpoint.
	URL string
	// Interval is how often the source publishes (its feeds' cadence).
	Interval time.Duration
	// Feeds are the feeds its parser makes records of.
	Feeds []string
	parse parseFunc
}

// table is the registry of built-in sources, one line each. Intervals are
// the cadence of the source (the feeds' declared interval; a test holds them
// together).
var table = []Def{
	{"hko.rhrread", hkoAPI + "rhrread", time.Hour, []string{hko.FeedTemperature, hko.FeedRainfall, hko.FeedHumidity, hko.FeedUV}, payloadOnly(hko.ParseRhrread)},
	{"hko.warnsum", hkoAPI + "warnsum", 5 * time.Minute, []string{hko.FeedWarnings}, payloadOnly(hko.ParseWarnsum)},
	{"hko.fnd", hkoAPI + "fnd", 12 * time.Hour, []string{hko.FeedForecast}, payloadOnly(hko.ParseForecast)},
	{"td.rawspeedvol", "https://resource.data.one.gov.hk/td/traffic-detectors/rawSpeedVol-all.xml", time.Minute, []string{td.FeedDetectors}, parseDetectors},
	{"td.irnavgspeed", "https://resource.data.one.gov.hk/td/traffic-detectors/irnAvgSpeed-all.xml", 2 * time.Minute, []string{td.FeedSegments}, payloadOnly(td.ParseSegments)},
	{"td.journeytime", "https://resource.data.one.gov.hk/td/jss/Journeytimev2.xml", 2 * time.Minute, []string{td.FeedJourneyTimes}, payloadOnly(td.ParseJourneyTimes)},
	{"epd.aqhi", "https://www.aqhi.gov.hk/epd/ddata/html/out/aqhi_ind_rss_Eng.xml", time.Hour, []string{epd.FeedAQHI}, payloadOnly(epd.ParseAQHI)},
	{"epd.24pc", "https://www.aqhi.gov.hk/epd/ddata/html/out/24pc_Eng.xml", time.Hour, []string{epd.FeedPollutants}, payloadOnly(epd.ParsePollutants)},
}

// Defs returns the table of built-in sources. The caller may not modify it.
func Defs() []Def { return table }

func payloadOnly(parse func([]byte) (connector.Result, error)) parseFunc {
	return func(payload []byte, _ time.Time, _ *Registry) (connector.Result, error) { return parse(payload) }
}

// parseDetectors reads rawSpeedVol-all.xml with the detector locations
// loaded so far (none before the first load: records then have no district).
func parseDetectors(payload []byte, fetched time.Time, r *Registry) (connector.Result, error) {
	return td.ParseDetectors(payload, fetched, r.Locations())
}

// Options configure the sources a Registry returns.
type Options struct {
	// BaseURL, when set, replaces the scheme and host of every source's URL
	// (built-in and connector specs alike, and the detector location list),
	// keeping path and query: point every source at a simulator or a test
	// server. Default: the real endpoints.
	BaseURL string
	// Speed divides every interval, for the simulator of `highway dev`; an
	// interval never drops below one second. Default 1.
	Speed float64
	// Client fetches reference data. Default one with a 30s timeout.
	Client *http.Client
	// Logger, default slog.Default().
	Logger *slog.Logger
}

// Registry hands out the built-in sources and keeps their reference data.
// It is safe for concurrent use: parsers read the latest location list
// while RunReference replaces it.
type Registry struct {
	opts Options
	base *url.URL
	locs atomic.Pointer[td.Locations]
}

// New returns a registry with the given options; a BaseURL that is not an
// absolute http(s) URL is an error.
func New(opts Options) (*Registry, error) {
	if opts.Speed <= 0 {
		opts.Speed = 1
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	r := &Registry{opts: opts}
	if opts.BaseURL != "" {
		u, err := url.Parse(opts.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("base URL %q is not an absolute http(s) URL such as http://127.0.0.1:8099", opts.BaseURL)
		}
		r.base = u
	}
	return r, nil
}

// URL returns raw with its scheme and host replaced by the base URL's (and
// the base URL's path, if any, put before its path); raw itself without a
// base URL.
func (r *Registry) URL(raw string) string {
	if r.base == nil {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Scheme, u.Host, u.User = r.base.Scheme, r.base.Host, nil
	u.Path = strings.TrimSuffix(r.base.Path, "/") + u.Path
	u.RawPath = ""
	return u.String()
}

func (r *Registry) interval(d time.Duration) time.Duration {
	return max(time.Duration(float64(d)/r.opts.Speed), time.Second)
}

// Sources returns every built-in source (Builtin), then one per connector
// spec of cat (Specs).
func (r *Registry) Sources(cat *catalog.Catalog) []poll.Source {
	return append(r.Builtin(), r.Specs(cat)...)
}

// Builtin returns the built-in sources, in the order of the table.
func (r *Registry) Builtin() []poll.Source {
	out := make([]poll.Source, 0, len(table))
	for _, d := range table {
		parse := d.parse
		out = append(out, poll.Source{
			Name:     d.Name,
			URL:      r.URL(d.URL),
			Interval: r.interval(d.Interval),
			Feeds:    slices.Clone(d.Feeds),
			Parse:    func(p []byte, fetched time.Time) (connector.Result, error) { return parse(p, fetched, r) },
		})
	}
	return out
}

// Specs returns a source per connector spec of cat (kind: connector, parsed
// by httppoll), sorted by name; none when cat is nil. A catalogue only
// holds connector specs whose feed it has.
func (r *Registry) Specs(cat *catalog.Catalog) []poll.Source {
	if cat == nil {
		return nil
	}
	var out []poll.Source
	for _, c := range cat.Connectors() {
		src := httppoll.Source(c, cat.Feed(c.Feed))
		src.URL = r.URL(src.URL)
		src.Interval = r.interval(src.Interval)
		out = append(out, src)
	}
	return out
}

// Select keeps the sources that make records of the given feeds, each
// narrowed to those feeds (its parser's records and rejects of other feeds
// are dropped); with no feeds it returns sources as they are. A feed no
// source makes is an error that lists the feeds that have one.
func Select(sources []poll.Source, feeds ...string) ([]poll.Source, error) {
	if len(feeds) == 0 {
		return sources, nil
	}
	var out []poll.Source
	covered := map[string]bool{}
	for _, src := range sources {
		var keep []string
		for _, f := range src.Feeds {
			if slices.Contains(feeds, f) {
				keep = append(keep, f)
				covered[f] = true
			}
		}
		if len(keep) == 0 {
			continue
		}
		if len(keep) < len(src.Feeds) {
			src = narrow(src, keep)
		}
		out = append(out, src)
	}
	for _, f := range feeds {
		if !covered[f] {
			return nil, fmt.Errorf("no connector makes records of feed %q; feeds with a connector: %s", f, strings.Join(Covered(sources), ", "))
		}
	}
	return out, nil
}

// Covered lists the feeds the sources make records of, sorted.
func Covered(sources []poll.Source) []string {
	var out []string
	for _, src := range sources {
		for _, f := range src.Feeds {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	slices.Sort(out)
	return out
}

// narrow returns src making records of keep only.
func narrow(src poll.Source, keep []string) poll.Source {
	parse := src.Parse
	src.Feeds = keep
	src.Parse = func(p []byte, fetched time.Time) (connector.Result, error) {
		res, err := parse(p, fetched)
		var out connector.Result
		for _, rec := range res.Records {
			if slices.Contains(keep, rec.Feed) {
				out.Records = append(out.Records, rec)
			}
		}
		for _, rj := range res.Rejects {
			if slices.Contains(keep, rj.Feed) {
				out.Rejects = append(out.Rejects, rj)
			}
		}
		return out, err
	}
	return src
}
