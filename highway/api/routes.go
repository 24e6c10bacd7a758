package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cityhighway/highway/highway/store"
)

// The error statuses routes share, with why they happen.
var (
	errAuth = map[int]string{
		http.StatusUnauthorized: "no bearer token, or a token that is unknown, revoked or expired",
		http.StatusForbidden:    "the token's department is not declared, or the token lacks the scope the route needs (read; push:<feed> to push)",
	}
	errRate  = map[int]string{http.StatusTooManyRequests: "rate limit exceeded; the Retry-After header says when to retry"}
	errQuota = map[int]string{http.StatusTooManyRequests: "a quota of the department is used up (requests per minute, rows or bytes per day, pushed records per minute); Retry-After says when to retry"}
)

func merge(ms ...map[int]string) map[int]string {
	out := map[int]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

var feedParam = param{name: "feed", in: "path", required: true, desc: "the feed's name, e.g. td.traffic.detectors"}

// routeTable is every route of the API. New registers exactly these, and
// the OpenAPI document is rendered from exactly these.
func (s *Server) routeTable() []route {
	jsonOK := func(schema, desc string) okResponse {
		return okResponse{status: 200, types: []string{"application/json"}, schema: schema, desc: desc}
	}
	streamed := store.MediaTypes()
	return append([]route{
		{method: "GET", path: "/api/v1/feeds", auth: authToken, tag: "catalogue",
			summary:     "List the feeds you may read",
			description: "Every feed the caller may read (open ones, its own, those granted, or all for an admin), with schema, cadence, row count, latest event time, freshness and quality.",
			ok:          jsonOK("FeedList", "the feeds"), errors: errAuth, handle: s.listFeeds},
		{method: "GET", path: "/api/v1/feeds/{feed}", auth: authToken, tag: "catalogue",
			summary: "Describe one feed", params: []param{feedParam},
			ok:     jsonOK("FeedInfo", "the feed"),
			errors: merge(errAuth, map[int]string{404: "no such feed, or one you may not read"}), handle: s.getFeed},
		{method: "POST", path: "/api/v1/feeds/{feed}/records", auth: authToken, tag: "push",
			summary: "Push records to a feed you own",
			description: "A JSON array of records, or one record per line (NDJSON). Each record is checked against the feed's spec; good ones go to the feed's Kafka topic keyed by its key fields, bad ones to its dead-letter topic with the reason. 200 with a per-record report; 422 when every record was rejected. " +
				"With an Idempotency-Key header the push is safe to retry: the same key, feed and body (byte for byte) from the same department within 24 hours answer with the first response (its status and body, with the header Idempotent-Replayed: true) and write nothing again, also on another API server and while the first push is still running (the retry waits for it). A key pays about 2 s of latency on its first use (see the README).",
			params: []param{feedParam, {name: HeaderIdempotencyKey, in: "header", desc: "1 to 255 visible ASCII characters (a UUID), new for each new request; makes the push safe to retry for 24 h"}},
			body:   "Records", ok: jsonOK("PushReport", "the fate of each record"),
			errors: merge(errAuth, errRate, map[int]string{
				400: "the body is not JSON records, or the Idempotency-Key is not 1 to 255 visible ASCII characters", 403: "the caller does not own the feed", 404: "no such feed, or one you may not read",
				409: "a push with the same Idempotency-Key is still running after 10 s; retry later with the same key and body",
				413: "the body or the number of records is over the limit",
				422: "every record was rejected (a PushReport says why), or the Idempotency-Key was already used with another body or feed (an Error)",
				503: "Kafka is not accepting records, or the Idempotency-Key could not be checked (nothing was written)",
			}), handle: s.push, scope: scopePush},
		{method: "GET", path: "/api/v1/feeds/{feed}/live", auth: authToken, tag: "live",
			summary:     "Follow a feed's new records (Server-Sent Events)",
			description: "Streams each record as it reaches Kafka: 'event: record', the record's JSON as data, 'partition-offset' as id. A client that falls behind is dropped with a last 'event: error'.",
			params:      []param{feedParam},
			ok:          okResponse{status: 200, types: []string{"text/event-stream"}, desc: "the stream"},
			errors:      merge(errAuth, errQuota, map[int]string{404: "no such feed, or one you may not read", 503: "no Kafka configured"}), handle: s.live, reads: true},
		{method: "POST", path: "/api/v1/query", auth: authToken, tag: "query",
			summary:     "Run one read-only SQL query",
			description: "One SELECT (or WITH … SELECT) over the tables GET /api/v1/me lists (open tables by name alone, restricted ones as <database>_restricted.table; for admin departments also the audit log, <database>_restricted.highway_audit), run with ClickHouse's readonly=1 and limits on time, rows, bytes and memory. The result streams in the format asked: json, ndjson, csv or arrow (an Arrow IPC stream). If the query fails after the first rows went out (a limit reached, a runtime error), the status is already 200: json ends with an \"error\" member beside \"rows\", ndjson with a last line {\"error\": \"...\"}, and csv and arrow responses are cut off without their end (the connection closes before the last chunk), so clients see an incomplete transfer, never a result that looks complete.",
			body:        "QueryRequest", ok: okResponse{status: 200, types: streamed, desc: "the result"},
			errors: merge(errAuth, errRate, map[int]string{
				400: "the query was refused (reason, code and byte position), or ClickHouse refused it (its message)",
				413: "the body is over 1 MiB", 502: "ClickHouse is not answering", 503: "no ClickHouse configured", 504: "the query took too long",
			}), handle: s.query, reads: true},
		{method: "GET", path: "/api/v1/me", auth: authToken, tag: "catalogue",
			summary: "Who you are and what you may read", ok: jsonOK("Me", "the caller"), errors: errAuth, handle: s.me, scope: scopeAny},
		{method: "GET", path: "/api/v1/me/usage", auth: authToken, tag: "catalogue",
			summary:     "Your department's usage today and its quotas",
			description: "Requests, rows and bytes read (queries, downloads, live tails) and records pushed today (Hong Kong time, summed over every API server as of their last sync), and the department's quotas; a request over a quota is answered 429 with Retry-After and the quota's name.",
			ok:          jsonOK("Usage", "the usage"), errors: errAuth, handle: s.myUsage, scope: scopeAny},
		{method: "GET", path: "/api/v1/openapi.json", auth: authNone, tag: "operations",
			summary: "This document (no token needed)", ok: jsonOK("", "the OpenAPI 3 document"), handle: s.openapi},
		{method: "GET", path: "/open/v1/feeds", auth: authNone, tag: "open data",
			summary: "List the open feeds with their licence and data dictionary (no token)",
			ok:      jsonOK("OpenFeedList", "the open feeds"), errors: errRate, handle: s.openFeeds},
		{method: "GET", path: "/open/v1/feeds/{feed}", auth: authNone, tag: "open data",
			summary: "Describe one open feed (no token)", params: []param{feedParam},
			ok: jsonOK("OpenFeed", "the feed"), errors: merge(errRate, map[int]string{404: "no open feed of that name"}), handle: s.openFeedInfo},
		{method: "GET", path: "/open/v1/feeds/{feed}/data", auth: authNone, tag: "open data",
			summary:     "Download an open feed's rows in a time range (no token)",
			description: "Streams every row whose event time is in [from, to), in storage order, without personal fields. If the download fails after the first rows went out (a limit reached, a runtime error), the status is already 200: json ends with an \"error\" member beside \"rows\", ndjson with a last line {\"error\": \"...\"}, and csv and arrow responses are cut off without their end (the connection closes before the last chunk), so clients see an incomplete transfer, never a result that looks complete.",
			params:      append([]param{feedParam}, downloadParams...),
			ok:          okResponse{status: 200, types: streamed, desc: "the rows"},
			errors: merge(errRate, map[int]string{400: "a bad parameter", 404: "no open feed of that name",
				501: "as_of or changed_since on a server without them", 502: "ClickHouse is not answering", 503: "no ClickHouse configured"}), handle: s.openData},
		{method: "GET", path: "/healthz", auth: authNone, tag: "operations",
			summary: "The process is up", ok: jsonOK("", "up"), handle: s.healthz},
		{method: "GET", path: "/readyz", auth: authNone, tag: "operations",
			summary: "Kafka and ClickHouse answer", ok: jsonOK("Ready", "ready"),
			errors: map[int]string{503: "a dependency does not answer (the body says which)"}, handle: s.readyz},
		{method: "GET", path: "/metrics", auth: authNone, tag: "operations",
			summary: "Prometheus metrics", ok: okResponse{status: 200, types: []string{"text/plain"}, desc: "metrics"}, handle: s.promMetrics},
	}, append(append(s.jobRoutes(), s.qualityRoutes()...), s.accessRequestRoutes()...)...)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request, _ *principal) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// Ready is the body of /readyz.
type Ready struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ *principal) {
	out := Ready{Status: "ready", Checks: map[string]string{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range s.cfg.Ready {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
			defer cancel()
			res := "ok"
			if err := c.Check(ctx); err != nil {
				res = err.Error()
			}
			mu.Lock()
			out.Checks[c.Name] = res
			if res != "ok" {
				out.Status = "not ready"
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	status := http.StatusOK
	if out.Status != "ready" {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, out)
}

func (s *Server) promMetrics(w http.ResponseWriter, r *http.Request, _ *principal) {
	promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}
