// Package portal is the city's open-data portal and city dashboard: pages
// for people with nothing but a browser, a second door beside highway/api
// on the same listener.
//
//   - /            the city now: traffic speed, rainfall, temperature and
//     AQHI per district on a tile map of the 18 districts, the warnings in
//     force, each with its feed's freshness; the figures refresh by
//     themselves (polling /city.json) where JavaScript runs
//   - /feeds       the catalogue, searchable by text, department, field and
//     access
//   - /feeds/{feed} a feed's data dictionary, provenance, a chart of its
//     main figure over 24 hours, its latest rows, downloads and API calls
//   - /jobs        the analytics jobs and their latest open results
//   - /access      a signed-in department's access requests and those for
//     its feeds, with approve and refuse; a restricted feed's page asks
//     for access (access.go)
//   - /api/3/action/... the CKAN subset DATA.GOV.HK serves (package_list,
//     package_show, group_list, group_show), also at /api/action/...
//   - /catalog.jsonld and /feeds/{feed}.jsonld: DCAT-AP as JSON-LD
//
// Everything else (/api/v1/, /open/, /healthz, /readyz, /metrics) goes to
// the API. Pages are Go templates rendered on the server, with the CSS,
// the little JavaScript and the charts (SVG, drawn here) embedded in the
// binary; they read without JavaScript.
//
// # Who sees what
//
// The portal answers with the API's own access rules (api.Server's
// SignIn, Readable, JobResults, QuerierFor): visitors see open feeds
// only, and a restricted feed does not appear at all, as if it did not
// exist. A department signs in with its API token, which the portal keeps
// in a cookie (HttpOnly, SameSite=Strict, Secure when served over TLS);
// each request checks the token again, so a revoked token is signed out
// at its next page. Every form that changes anything (sign-in, sign-out, access requests)
// carries a CSRF token, and cross-origin POSTs are refused. Access requests
// go through the API's own routes, called in process with the session's
// token (access.go).
//
// # Languages
//
// English and Traditional Chinese (catalog.Languages): the pages' own text
// is in messages.go, feed titles and descriptions come from the specs
// (catalog.Text). ?lang= switches and is remembered in a cookie; otherwise
// Accept-Language decides.
package portal

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/cityhighway/highway/highway/api"
	"github.com/cityhighway/highway/highway/catalog"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config configures the portal. API is required.
type Config struct {
	// API is the API server: the portal shares its access rules and
	// queriers and hands it every request that is not the portal's.
	API *api.Server
	// Logger receives errors of pages. Default slog.Default().
	Logger *slog.Logger
	// DistrictName names a district code in a language, e.g. ("CW", "en")
	// → "Central and Western". Default: the code itself.
	DistrictName func(code, lang string) string
	// Refresh is how often the city page polls for new figures. Default 30s.
	Refresh time.Duration
}

// Server is the portal's http.Handler.
type Server struct {
	cfg    Config
	mux    *http.ServeMux
	pages  map[string]*template.Template
	static http.Handler
	cop    *http.CrossOriginProtection
	// infos keeps feeds' catalogue entries, city and jobsCache the city's
	// and the jobs' pages per visitor's view and language, each for cacheTTL.
	infos     *ttlCache[api.FeedInfo]
	city      *ttlCache[*cityPage]
	jobsCache *ttlCache[jobsPage]
}

// hongKong is Hong Kong time, the catalog's default zone, in which pages
// show times.
var hongKong = catalog.DefaultLocation()

// New returns the portal, or an error if its embedded templates are broken
// (a test rules that out).
func New(cfg Config) (*Server, error) {
	if cfg.API == nil {
		return nil, fmt.Errorf("portal: no API server")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DistrictName == nil {
		cfg.DistrictName = func(code, _ string) string { return code }
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 30 * time.Second
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), cop: http.NewCrossOriginProtection(),
		infos: newTTLCache[api.FeedInfo](cfg.API.Now), city: newTTLCache[*cityPage](cfg.API.Now),
		jobsCache: newTTLCache[jobsPage](cfg.API.Now)}
	var err error
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("portal: static files: %w", err)
	}
	s.static = http.StripPrefix("/static/", http.FileServerFS(sub))
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	page := func(pattern string, h func(w http.ResponseWriter, r *http.Request, v *visit)) {
		s.mux.Handle(pattern, s.cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h(w, r, s.visitOf(w, r))
		})))
	}
	page("GET /{$}", s.cityPage)
	page("GET /feeds", s.feeds)
	page("GET /feeds/{feed}", s.feed)
	page("GET /feeds/{feed}/download", s.download)
	page("GET /jobs", s.jobs)
	page("POST /feeds/{feed}/access-request", s.requestAccess)
	page("GET /access", s.accessList)
	page("POST /access/{id}/approve", s.decide("approve"))
	page("POST /access/{id}/refuse", s.decide("refuse"))
	page("GET /signin", s.signInForm)
	page("POST /signin", s.signIn)
	page("POST /signout", s.signOut)
	page("GET /catalog.jsonld", s.catalogJSONLD)
	s.mux.HandleFunc("GET /static/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		s.static.ServeHTTP(w, r)
	})
	for _, prefix := range []string{"/api/3/action/{action}", "/api/action/{action}"} {
		s.mux.HandleFunc("GET "+prefix, s.ckan)
		s.mux.HandleFunc("POST "+prefix, s.ckan)
	}
	for _, p := range []string{"/api/", "/open/", "/healthz", "/readyz", "/metrics"} {
		s.mux.Handle(p, s.cfg.API)
	}
	page("/", s.notFound)
}

// ServeHTTP serves the portal, and the API under its own paths.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close closes the API server behind the portal (its live tails).
func (s *Server) Close() { s.cfg.API.Close() }

// Catalog is the catalogue the portal shows.
func (s *Server) catalog() *catalog.Catalog { return s.cfg.API.Catalog() }
