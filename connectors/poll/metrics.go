package poll

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Prometheus series of the polling connectors, by source.
// A nil *Metrics records nothing.
type Metrics struct {
	polls, failures, records, rejects, repeated *prometheus.CounterVec
	outcomes                                    *prometheus.CounterVec
	lastSuccess                                 *prometheus.GaugeVec
}

// NewMetrics creates the series and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	m := &Metrics{
		polls:    counter("highway_connector_polls_total", "Polls started, by source.", "source"),
		failures: counter("highway_connector_errors_total", "Polls that failed (fetch, status, unreadable payload, produce), by source.", "source"),
		outcomes: counter("highway_connector_poll_outcomes_total", "Successful polls by outcome: new, not_modified (304), unchanged (same content).", "source", "outcome"),
		records:  counter("highway_connector_records_total", "Records produced, by source.", "source"),
		rejects:  counter("highway_connector_rejects_total", "Items sent to dead-letter topics, by source.", "source"),
		repeated: counter("highway_connector_repeated_total", "Records dropped because an earlier poll published them, by source.", "source"),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "highway_connector_last_success_timestamp_seconds", Help: "Unix time of the last successful poll, by source.",
		}, []string{"source"}),
	}
	reg.MustRegister(m.polls, m.failures, m.outcomes, m.records, m.rejects, m.repeated, m.lastSuccess)
	return m
}

func (m *Metrics) poll(source string) {
	if m != nil {
		m.polls.WithLabelValues(source).Inc()
	}
}

func (m *Metrics) failed(source string) {
	if m != nil {
		m.failures.WithLabelValues(source).Inc()
	}
}

func (m *Metrics) rejected(source string, n int) {
	if m != nil {
		m.rejects.WithLabelValues(source).Add(float64(n))
	}
}

func (m *Metrics) succeeded(source string, out Outcome, now time.Time) {
	if m == nil {
		return
	}
	m.outcomes.WithLabelValues(source, out.Status).Inc()
	m.records.WithLabelValues(source).Add(float64(out.Records))
	m.repeated.WithLabelValues(source).Add(float64(out.Repeated))
	m.lastSuccess.WithLabelValues(source).Set(float64(now.Unix()))
}
