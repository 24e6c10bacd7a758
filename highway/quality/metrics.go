package quality

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cityhighway/highway/highway/catalog"
)

// Collector exports each feed's ledger Summary as Prometheus gauges, read
// from ClickHouse at each scrape (so every `highway serve` exports the same
// figures):
//
//	highway_quality_score{feed}                        the mean score of the latest 24 buckets, 0-100
//	highway_quality_part{feed,part}                    its parts, 0-1
//	highway_quality_latest_score{feed}                 the latest bucket's score
//	highway_quality_gaps{feed}                         missing intervals in the latest 24 buckets
//	highway_quality_reconciliation_unexplained{feed}   messages in Kafka but not in ClickHouse, unexplained, in the latest 24 buckets
//	highway_quality_stale{feed}                        1 when the latest bucket ended stale or empty (no event within five intervals)
//	highway_quality_ledger_age_seconds{feed}           how long ago the latest bucket ended
//	highway_quality_ledger_up                          1 when the ledger could be read
type Collector struct {
	reader  *Reader
	feeds   func() []*catalog.Feed
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger

	score, part, latest, gaps, unexplained, stale, age, up *prometheus.Desc
}

// NewCollector returns a Collector of the feeds that feeds lists, each
// scrape bounded by timeout.
func NewCollector(r *Reader, feeds func() []*catalog.Feed, timeout time.Duration, log *slog.Logger) *Collector {
	if log == nil {
		log = slog.Default()
	}
	fl := []string{"feed"}
	return &Collector{reader: r, feeds: feeds, timeout: timeout, now: time.Now, log: log,
		score:       prometheus.NewDesc("highway_quality_score", "Mean quality score of the feed's latest 24 ledger buckets, 0 to 100.", fl, nil),
		part:        prometheus.NewDesc("highway_quality_part", "A part of the quality score (completeness, validity, timeliness, uniqueness, stability, consistency), 0 to 1.", []string{"feed", "part"}, nil),
		latest:      prometheus.NewDesc("highway_quality_latest_score", "Quality score of the feed's latest ledger bucket, 0 to 100.", fl, nil),
		gaps:        prometheus.NewDesc("highway_quality_gaps", "Intervals without data in the feed's latest 24 ledger buckets.", fl, nil),
		unexplained: prometheus.NewDesc("highway_quality_reconciliation_unexplained", "Messages of the feed's topic that ClickHouse holds neither as rows nor as dead letters, and that are not in flight, in the latest 24 buckets.", fl, nil),
		stale:       prometheus.NewDesc("highway_quality_stale", "1 when the feed's latest ledger bucket ended stale or empty: no event within five intervals.", fl, nil),
		age:         prometheus.NewDesc("highway_quality_ledger_age_seconds", "Seconds since the end of the feed's latest ledger bucket.", fl, nil),
		up:          prometheus.NewDesc("highway_quality_ledger_up", "1 when the quality ledger could be read at this scrape.", nil, nil),
	}
}

// Describe sends the descriptors.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.score, c.part, c.latest, c.gaps, c.unexplained, c.stale, c.age, c.up} {
		ch <- d
	}
}

// Collect reads every feed's Summary and sends its gauges.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	up := 1.0
	for _, f := range c.feeds() {
		s, err := c.reader.Summary(ctx, f)
		if err != nil {
			c.log.Debug("reading the quality ledger for metrics", "feed", f.Name, "err", err)
			up = 0
			continue
		}
		if s == nil {
			continue
		}
		g := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
		}
		g(c.score, s.Score, f.Name)
		for name, v := range map[string]float64{"completeness": s.Parts.Completeness, "validity": s.Parts.Validity,
			"timeliness": s.Parts.Timeliness, "uniqueness": s.Parts.Uniqueness, "stability": s.Parts.Stability, "consistency": s.Parts.Consistency} {
			g(c.part, v, f.Name, name)
		}
		g(c.latest, s.LatestScore, f.Name)
		g(c.gaps, float64(s.Gaps), f.Name)
		g(c.unexplained, float64(s.Unexplained), f.Name)
		stale := 0.0
		if s.LatestFreshness == "stale" || s.LatestFreshness == "empty" {
			stale = 1
		}
		g(c.stale, stale, f.Name)
		g(c.age, c.now().Sub(s.To).Seconds(), f.Name)
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
}
