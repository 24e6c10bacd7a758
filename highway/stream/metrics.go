package stream

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Prometheus series of the processors of one process. A nil
// *Metrics records nothing.
type Metrics struct {
	rowsIn      *prometheus.CounterVec
	rowsWritten *prometheus.CounterVec
	rejects     *prometheus.CounterVec
	retries     *prometheus.CounterVec
	batchRows   *prometheus.HistogramVec
	batchTime   *prometheus.HistogramVec
}

// NewMetrics creates the processors' series and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		rowsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "highway_processor_records_in_total", Help: "Records read from Kafka, by feed.",
		}, []string{"feed"}),
		rowsWritten: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "highway_processor_rows_written_total", Help: "Rows inserted into ClickHouse, by feed.",
		}, []string{"feed"}),
		rejects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "highway_processor_rejects_total", Help: "Records sent to the dead-letter topic, by feed and field.",
		}, []string{"feed", "field"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "highway_processor_retries_total", Help: "Retries after a failure of Kafka or ClickHouse, by feed and operation.",
		}, []string{"feed", "operation"}),
		batchRows: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "highway_processor_batch_records", Help: "Records per micro-batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}, []string{"feed"}),
		batchTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "highway_processor_batch_seconds", Help: "Time to decode, dead-letter and insert one micro-batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"feed"}),
	}
	reg.MustRegister(m.rowsIn, m.rowsWritten, m.rejects, m.retries, m.batchRows, m.batchTime)
	return m
}

func (m *Metrics) batch(feed string, in, written int, took time.Duration) {
	if m == nil {
		return
	}
	m.rowsIn.WithLabelValues(feed).Add(float64(in))
	m.rowsWritten.WithLabelValues(feed).Add(float64(written))
	m.batchRows.WithLabelValues(feed).Observe(float64(in))
	m.batchTime.WithLabelValues(feed).Observe(took.Seconds())
}

func (m *Metrics) rejected(feed string, reasons []string) {
	if m == nil {
		return
	}
	for _, r := range reasons {
		m.rejects.WithLabelValues(feed, fieldOf(r)).Inc()
	}
}

func (m *Metrics) retry(feed, op string) {
	if m == nil {
		return
	}
	m.retries.WithLabelValues(feed, op).Inc()
}

// fieldOf extracts the field from a reject reason ("field speed: ...") so the
// label's cardinality stays bounded by the feed's fields.
func fieldOf(reason string) string {
	const prefix = "field "
	if len(reason) > len(prefix) && reason[:len(prefix)] == prefix {
		rest := reason[len(prefix):]
		for i := 0; i < len(rest); i++ {
			if rest[i] == ':' {
				return rest[:i]
			}
		}
	}
	return "(record)"
}
