package scheduler

import "github.com/prometheus/client_golang/prometheus"

// metrics are the scheduler's Prometheus series. Counters of outcomes are
// counted where they happen: assignments, expiries and skips on the leader,
// successes and failures on the worker that ran the attempt, so sums over
// the cluster count each event once.
type metrics struct {
	leaderChanges prometheus.Counter
	isLeader      prometheus.Gauge
	assigned      *prometheus.CounterVec
	runs          *prometheus.CounterVec
	skipped       *prometheus.CounterVec
	slotDelay     *prometheus.HistogramVec
	runDuration   *prometheus.HistogramVec
}

// newMetrics creates the series and registers them with reg when it is
// not nil.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "highway_scheduler_leader_changes_total", Help: "Times this node became the leader.",
		}),
		isLeader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "highway_scheduler_is_leader", Help: "1 while this node is the leader.",
		}),
		assigned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "highway_scheduler_assignments_total", Help: "Attempts assigned by this node as leader, by job.",
		}, []string{"job"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "highway_scheduler_runs_total", Help: "Attempts by outcome (succeeded, failed, lost, cancelled), by job.",
		}, []string{"job", "state"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "highway_scheduler_slots_skipped_total", Help: "Slots skipped because they ended before the catch-up window, by job.",
		}, []string{"job"}),
		slotDelay: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "highway_scheduler_slot_delay_seconds", Help: "Time from a slot's end to its first assignment, by job.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 16),
		}, []string{"job"}),
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "highway_scheduler_run_duration_seconds", Help: "Duration of attempts run on this node, by job.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 18),
		}, []string{"job"}),
	}
	if reg != nil {
		reg.MustRegister(m.leaderChanges, m.isLeader, m.assigned, m.runs, m.skipped, m.slotDelay, m.runDuration)
	}
	return m
}
