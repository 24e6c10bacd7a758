package dashboards

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/plugins/grafana/pkg/query"
)

// ErrCatalogue is returned by All when a dashboard refers to a feed or a
// field the catalogue does not have; the message lists every one.
var ErrCatalogue = errors.New("dashboards do not match the catalogue")

// All builds every dashboard over cat. It fails, listing each problem, when
// a query names a feed or field that cat does not declare.
func All(cat *catalog.Catalog) ([]Dashboard, error) {
	g := &gen{cat: cat}
	ds := []Dashboard{g.cityOverview(), g.traffic(), g.weather(), g.airQuality(), g.feedHealth(), g.platform()}
	if len(g.errs) > 0 {
		return nil, fmt.Errorf("%w:\n  %s", ErrCatalogue, strings.Join(g.errs, "\n  "))
	}
	return ds, nil
}

const (
	ts    = query.TimeSeries
	table = query.Table
)

func (g *gen) cityOverview() Dashboard {
	l := &layout{}
	return Dashboard{
		UID: "highway-city", Title: "City overview", Tags: []string{"highway", "city"}, Refresh: "1m", From: "now-6h",
		Description: "The city now, per district: traffic speed, rainfall, temperature and air quality, and whether the feeds behind them are fresh.",
		Panels: []Panel{
			joined(l.panel("table", "Districts now", 16, 10, "",
				g.sql("A", "td.traffic.detectors", table, `SELECT {district} AS district, round(avg({speed}), 1) AS speed_kmh
FROM {table} WHERE $__timeFilter({period_from}) AND {period_from} >= $__toTime - 900 AND isNotNull({district})
GROUP BY district ORDER BY district`),
				g.builder("B", "hko.weather.rainfall", "rain_max", "last", table, "district"),
				g.builder("C", "hko.weather.temperature", "temperature", "last", table, "district"),
				g.builder("D", "epd.aqhi.stations", "aqhi", "last", table, "district"),
			), "district"),
			l.panel("table", "Feed freshness", 8, 10, "", g.health("A")),
			l.panel("timeseries", "Average traffic speed by district", 12, 8, "velocitykmh",
				g.builder("A", "td.traffic.detectors", "speed", "avg", ts, "district")),
			l.panel("timeseries", "AQHI by district (highest station)", 12, 8, "none",
				g.builder("A", "epd.aqhi.stations", "aqhi", "max", ts, "district")),
			l.panel("table", "Districts hour by hour: speed, rain, temperature, AQHI (job city.district_hourly)", 24, 10, "",
				g.job("A", "city.district_hourly", table)),
		},
	}
}

func (g *gen) traffic() Dashboard {
	l := &layout{}
	return Dashboard{
		UID: "highway-traffic", Title: "Traffic", Tags: []string{"highway", "TD"}, Refresh: "30s", From: "now-3h",
		Description: "Transport Department detectors, segments and journey times.",
		Variables: []Variable{{Name: "district", Label: "District", Type: "query", Query: "values(td.traffic.detectors, district)",
			Datasource: &highwayDS, Multi: true, IncludeAll: true, Refresh: 2}},
		Panels: []Panel{
			l.panel("timeseries", "Speed by district", 12, 8, "velocitykmh",
				g.sql("A", "td.traffic.detectors", ts, `SELECT $__timeGroupAlias({period_from}, $__interval), {district} AS district, avg({speed}) AS speed
FROM {table} WHERE $__timeFilter({period_from}) AND {district} IN ($district)
GROUP BY time, district ORDER BY time, district`)),
			l.panel("timeseries", "Speed p50 / p90 (city)", 12, 8, "velocitykmh",
				g.builder("A", "td.traffic.detectors", "speed", "p50", ts),
				g.builder("B", "td.traffic.detectors", "speed", "p90", ts)),
			l.panel("timeseries", "Volume by district", 12, 8, "short",
				g.builder("A", "td.traffic.detectors", "volume", "sum", ts, "district")),
			l.panel("timeseries", "Occupancy by district", 12, 8, "percent",
				g.builder("A", "td.traffic.detectors", "occupancy", "avg", ts, "district")),
			l.panel("timeseries", "Segment speed (median)", 12, 8, "velocitykmh",
				g.builder("A", "td.traffic.segments", "speed", "p50", ts)),
			l.panel("table", "Journey times now", 12, 8, "m",
				g.builder("A", "td.traffic.journeytimes", "journey_minutes", "last", table, "location_id", "destination_id")),
			l.panel("table", "Detector readings, live", 24, 8, "",
				g.live("A", "td.traffic.detectors")),
		},
	}
}

func (g *gen) weather() Dashboard {
	l := &layout{}
	warnings := g.sql("W", "hko.weather.warnings", table, `SELECT min(ifNull({issue_time}, {update_time})) AS time, max({update_time}) AS timeEnd,
concat(any(ifNull({name}, {code})), ' (', {code}, ')') AS text, {family} AS tags
FROM {table} WHERE $__timeFilter({update_time})
GROUP BY {family}, {code}, {issue_time} ORDER BY time`)
	return Dashboard{
		UID: "highway-weather", Title: "Weather and warnings", Tags: []string{"highway", "HKO"}, Refresh: "1m", From: "now-24h",
		Description: "Hong Kong Observatory observations, with warnings in force as annotations.",
		Annotations: []Annotation{{Name: "HKO warnings", Datasource: highwayDS, Enable: true, IconColor: "orange", Target: warnings}},
		Panels: []Panel{
			l.panel("timeseries", "Temperature by district", 12, 8, "celsius",
				g.builder("A", "hko.weather.temperature", "temperature", "avg", ts, "district")),
			l.panel("timeseries", "Rainfall (max in district, past hour)", 12, 8, "lengthmm",
				g.builder("A", "hko.weather.rainfall", "rain_max", "max", ts, "district")),
			l.panel("timeseries", "Relative humidity", 12, 8, "percent",
				g.builder("A", "hko.weather.humidity", "humidity", "avg", ts, "station")),
			l.panel("timeseries", "UV index", 12, 8, "none",
				g.builder("A", "hko.weather.uv", "uv_index", "max", ts)),
			l.panel("table", "Warning changes", 12, 8, "",
				g.sql("A", "hko.weather.warnings", table, `SELECT {update_time} AS time, {action} AS action, {code} AS code, {name} AS name, {expire_time} AS expires
FROM {table} WHERE $__timeFilter({update_time}) ORDER BY time DESC LIMIT 200`)),
			l.panel("table", "9-day forecast", 12, 8, "",
				g.sql("A", "hko.weather.forecast", table, `SELECT {forecast_date} AS day, argMax({weather}, {update_time}) AS weather,
argMax({min_temp}, {update_time}) AS min_c, argMax({max_temp}, {update_time}) AS max_c, argMax({psr}, {update_time}) AS rain_chance
FROM {table} WHERE $__timeFilter({update_time}) GROUP BY day ORDER BY day`)),
		},
	}
}

func (g *gen) airQuality() Dashboard {
	l := &layout{}
	p := []Panel{
		l.panel("timeseries", "AQHI by station", 24, 9, "none",
			g.builder("A", "epd.aqhi.stations", "aqhi", "max", ts, "station")),
		l.panel("table", "AQHI now", 8, 9, "none",
			g.builder("A", "epd.aqhi.stations", "aqhi", "last", table, "station", "station_type")),
	}
	for _, pol := range []struct{ field, title string }{{"pm2_5", "PM2.5"}, {"pm10", "PM10"}, {"no2", "NO2"}, {"o3", "O3"}} {
		p = append(p, l.panel("timeseries", pol.title+" by district", 8, 9, "conµgm3",
			g.builder("A", "epd.air.pollutants", pol.field, "avg", ts, "district")))
	}
	return Dashboard{
		UID: "highway-air", Title: "Air quality", Tags: []string{"highway", "EPD"}, Refresh: "5m", From: "now-2d",
		Description: "Environmental Protection Department: AQHI per station and pollutant concentrations.",
		Panels:      p,
	}
}

// qualityTable is the quality ledger's table of the open feeds
// (store.QualityTable; the plugin does not link the store).
const qualityTable = "highway_quality"

// latestAttempts keeps each bucket's highest attempt of the ledger, as
// highway/quality reads it.
const latestAttempts = "ORDER BY bucket, feed, _attempt DESC LIMIT 1 BY bucket, feed"

func (g *gen) feedHealth() Dashboard {
	l := &layout{}
	var feeds []string
	for _, f := range g.cat.Feeds() {
		if f.Access == catalog.Open {
			feeds = append(feeds, f.Name)
		}
	}
	p := []Panel{
		l.panel("table", "Quality score and its parts, per feed (the ledger, latest bucket in range)", 24, 10, "",
			g.ledger("A", table, `SELECT feed, score, completeness, validity, timeliness, uniqueness, stability, consistency,
  gaps, keys_missing, rejected, dead_lettered, drift_fields, recon_unexplained AS unexplained, freshness, bucket
FROM (SELECT * FROM `+qualityTable+` WHERE $__timeFilter(bucket) ORDER BY feed, bucket DESC, _attempt DESC LIMIT 1 BY feed)
ORDER BY score`)),
		l.panel("timeseries", "Quality score per feed, 0-100 (the ledger)", 24, 9, "none",
			g.ledger("A", ts, `SELECT bucket AS time, feed, score FROM `+qualityTable+` WHERE $__timeFilter(bucket) `+latestAttempts)),
		l.panel("timeseries", "Parts of the score of $feed, 0-1", 12, 8, "percentunit",
			g.ledger("A", ts, `SELECT bucket AS time, completeness, validity, timeliness, uniqueness, stability, consistency
FROM `+qualityTable+` WHERE $__timeFilter(bucket) AND feed = '$feed' `+latestAttempts)),
		l.panel("timeseries", "Gaps (intervals without data) and keys missing, by feed", 12, 8, "short",
			g.ledger("A", ts, `SELECT bucket AS time, feed, gaps FROM `+qualityTable+` WHERE $__timeFilter(bucket) AND gaps > 0 `+latestAttempts),
			g.ledger("B", ts, `SELECT bucket AS time, concat(feed, ' keys missing') AS feed, keys_missing FROM `+qualityTable+` WHERE $__timeFilter(bucket) AND keys_missing > 0 `+latestAttempts)),
		l.panel("timeseries", "Reconciliation: messages in Kafka, unexplained (not in ClickHouse, not in flight), by feed", 24, 8, "short",
			g.ledger("A", ts, `SELECT bucket AS time, concat(feed, ' unexplained') AS feed, recon_unexplained FROM `+qualityTable+` WHERE $__timeFilter(bucket) `+latestAttempts),
			g.ledger("B", ts, `SELECT bucket AS time, concat(feed, ' messages') AS feed, recon_messages FROM `+qualityTable+` WHERE $__timeFilter(bucket) `+latestAttempts)),
		l.panel("table", "Freshness of every feed", 24, 10, "", g.health("A")),
	}
	// Rows landed per feed: one count query per feed, from the catalogue.
	var counts []Target
	for i, f := range g.cat.Feeds() {
		counts = append(counts, g.builder(fmt.Sprintf("F%d", i), f.Name, "", "count", ts))
	}
	p = append(p,
		l.panel("timeseries", "Records per interval, by feed (event time)", 24, 9, "short", counts...),
		l.panel("table", "Quality per feed and hour (job platform.feed_health)", 24, 9, "",
			g.job("A", "platform.feed_health", table)),
		l.panel("timeseries", "Rejected records (to the DLQ), by feed and field", 12, 8, "short",
			prom("A", `sum by (feed, field) (rate(highway_processor_rejects_total[5m])) * 60`, "{{feed}} {{field}}")),
		l.panel("timeseries", "Consumer lag, by feed", 12, 8, "short",
			prom("A", `sum by (feed) (highway_processor_partition_lag)`, "{{feed}}")),
	)
	return Dashboard{
		UID: "highway-feed-health", Title: "Feed health", Tags: []string{"highway", "platform"}, Refresh: "1m", From: "now-24h",
		Description: "Is every feed fresh and clean? The quality ledger (score, parts, gaps, reconciliation) and freshness from the API; rejects and lag from Prometheus.",
		Variables: []Variable{prometheusVariable(),
			{Name: "feed", Label: "Feed", Type: "custom", Query: strings.Join(feeds, ",")}},
		Panels: p,
	}
}

func (g *gen) platform() Dashboard {
	l := &layout{}
	return Dashboard{
		UID: "highway-platform", Title: "Platform", Tags: []string{"highway", "platform"}, Refresh: "30s", From: "now-6h",
		Description: "Throughput, lag, dead letters, windows, the API and the scheduler, from Prometheus.",
		Variables:   []Variable{prometheusVariable()},
		Panels: []Panel{
			l.panel("timeseries", "Rows written to ClickHouse per second, by feed", 12, 8, "rowsps",
				prom("A", `sum by (feed) (rate(highway_processor_rows_written_total[1m]))`, "{{feed}}")),
			l.panel("timeseries", "Consumer lag, by feed", 12, 8, "short",
				prom("A", `sum by (feed) (highway_processor_partition_lag)`, "{{feed}}")),
			l.panel("timeseries", "Dead-lettered records per minute", 12, 8, "short",
				prom("A", `sum by (feed) (rate(highway_processor_rejects_total[5m])) * 60`, "{{feed}}")),
			l.panel("timeseries", "Window watermark delay", 12, 8, "s",
				prom("A", `max by (feed, window) (highway_window_watermark_delay_seconds)`, "{{feed}} {{window}}")),
			l.panel("timeseries", "API requests per second, by route and status", 12, 8, "reqps",
				prom("A", `sum by (route, status) (rate(highway_api_requests_total[1m]))`, "{{route}} {{status}}")),
			l.panel("timeseries", "Scheduler runs, by job and outcome", 12, 8, "short",
				prom("A", `sum by (job, state) (increase(highway_scheduler_runs_total[15m]))`, "{{job}} {{state}}"),
				prom("B", `sum(increase(highway_scheduler_leader_changes_total[15m]))`, "leader changes")),
		},
	}
}

func prometheusVariable() Variable {
	return Variable{Name: "prometheus", Label: "Prometheus", Type: "datasource", Query: "prometheus"}
}

// joined joins a table panel's frames on a field (Grafana's joinByField).
func joined(p Panel, field string) Panel {
	p.Transformations = []any{map[string]any{"id": "joinByField", "options": map[string]any{"byField": field, "mode": "outer"}}}
	return p
}
