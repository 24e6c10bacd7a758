// Package api owns the HTTP API, the one door of the platform for people and
// tools: the feed catalogue with freshness, push ingestion, read-only SQL,
// open data, live tails of feeds, health, readiness, metrics, the audit log
// and the OpenAPI document of all of it.
//
// # Who may do what
//
// Every /api/ route but the OpenAPI document needs "Authorization: Bearer
// <token>"; tokens belong to departments (TokenFile). A department reads
// open feeds, its own feeds and the restricted feeds it is granted
// (catalog.Department); an admin department reads everything, including
// the audit log. Only a feed's owner pushes to it. A feed a caller may not
// read is answered as if it did not exist (404), so its name does not leak.
// The /open/ routes need no token and serve open feeds only, never a field
// marked personal.
//
// # Read-only SQL, three defences
//
//  1. sqlguard: one SELECT, every table readable by the caller, no table
//     functions, system tables, other databases, or functions that reach
//     tables by name.
//  2. ClickHouse's own readonly=1 and limits, sent with every query
//     (store.Limits): no writes, DDL, SET or table functions even if the
//     guard were wrong, and bounded time, rows, bytes and memory.
//  3. ClickHouse's own users and databases: the store keeps restricted
//     feeds' tables (and their window tables, and the results of jobs
//     that read them) and the audit log in a database of their own,
//     <database>_restricted (store.Layout). Open data, and every query
//     that reads no restricted table, run through Config.Querier, a
//     ClickHouse user whose allow_databases leaves that database out
//     (`highway serve --open-clickhouse`); only a query that reads a
//     restricted table the caller is granted (or, for an admin, the audit
//     log) runs through Config.RestrictedQuerier (--query-clickhouse). A
//     guard bug therefore cannot leak restricted rows or the audit log to
//     a caller without a grant: ClickHouse refuses them.
//
// Callers write open tables by name alone and restricted ones as
// <database>_restricted.table (the audit log too:
// <database>_restricted.highway_audit); GET /api/v1/me lists them so.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cityhighway/highway/highway/api/wire"
	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// Stats reads what ClickHouse holds of a feed: *store.Store.
type Stats interface {
	Stats(ctx context.Context, feed *catalog.Feed) (store.FeedStats, error)
}

// Querier runs read-only queries and streams their results: *store.Store.
type Querier interface {
	Query(ctx context.Context, sql string, lim store.Limits, f store.Format, w io.Writer) (store.QueryStats, error)
	QueryFeed(ctx context.Context, feed *catalog.Feed, columns []string, from, to time.Time, limit uint64, lim store.Limits, f store.Format, w io.Writer) (store.QueryStats, error)
}

// Producer writes pushed records and their rejects to Kafka: *bus.Producer.
type Producer interface {
	Produce(ctx context.Context, msgs ...bus.Message) error
	SendDeadLetters(ctx context.Context, msgs []bus.Message, reasons []string) error
}

// Tailer follows a topic from its end: *bus.Bus.
type Tailer interface {
	Tail(ctx context.Context, topic string, fn func(bus.Message) error) error
}

// Auditor records who did what: *store.AuditLog.
type Auditor interface {
	Record(e store.AuditEntry)
}

// TokenVerifier says which department a bearer token belongs to: *TokenFile.
type TokenVerifier interface {
	Verify(token string) (TokenInfo, bool)
}

// Check is a readiness check: a dependency and how to see that it answers.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// Config configures the server. Only Catalog is required; a route whose
// dependency is missing answers 503 saying so.
type Config struct {
	Catalog *catalog.Catalog
	Stats   Stats
	// Gatherer serves /metrics. Default prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	// Registerer receives the API's own metrics. Default: Gatherer when it
	// is also a Registerer (a *prometheus.Registry), else a private
	// registry served beside Gatherer.
	Registerer prometheus.Registerer

	// Quotas are the departments' quotas where their specs set none
	// (zero fields: DefaultQuotas).
	Quotas catalog.Quotas
	// Usage shares the departments' daily usage between API servers
	// (*store.UsageLog); without it each server counts its own.
	Usage UsageStore
	// UsageSync is how often usage is written and read. Default 10s.
	UsageSync time.Duration
	Logger    *slog.Logger
	// Now is the clock, for tests. Default time.Now.
	Now func() time.Time

	// Departments are added to the catalogue's (highway dev adds a demo
	// department this way). Owners of feeds that no spec declares are
	// departments without grants.
	Departments []*catalog.Department
	// Tokens verifies bearer tokens (*TokenFile, or the control plane's
	// *control.Replica). Without it every /api/ call is 401.
	Tokens TokenVerifier
	// Grants are the grants made at run time (the control plane's
	// *control.Replica), added to the specs' grants. A change applies at
	// once; a grant stops at its end.
	Grants GrantSource
	// Control writes access requests and their decisions to the control
	// plane (*control.Client) and Requests reads them (*control.Replica);
	// without both the access-request routes answer 503.
	Control  ControlWriter
	Requests RequestSource

	// Querier runs open-data downloads and the queries that read no
	// restricted table. In production it connects as a ClickHouse user
	// that cannot read the restricted database (see the package
	// documentation).
	Querier Querier
	// RestrictedQuerier runs the queries that read a restricted table,
	// which the guard lets through only for callers granted it; a user that
	// reads both databases. Default Querier.
	RestrictedQuerier Querier
	// Database is the default database of both queriers' connections,
	// where the open tables are; restricted tables are in
	// store.RestrictedDatabase(Database).
	Database string
	// AuditTable is the name of the audit log's table (store.AuditLog's
	// Table), which admin departments may query. It is in the restricted
	// database, so callers' SQL names it
	// store.RestrictedDatabase(Database).AuditTable and such queries run
	// through RestrictedQuerier. Default store.AuditTable.
	AuditTable string
	// QueryLimits bound each POST /api/v1/query. Default 30s, 1,000,000
	// rows, 512 MiB of result, 2 GiB of memory.
	QueryLimits store.Limits
	// OpenLimits bound each open-data download. Default 10 minutes and
	// 2 GiB of memory, no row limit (results stream).
	OpenLimits store.Limits

	// Ledger reads the quality ledger for the catalogue's scores and the
	// quality routes. Without it they have no score and answer 503.
	Ledger Ledger

	Producer Producer
	// Scheduler is the HTTP address of a scheduler node (highway schedule
	// --http-addr); the jobs and cluster routes are proxied there. Without
	// it they answer 503.
	Scheduler *url.URL
	// MaxPushBytes bounds a push body (413 beyond). Default 8 MiB.
	MaxPushBytes int64
	// MaxPushRecords bounds the records in one push (413 beyond).
	// Default 10000.
	MaxPushRecords int
	// PushKeys keeps pushes' Idempotency-Keys (*store.PushKeys). Without
	// it a push with the header is answered 503.
	PushKeys PushKeys
	// IdempotencySettle is how long a push that claims an Idempotency-Key
	// waits before it reads the claims back (see idempotency); it must
	// exceed 1 s plus the longest insert into PushKeys. Default 2s.
	IdempotencySettle time.Duration
	// IdempotencyWait is how long a push waits for another push with the
	// same Idempotency-Key to finish before answering 409. Default 10s.
	IdempotencyWait time.Duration

	Tail Tailer
	// LiveBuffer is how many records a live client may fall behind before
	// it is dropped. Default 256.
	LiveBuffer int

	Audit Auditor
	Ready []Check

	// TokenRate limits pushes and queries per token. Default 10/s, burst 20.
	TokenRate Rate
	// OpenRate limits open-data calls per client address. Default 5/s,
	// burst 10.
	OpenRate Rate
	// TrustForwardedFor takes the client address from the last entry of
	// X-Forwarded-For (set it only behind a proxy that appends it).
	TrustForwardedFor bool
}

// Server is the API's http.Handler. Close stops its live tails.
type Server struct {
	cfg     Config
	mux     *http.ServeMux
	routes  []route
	access  atomic.Pointer[accessControl]
	metrics *metrics
	tokenRL *limiter
	openRL  *limiter
	hub     *liveHub
	meter   *meter
	idem    *idempotency // nil without Config.PushKeys
	done    chan struct{}
}

// New returns the API server.
func New(cfg Config) *Server {
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.DefaultGatherer
	}
	if cfg.Registerer == nil {
		if r, ok := cfg.Gatherer.(prometheus.Registerer); ok {
			cfg.Registerer = r
		} else {
			reg := prometheus.NewRegistry()
			cfg.Registerer = reg
			cfg.Gatherer = prometheus.Gatherers{cfg.Gatherer, reg}
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RestrictedQuerier == nil {
		cfg.RestrictedQuerier = cfg.Querier
	}
	if cfg.AuditTable == "" {
		cfg.AuditTable = store.AuditTable
	}
	if cfg.QueryLimits == (store.Limits{}) {
		cfg.QueryLimits = store.Limits{MaxExecutionTime: 30 * time.Second, MaxResultRows: 1_000_000, MaxResultBytes: 512 << 20, MaxMemory: 2 << 30}
	}
	if cfg.OpenLimits == (store.Limits{}) {
		cfg.OpenLimits = store.Limits{MaxExecutionTime: 10 * time.Minute, MaxMemory: 2 << 30}
	}
	if cfg.MaxPushBytes <= 0 {
		cfg.MaxPushBytes = 8 << 20
	}
	if cfg.MaxPushRecords <= 0 {
		cfg.MaxPushRecords = 10000
	}
	if cfg.LiveBuffer <= 0 {
		cfg.LiveBuffer = 256
	}
	if cfg.TokenRate == (Rate{}) {
		cfg.TokenRate = Rate{PerSecond: 10, Burst: 20}
	}
	if cfg.OpenRate == (Rate{}) {
		cfg.OpenRate = Rate{PerSecond: 5, Burst: 10}
	}
	if cfg.UsageSync <= 0 {
		cfg.UsageSync = 10 * time.Second
	}
	if cfg.IdempotencySettle <= 0 {
		cfg.IdempotencySettle = 2 * time.Second
	}
	if cfg.IdempotencyWait <= 0 {
		cfg.IdempotencyWait = 10 * time.Second
	}
	s := &Server{
		cfg:     cfg,
		mux:     http.NewServeMux(),
		metrics: newMetrics(cfg.Registerer),
		tokenRL: newLimiter(cfg.TokenRate, cfg.Now),
		openRL:  newLimiter(cfg.OpenRate, cfg.Now),
		meter:   newMeter(cfg.Usage, cfg.Quotas, cfg.UsageSync, cfg.Now, cfg.Logger, cfg.Registerer),
		done:    make(chan struct{}),
	}
	s.access.Store(s.buildAccess(cfg.Now()))
	if cfg.Grants != nil {
		go s.followGrants(s.done)
	}
	s.hub = newLiveHub(cfg.Tail, cfg.LiveBuffer, cfg.Logger, s.metrics)
	if cfg.PushKeys != nil {
		s.idem = newIdempotency(cfg.PushKeys, cfg.IdempotencySettle, cfg.IdempotencyWait, cfg.Now, cfg.Logger)
	}
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		s.mux.Handle(rt.method+" "+rt.path, s.wrap(rt))
	}
	s.mux.Handle("/", s.wrap(route{method: "", path: "unmatched", auth: authNone, handle: s.notFound}))
	return s
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close ends every live tail; their clients' streams end.
func (s *Server) Close() {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	s.hub.close()
	s.meter.close()
}

// authKind says what a route needs of its caller.
type authKind int

const (
	authNone  authKind = iota // anyone
	authToken                 // a department's bearer token
)

// route is one entry of the API: the single table that registers handlers
// and renders the OpenAPI document, so the two cannot disagree.
type route struct {
	method, path string
	auth         authKind
	summary      string
	description  string
	tag          string
	params       []param
	// body names the request body's schema, if any.
	body string
	// ok is the success response: status, media types, schema.
	ok okResponse
	// errors are the error statuses the route answers with, and why.
	errors map[int]string
	handle func(w http.ResponseWriter, r *http.Request, who *principal)
	// scope is the token scope the route needs; the push route checks
	// push:<feed> itself.
	scope routeScope
	// reads marks the routes that return rows (query, download, live
	// tail): they count against the daily rows and bytes quotas.
	reads bool
}

// routeScope is what a route needs of a token's scopes.
type routeScope int

const (
	scopeRead    routeScope = iota // the read scope (the default)
	scopeAny                       // any valid token (GET /api/v1/me)
	scopePush                      // push:<the feed>, checked by the handler
	scopeAdminOf                   // read, and admin checked by the handler (deciding access requests)
)

type param struct {
	name, in, desc string
	required       bool
	enum           []string
}

type okResponse struct {
	status int
	types  []string
	schema string
	desc   string
}

// recorder records the status and size of a response, and copies the body
// into keep when it is set (a push with an Idempotency-Key keeps its
// response). It unwraps to the ResponseWriter, so http.ResponseController
// reaches its Flush.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	keep   *bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	if r.keep != nil {
		r.keep.Write(p[:n])
	}
	return n, err
}

// Unwrap returns the wrapped ResponseWriter.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// wrap adds to a route's handler what every route has: metrics, panic
// recovery, and authentication. A handler that cuts its response off
// (panic(http.ErrAbortHandler), see cutOff) is counted with the status it
// had sent, and as aborted, before the panic goes on to net/http, which
// closes the connection.
func (s *Server) wrap(rt route) http.Handler {
	label := strings.TrimSpace(rt.method + " " + rt.path)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		defer func() {
			p := recover()
			if p == http.ErrAbortHandler {
				s.metrics.observe(label, rec.status, true, time.Since(start))
				panic(p)
			}
			if p != nil {
				s.cfg.Logger.Error("API handler panicked", "route", label, "panic", p, "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeError(rec, http.StatusInternalServerError, "internal error", "this is a bug in highway; the server log has the details")
				}
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK // net/http sends 200 for a handler that wrote nothing
			}
			s.metrics.observe(label, status, false, time.Since(start))
		}()
		var who *principal
		if rt.auth == authToken {
			var ok bool
			if who, ok = s.authenticate(rec, r); !ok {
				return
			}
			if (rt.scope == scopeRead || rt.scope == scopeAdminOf) && !who.token.Has(ScopeRead) {
				writeError(rec, http.StatusForbidden, fmt.Sprintf("token %s may not read (its scopes: %s)", who.token.ID, strings.Join(who.token.ScopeList(), ", ")),
					"use a token with the read scope ('highway token create --scopes read,...')")
				return
			}
			s.meter.count(who.dept.Name, store.Usage{Requests: 1})
			if s.overQuota(rec, who, "requests_per_minute", 1) || rt.reads && s.overQuota(rec, who, "daily", 0) {
				return
			}
		}
		rt.handle(rec, r, who)
	})
}

// notFound answers unknown paths with 404 and known paths called with the
// wrong method with 405, both as JSON.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request, _ *principal) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path), "use "+strings.Join(allowed, " or "))
		return
	}
	writeError(w, http.StatusNotFound, "no route "+r.Method+" "+r.URL.Path, "GET /api/v1/openapi.json lists the routes")
}

// limited applies a rate limit to key, answering 429 with Retry-After when
// it is exceeded.
func (s *Server) limited(w http.ResponseWriter, l *limiter, key, what string) bool {
	ok, wait := l.allow(key)
	if ok {
		return false
	}
	secs := int((wait + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", fmt.Sprint(secs))
	s.metrics.rateLimited.WithLabelValues(what).Inc()
	writeError(w, http.StatusTooManyRequests, fmt.Sprintf("rate limit exceeded: at most %g requests per second %s", l.rate.PerSecond, what),
		fmt.Sprintf("retry after %d s", secs))
	return true
}

// clientAddr is the caller's IP address.
func (s *Server) clientAddr(r *http.Request) string {
	if s.cfg.TrustForwardedFor {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			parts := strings.Split(xff, ",")
			if ip := strings.TrimSpace(parts[len(parts)-1]); ip != "" {
				return ip
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// audit records an entry if an audit log is configured.
func (s *Server) audit(e store.AuditEntry) {
	s.meterAudited(e)
	if s.cfg.Audit != nil {
		if e.At.IsZero() {
			e.At = s.cfg.Now()
		}
		s.cfg.Audit.Record(e)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// errorBody is the body of every error (wire.ErrorBody, which the API's
// clients read).
type errorBody = wire.ErrorBody

// writeError answers with the API's error body.
func writeError(w http.ResponseWriter, status int, msg, hint string) {
	writeJSON(w, status, errorBody{Error: msg, Hint: hint})
}

// readJSON decodes a JSON body of at most limit bytes into v, strictly. It
// answers 413 or 400 itself and returns false when the body is unusable.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", limit), "send less at once")
			return false
		}
		writeError(w, http.StatusBadRequest, "the body is not valid JSON for this route: "+err.Error(), "see GET /api/v1/openapi.json for the body's schema")
		return false
	}
	return true
}
