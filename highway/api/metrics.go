package api

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the API's Prometheus series.
type metrics struct {
	requests      *prometheus.CounterVec
	aborted       *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	queryRejected *prometheus.CounterVec
	rateLimited   *prometheus.CounterVec
	pushed        *prometheus.CounterVec
	pushKeys      *prometheus.CounterVec
	liveClients   prometheus.Gauge
	liveDropped   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "highway_api_requests_total", Help: "HTTP requests answered, by route and status.",
		}, []string{"route", "status"}),
		aborted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "highway_api_requests_aborted_total",
			Help: "Responses cut off after their status went out (a csv or arrow result whose query failed late), by route and that status; highway_api_requests_total counts them too.",
		}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "highway_api_request_seconds", Help: "Time to answer a request (to the end of its body), by route.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"route"}),
		queryRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "highway_api_query_rejected_total", Help: "Queries refused before reaching ClickHouse, by reason (the SQL guard's code).",
		}, []string{"reason"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "highway_api_rate_limited_total", Help: "Requests answered 429, by limit.",
		}, []string{"limit"}),
		pushed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "highway_api_pushed_records_total", Help: "Records pushed, by feed and result (accepted or rejected).",
		}, []string{"feed", "result"}),
		pushKeys: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "highway_api_push_idempotency_total", Help: "Pushes with an Idempotency-Key, by outcome: run, replayed (the first response again), conflict (422: the key was used for another request), in_flight (409).",
		}, []string{"outcome"}),
		liveClients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "highway_api_live_clients", Help: "Clients following a live tail.",
		}),
		liveDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "highway_api_live_dropped_total", Help: "Live clients dropped for falling behind.",
		}),
	}
	reg.MustRegister(m.requests, m.aborted, m.latency, m.queryRejected, m.rateLimited, m.pushed, m.pushKeys, m.liveClients, m.liveDropped)
	return m
}

// observe counts a request answered with status after took, and among the
// aborted ones if its response was cut off (http.ErrAbortHandler). status
// 0 is a response aborted before anything went out, labelled "none".
func (m *metrics) observe(route string, status int, aborted bool, took time.Duration) {
	code := "none"
	if status != 0 {
		code = strconv.Itoa(status)
	}
	m.requests.WithLabelValues(route, code).Inc()
	if aborted {
		m.aborted.WithLabelValues(route, code).Inc()
	}
	m.latency.WithLabelValues(route).Observe(took.Seconds())
}
