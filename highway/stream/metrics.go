package stream

import (
	"strconv"
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
	duplicates  *prometheus.CounterVec
	landed      *prometheus.CounterVec
	lags        *prometheus.GaugeVec
	watermarks  *prometheus.GaugeVec
	firings     *prometheus.CounterVec
	waiting     *prometheus.GaugeVec
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
	m.duplicates = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "highway_processor_duplicates_total", Help: "Records dropped as duplicates (same key and event time), by feed.",
	}, []string{"feed"})
	m.landed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "highway_processor_rows_already_landed_total", Help: "Rows left out of an insert because ClickHouse already held them (an insert that landed in part, retried or resumed), by feed.",
	}, []string{"feed"})
	m.lags = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "highway_processor_partition_lag", Help: "Records of a claimed partition not yet written (Kafka's end as of the last fetch less the offset after the last batch written), by feed and partition; a partition is dropped when its claim ends.",
	}, []string{"feed", "partition"})
	m.watermarks = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "highway_window_watermark_delay_seconds", Help: "Wall-clock time minus the window's watermark, by feed and window.",
	}, []string{"feed", "window"})
	m.firings = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "highway_window_firings_total", Help: "Window computations, by feed, window and kind (on time or correction).",
	}, []string{"feed", "window", "kind"})
	m.waiting = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "highway_processor_waiting", Help: "1 while a processor waits for Kafka or ClickHouse to recover, by feed and operation.",
	}, []string{"feed", "operation"})
	reg.MustRegister(m.rowsIn, m.rowsWritten, m.rejects, m.retries, m.batchRows, m.batchTime,
		m.duplicates, m.landed, m.lags, m.watermarks, m.firings, m.waiting)
	return m
}

func (m *Metrics) duplicate(feed string) {
	if m == nil {
		return
	}
	m.duplicates.WithLabelValues(feed).Inc()
}

func (m *Metrics) alreadyLanded(feed string, rows int) {
	if m == nil {
		return
	}
	m.landed.WithLabelValues(feed).Add(float64(rows))
}

func (m *Metrics) lag(feed string, partition int, lag int64) {
	if m == nil || lag < 0 {
		return
	}
	m.lags.WithLabelValues(feed, strconv.Itoa(partition)).Set(float64(lag))
}

// forgetLag drops the lag of a partition whose claim ended, so that the
// sum over partitions counts only those claimed.
func (m *Metrics) forgetLag(feed string, partition int) {
	if m == nil {
		return
	}
	m.lags.DeleteLabelValues(feed, strconv.Itoa(partition))
}

func (m *Metrics) watermark(feed, window string, wm time.Time) {
	if m == nil || wm.IsZero() {
		return
	}
	m.watermarks.WithLabelValues(feed, window).Set(time.Since(wm).Seconds())
}

func (m *Metrics) fired(feed, window string, f Firing) {
	if m == nil {
		return
	}
	if f.To.After(f.From) {
		m.firings.WithLabelValues(feed, window, "on_time").Inc()
	}
	if len(f.Again) > 0 {
		m.firings.WithLabelValues(feed, window, "correction").Add(float64(len(f.Again)))
	}
}

func (m *Metrics) wait(feed, op string, waiting bool) {
	if m == nil {
		return
	}
	v := 0.0
	if waiting {
		v = 1
	}
	m.waiting.WithLabelValues(feed, op).Set(v)
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
