package dashboards

import (
	"errors"
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/plugins/grafana/pkg/query"
)

// ErrCatalogue is returned by All when a dashboard refers to a feed or a
// field the catalogue does not have; the message lists every one.
var ErrCatalogue = errors.New("dashboards do not match the catalogue")

// All builds every dashboard over cat. It fails, listing each problem, when
// a query names a feed or field that cat does not declare.
func All(cat *catalog.Catalog) ([]dashboard.Dashboard, error) {
	g := &gen{cat: cat}
	ds := []dashboard.Dashboard{g.cityOverview(), g.traffic(), g.weather(), g.airQuality(), g.feedHealth(), g.platform()}
	if len(g.errs) > 0 {
		return nil, fmt.Errorf("%w:\n  %s", ErrCatalogue, strings.Join(g.errs, "\n  "))
	}
	if len(g.built) > 0 {
		return nil, fmt.Errorf("dashboards: the SDK refused them: %w", errors.Join(g.built...))
	}
	return ds, nil
}

const (
	ts    = query.TimeSeries
	table = query.Table
)

func (g *gen) cityOverview() dashboard.Dashboard {
	return g.build(newDashboard("highway-city", "City overview",
		"The city now, per district: traffic speed, rainfall, temperature and air quality, and whether the feeds behind them are fresh.",
		"1m", "now-6h", "highway", "city").
		WithPanel(grid("Districts now", 16, 10).
			WithTarget(g.sql("A", "td.traffic.detectors", table, `SELECT {district} AS district, round(avg({speed}), 1) AS speed_kmh
FROM {table} WHERE $__timeFilter({period_from}) AND {period_from} >= $__toTime - 900 AND isNotNull({district})
GROUP BY district ORDER BY district`)).
			WithTarget(g.builder("B", "hko.weather.rainfall", "rain_max", "last", table, "district")).
			WithTarget(g.builder("C", "hko.weather.temperature", "temperature", "last", table, "district")).
			WithTarget(g.builder("D", "epd.aqhi.stations", "aqhi", "last", table, "district")).
			WithTransformation(joinBy("district"))).
		WithPanel(grid("Feed freshness", 8, 10).WithTarget(g.health("A"))).
		WithPanel(series("Average traffic speed by district", 12, 8).Unit("velocitykmh").
			WithTarget(g.builder("A", "td.traffic.detectors", "speed", "avg", ts, "district"))).
		WithPanel(series("AQHI by district (highest station)", 12, 8).Unit("none").
			WithTarget(g.builder("A", "epd.aqhi.stations", "aqhi", "max", ts, "district"))).
		WithPanel(grid("Districts hour by hour: speed, rain, temperature, AQHI (job city.district_hourly)", 24, 10).
			WithTarget(g.job("A", "city.district_hourly", table))))
}

func (g *gen) traffic() dashboard.Dashboard {
	return g.build(newDashboard("highway-traffic", "Traffic", "Transport Department detectors, segments and journey times.",
		"30s", "now-3h", "highway", "TD").
		WithVariable(dashboard.NewQueryVariableBuilder("district").Label("District").
			Query(dashboard.StringOrMap{String: cog.ToPtr("values(td.traffic.detectors, district)")}).
			Datasource(highwayDS).Multi(true).IncludeAll(true).Refresh(dashboard.VariableRefreshOnTimeRangeChanged)).
		WithPanel(series("Speed by district", 12, 8).Unit("velocitykmh").
			WithTarget(g.sql("A", "td.traffic.detectors", ts, `SELECT $__timeGroupAlias({period_from}, $__interval), {district} AS district, avg({speed}) AS speed
FROM {table} WHERE $__timeFilter({period_from}) AND {district} IN ($district)
GROUP BY time, district ORDER BY time, district`))).
		WithPanel(series("Speed p50 / p90 (city)", 12, 8).Unit("velocitykmh").
			WithTarget(g.builder("A", "td.traffic.detectors", "speed", "p50", ts)).
			WithTarget(g.builder("B", "td.traffic.detectors", "speed", "p90", ts))).
		WithPanel(series("Volume by district", 12, 8).Unit("short").
			WithTarget(g.builder("A", "td.traffic.detectors", "volume", "sum", ts, "district"))).
		WithPanel(series("Occupancy by district", 12, 8).Unit("percent").
			WithTarget(g.builder("A", "td.traffic.detectors", "occupancy", "avg", ts, "district"))).
		WithPanel(series("Segment speed (median)", 12, 8).Unit("velocitykmh").
			WithTarget(g.builder("A", "td.traffic.segments", "speed", "p50", ts))).
		WithPanel(grid("Journey times now", 12, 8).Unit("m").
			WithTarget(g.builder("A", "td.traffic.journeytimes", "journey_minutes", "last", table, "location_id", "destination_id"))).
		WithPanel(grid("Detector readings, live", 24, 8).WithTarget(g.live("A", "td.traffic.detectors"))))
}

func (g *gen) weather() dashboard.Dashboard {
	warnings := g.sql("W", "hko.weather.warnings", table, `SELECT min(ifNull({issue_time}, {update_time})) AS time, max({update_time}) AS timeEnd,
concat(any(ifNull({name}, {code})), ' (', {code}, ')') AS text, {family} AS tags
FROM {table} WHERE $__timeFilter({update_time})
GROUP BY {family}, {code}, {issue_time} ORDER BY time`)
	return g.build(newDashboard("highway-weather", "Weather and warnings",
		"Hong Kong Observatory observations, with warnings in force as annotations.", "1m", "now-24h", "highway", "HKO").
		Annotation(dashboard.NewAnnotationQueryBuilder().Name("HKO warnings").Datasource(highwayDS).Enable(true).
			IconColor("orange").Target(warnings)).
		WithPanel(series("Temperature by district", 12, 8).Unit("celsius").
			WithTarget(g.builder("A", "hko.weather.temperature", "temperature", "avg", ts, "district"))).
		WithPanel(series("Rainfall (max in district, past hour)", 12, 8).Unit("lengthmm").
			WithTarget(g.builder("A", "hko.weather.rainfall", "rain_max", "max", ts, "district"))).
		WithPanel(series("Relative humidity", 12, 8).Unit("percent").
			WithTarget(g.builder("A", "hko.weather.humidity", "humidity", "avg", ts, "station"))).
		WithPanel(series("UV index", 12, 8).Unit("none").
			WithTarget(g.builder("A", "hko.weather.uv", "uv_index", "max", ts))).
		WithPanel(grid("Warning changes", 12, 8).
			WithTarget(g.sql("A", "hko.weather.warnings", table, `SELECT {update_time} AS time, {action} AS action, {code} AS code, {name} AS name, {expire_time} AS expires
FROM {table} WHERE $__timeFilter({update_time}) ORDER BY time DESC LIMIT 200`))).
		WithPanel(grid("9-day forecast", 12, 8).
			WithTarget(g.sql("A", "hko.weather.forecast", table, `SELECT {forecast_date} AS day, argMax({weather}, {update_time}) AS weather,
argMax({min_temp}, {update_time}) AS min_c, argMax({max_temp}, {update_time}) AS max_c, argMax({psr}, {update_time}) AS rain_chance
FROM {table} WHERE $__timeFilter({update_time}) GROUP BY day ORDER BY day`))))
}

func (g *gen) airQuality() dashboard.Dashboard {
	b := newDashboard("highway-air", "Air quality",
		"Environmental Protection Department: AQHI per station and pollutant concentrations.", "5m", "now-2d", "highway", "EPD").
		WithPanel(series("AQHI by station", 24, 9).Unit("none").
			WithTarget(g.builder("A", "epd.aqhi.stations", "aqhi", "max", ts, "station"))).
		WithPanel(grid("AQHI now", 8, 9).Unit("none").
			WithTarget(g.builder("A", "epd.aqhi.stations", "aqhi", "last", table, "station", "station_type")))
	for _, pol := range []struct{ field, title string }{{"pm2_5", "PM2.5"}, {"pm10", "PM10"}, {"no2", "NO2"}, {"o3", "O3"}} {
		b.WithPanel(series(pol.title+" by district", 8, 9).Unit("conµgm3").
			WithTarget(g.builder("A", "epd.air.pollutants", pol.field, "avg", ts, "district")))
	}
	return g.build(b)
}

// qualityTable is the quality ledger's table of the open feeds
// (store.QualityTable; the plugin does not link the store).
const qualityTable = "highway_quality"

// latestAttempts keeps each bucket's highest attempt of the ledger, as
// highway/quality reads it.
const latestAttempts = "ORDER BY bucket, feed, _attempt DESC LIMIT 1 BY bucket, feed"

func (g *gen) feedHealth() dashboard.Dashboard {
	var feeds []string
	for _, f := range g.cat.Feeds() {
		if f.Access == catalog.Open {
			feeds = append(feeds, f.Name)
		}
	}
	// Rows landed per feed: one count query per feed, from the catalogue.
	counts := series("Records per interval, by feed (event time)", 24, 9).Unit("short")
	for i, f := range g.cat.Feeds() {
		counts.WithTarget(g.builder(fmt.Sprintf("F%d", i), f.Name, "", "count", ts))
	}
	return g.build(newDashboard("highway-feed-health", "Feed health",
		"Is every feed fresh and clean? The quality ledger (score, parts, gaps, reconciliation) and freshness from the API; rejects and lag from Prometheus.",
		"1m", "now-24h", "highway", "platform").
		WithVariable(prometheusVariable()).
		WithVariable(dashboard.NewCustomVariableBuilder("feed").Label("Feed").
			Values(dashboard.StringOrMap{String: cog.ToPtr(strings.Join(feeds, ","))})).
		WithPanel(grid("Quality score and its parts, per feed (the ledger, latest bucket in range)", 24, 10).
			WithTarget(g.ledger("A", table, `SELECT feed, score, completeness, validity, timeliness, uniqueness, stability, consistency,
  gaps, keys_missing, rejected, dead_lettered, drift_fields, recon_unexplained AS unexplained, freshness, bucket
FROM (SELECT * FROM `+qualityTable+` WHERE $__timeFilter(bucket) ORDER BY feed, bucket DESC, _attempt DESC LIMIT 1 BY feed)
ORDER BY score`))).
		WithPanel(series("Quality score per feed, 0-100 (the ledger)", 24, 9).Unit("none").
			WithTarget(g.ledger("A", ts, `SELECT bucket AS time, feed, score FROM `+qualityTable+` WHERE $__timeFilter(bucket) `+latestAttempts))).
		WithPanel(series("Parts of the score of $feed, 0-1", 12, 8).Unit("percentunit").
			WithTarget(g.ledger("A", ts, `SELECT bucket AS time, completeness, validity, timeliness, uniqueness, stability, consistency
FROM `+qualityTable+` WHERE $__timeFilter(bucket) AND feed = '$feed' `+latestAttempts))).
		WithPanel(series("Gaps (intervals without data) and keys missing, by feed", 12, 8).Unit("short").
			WithTarget(g.ledger("A", ts, `SELECT bucket AS time, feed, gaps FROM `+qualityTable+` WHERE $__timeFilter(bucket) AND gaps > 0 `+latestAttempts)).
			WithTarget(g.ledger("B", ts, `SELECT bucket AS time, concat(feed, ' keys missing') AS feed, keys_missing FROM `+qualityTable+` WHERE $__timeFilter(bucket) AND keys_missing > 0 `+latestAttempts))).
		WithPanel(series("Reconciliation: messages in Kafka, unexplained (not in ClickHouse, not in flight), by feed", 24, 8).Unit("short").
			WithTarget(g.ledger("A", ts, `SELECT bucket AS time, concat(feed, ' unexplained') AS feed, recon_unexplained FROM `+qualityTable+` WHERE $__timeFilter(bucket) `+latestAttempts)).
			WithTarget(g.ledger("B", ts, `SELECT bucket AS time, concat(feed, ' messages') AS feed, recon_messages FROM `+qualityTable+` WHERE $__timeFilter(bucket) `+latestAttempts))).
		WithPanel(grid("Freshness of every feed", 24, 10).WithTarget(g.health("A"))).
		WithPanel(counts).
		WithPanel(grid("Quality per feed and hour (job platform.feed_health)", 24, 9).
			WithTarget(g.job("A", "platform.feed_health", table))).
		WithPanel(series("Rejected records (to the DLQ), by feed and field", 12, 8).Unit("short").
			WithTarget(prom("A", `sum by (feed, field) (rate(highway_processor_rejects_total[5m])) * 60`, "{{feed}} {{field}}"))).
		WithPanel(series("Consumer lag, by feed", 12, 8).Unit("short").
			WithTarget(prom("A", `sum by (feed) (highway_processor_partition_lag)`, "{{feed}}"))))
}

func (g *gen) platform() dashboard.Dashboard {
	return g.build(newDashboard("highway-platform", "Platform",
		"Throughput, lag, dead letters, windows, the API and the scheduler, from Prometheus.", "30s", "now-6h", "highway", "platform").
		WithVariable(prometheusVariable()).
		WithPanel(series("Rows written to ClickHouse per second, by feed", 12, 8).Unit("rowsps").
			WithTarget(prom("A", `sum by (feed) (rate(highway_processor_rows_written_total[1m]))`, "{{feed}}"))).
		WithPanel(series("Consumer lag, by feed", 12, 8).Unit("short").
			WithTarget(prom("A", `sum by (feed) (highway_processor_partition_lag)`, "{{feed}}"))).
		WithPanel(series("Dead-lettered records per minute", 12, 8).Unit("short").
			WithTarget(prom("A", `sum by (feed) (rate(highway_processor_rejects_total[5m])) * 60`, "{{feed}}"))).
		WithPanel(series("Window watermark delay", 12, 8).Unit("s").
			WithTarget(prom("A", `max by (feed, window) (highway_window_watermark_delay_seconds)`, "{{feed}} {{window}}"))).
		WithPanel(series("API requests per second, by route and status", 12, 8).Unit("reqps").
			WithTarget(prom("A", `sum by (route, status) (rate(highway_api_requests_total[1m]))`, "{{route}} {{status}}"))).
		WithPanel(series("Scheduler runs, by job and outcome", 12, 8).Unit("short").
			WithTarget(prom("A", `sum by (job, state) (increase(highway_scheduler_runs_total[15m]))`, "{{job}} {{state}}")).
			WithTarget(prom("B", `sum(increase(highway_scheduler_leader_changes_total[15m]))`, "leader changes"))))
}

// prometheusVariable lets a dashboard's viewer pick the Prometheus its
// PromQL panels read ($prometheus).
func prometheusVariable() *dashboard.DatasourceVariableBuilder {
	return dashboard.NewDatasourceVariableBuilder("prometheus").Label("Prometheus").Type("prometheus")
}
