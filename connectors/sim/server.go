package sim

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// ServerConfig configures the HTTP simulator.
type ServerConfig struct {
	// Speed makes every payload change this many times more often than its
	// source publishes (an hourly report every minute at 60); a payload
	// never changes more often than every second. Times in the payloads
	// stay those of the clock. Default 1.
	Speed float64
	// BadShare is the share of items (a station, a lane, a block) made
	// malformed or out of range on purpose, so that the rejects and the
	// dead-letter topics are exercised. Default 0.002; negative disables.
	BadShare float64
	// Seed makes payloads repeatable: the same seed, path and publication
	// time give the same bytes. Default 1.
	Seed uint64
	// Detectors is how many traffic detectors the TD files list. Default
	// 120 (the real file has about 760).
	Detectors int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Server serves every built-in source's payload in its real format, at the
// real URL paths (so a connector's --base-url can point at it), with values
// that follow the city's daily rhythms:
//
//	/weatherAPI/opendata/weather.php?dataType=rhrread|warnsum|fnd   HKO JSON
//	/td/traffic-detectors/rawSpeedVol-all.xml                        TD detectors
//	/td/traffic-detectors/irnAvgSpeed-all.xml                        TD segments
//	/td/jss/Journeytimev2.xml                                        TD journey times
//	/td/traffic-data-strategic-major-roads/info/traffic_speed_volume_occ_info.csv   detector locations
//	/epd/ddata/html/out/aqhi_ind_rss_Eng.xml                         EPD AQHI RSS
//	/epd/ddata/html/out/24pc_Eng.xml                                 EPD pollutants
//
// A payload is published at the start of each period of its source's
// cadence (divided by Speed) and stays the same bytes until the next one,
// with an ETag and Last-Modified, so conditional GETs get 304 and the
// runtime's content hash sees "unchanged" as with the real sources. The
// payloads carry the real formats' quirks (HTML-escaped place names, UV ""
// at night, speed placeholders when no vehicle passed, "-" for a missing
// reading, a BOM before the AQHI RSS and the location CSV, local times
// without an offset...). It is safe for concurrent use.
type Server struct {
	cfg ServerConfig
}

// NewServer returns an HTTP simulator.
func NewServer(cfg ServerConfig) *Server {
	defaultShape(&cfg.Speed, &cfg.BadShare, &cfg.Seed)
	if cfg.Detectors <= 0 {
		cfg.Detectors = 120
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Server{cfg: cfg}
}

// route is one simulated source: its URL path (and HKO's dataType), its
// cadence, and the payload at a publication time.
type route struct {
	path, dataType string
	cadence        time.Duration
	contentType    string
	payload        func(g *gen) []byte
}

// routes are the simulated sources, one line each.
var routes = []route{
	{hkoPath, "rhrread", time.Hour, jsonType, (*gen).rhrread},
	{hkoPath, "warnsum", 5 * time.Minute, jsonType, (*gen).warnsum},
	{hkoPath, "fnd", 12 * time.Hour, jsonType, (*gen).forecast},
	{"/td/traffic-detectors/rawSpeedVol-all.xml", "", time.Minute, xmlType, (*gen).detectors},
	{"/td/traffic-detectors/irnAvgSpeed-all.xml", "", 2 * time.Minute, xmlType, (*gen).segments},
	{"/td/jss/Journeytimev2.xml", "", 2 * time.Minute, xmlType, (*gen).journeyTimes},
	{locationsPath, "", 0, "text/csv; charset=utf-8", (*gen).locations},
	{"/epd/ddata/html/out/aqhi_ind_rss_Eng.xml", "", time.Hour, xmlType, (*gen).aqhiRSS},
	{"/epd/ddata/html/out/24pc_Eng.xml", "", time.Hour, xmlType, (*gen).pollutants},
}

const (
	hkoPath       = "/weatherAPI/opendata/weather.php"
	locationsPath = "/td/traffic-data-strategic-major-roads/info/traffic_speed_volume_occ_info.csv"
	jsonType      = "application/json; charset=utf-8"
	xmlType       = "text/xml; charset=utf-8"
)

// Paths lists the URL paths (with HKO's dataType query) the server serves.
func Paths() []string {
	out := make([]string, len(routes))
	for i, r := range routes {
		out[i] = r.path
		if r.dataType != "" {
			out[i] += "?dataType=" + r.dataType
		}
	}
	return out
}

// ServeHTTP serves the payload of the source at the request's path as it
// was last published.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "GET only", http.StatusMethodNotAllowed)
		return
	}
	target := r.URL.Path
	if dt := r.URL.Query().Get("dataType"); dt != "" {
		target += "?dataType=" + dt
	}
	body, published, contentType, err := s.Payload(target, s.cfg.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("ETag", fmt.Sprintf(`"%x-%x"`, published.Unix(), len(body)))
	http.ServeContent(w, r, "", published, bytes.NewReader(body))
}

// Payload returns the payload of the source at target (a path, with
// "?dataType=..." for HKO) as published last before now: its bytes, its
// publication time and its content type.
func (s *Server) Payload(target string, now time.Time) ([]byte, time.Time, string, error) {
	path, dataType, _ := strings.Cut(target, "?dataType=")
	for i, rt := range routes {
		if rt.path != path || rt.dataType != dataType {
			continue
		}
		published := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // reference data changes rarely
		if rt.cadence > 0 {
			published = now.Truncate(s.step(rt.cadence))
		}
		g := &gen{
			at:         published,
			step:       s.step(rt.cadence),
			rng:        rand.New(rand.NewPCG(s.cfg.Seed+uint64(i), uint64(published.UnixNano()))),
			bad:        s.cfg.BadShare,
			nDetectors: s.cfg.Detectors,
		}
		return rt.payload(g), published, rt.contentType, nil
	}
	return nil, time.Time{}, "", fmt.Errorf("the simulator serves no %s; it serves %s", target, strings.Join(Paths(), ", "))
}

// step is how often a source of the given cadence publishes at the
// configured speed.
func (s *Server) step(cadence time.Duration) time.Duration {
	return max(time.Duration(float64(cadence)/s.cfg.Speed), time.Second).Truncate(time.Second)
}

// gen writes one payload.
type gen struct {
	at         time.Time     // publication time
	step       time.Duration // time between publications
	rng        *rand.Rand
	bad        float64
	nDetectors int
	buf        bytes.Buffer
}

// spoil reports whether to make the next item bad.
func (g *gen) spoil() bool { return g.bad > 0 && g.rng.Float64() < g.bad }

// hour is the Hong Kong hour of day of t as a fraction.
func (g *gen) hour(t time.Time) float64 { return hour(t) }

func (g *gen) printf(format string, args ...any) { fmt.Fprintf(&g.buf, format, args...) }
