package stream

import "github.com/prometheus/client_golang/prometheus"

// budgetCollector exports a Budget to Prometheus: the budget, what is in
// use, by feed too, and the fetches waiting for bytes.
type budgetCollector struct {
	b                                  *Budget
	total, used, feedUsed, wait, waits *prometheus.Desc
}

// Register exports the budget's figures to reg.
func (b *Budget) Register(reg prometheus.Registerer) {
	reg.MustRegister(&budgetCollector{b: b,
		total:    prometheus.NewDesc("highway_memory_budget_bytes", "The memory budget of the process's records (--memory-budget).", nil, nil),
		used:     prometheus.NewDesc("highway_memory_budget_used_bytes", "Bytes of the memory budget that fetched and decoded batches and their dead letters hold now.", nil, nil),
		feedUsed: prometheus.NewDesc("highway_memory_budget_feed_used_bytes", "Bytes of the memory budget a feed's batches hold now, by feed.", []string{"feed"}, nil),
		wait:     prometheus.NewDesc("highway_memory_budget_waiting", "Fetches waiting for bytes of the memory budget now (the backlog stays in Kafka).", nil, nil),
		waits:    prometheus.NewDesc("highway_memory_budget_waits_total", "Fetches that waited for bytes of the memory budget.", nil, nil),
	})
}

// Describe implements prometheus.Collector.
func (c *budgetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.total, c.used, c.feedUsed, c.wait, c.waits} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *budgetCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.b.Stats()
	ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(st.Total))
	ch <- prometheus.MustNewConstMetric(c.used, prometheus.GaugeValue, float64(st.Used))
	ch <- prometheus.MustNewConstMetric(c.wait, prometheus.GaugeValue, float64(st.Waiting))
	ch <- prometheus.MustNewConstMetric(c.waits, prometheus.CounterValue, float64(st.Waits))
	byFeed := map[string]int64{}
	c.b.mu.Lock()
	for a := range c.b.accounts {
		byFeed[a.name] += a.used
	}
	c.b.mu.Unlock()
	for feed, n := range byFeed {
		ch <- prometheus.MustNewConstMetric(c.feedUsed, prometheus.GaugeValue, float64(n), feed)
	}
}
