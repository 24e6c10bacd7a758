package query

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/cityhighway/highway/highway/catalog"
)

func builtin(t *testing.T, name string) *catalog.Feed {
	t.Helper()
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	f := cat.Feed(name)
	if f == nil {
		t.Fatalf("no built-in feed %s", name)
	}
	return f
}

func TestParseDefaults(t *testing.T) {
	tests := []struct {
		json, queryType string
		wantType        Type
		wantFormat      Format
	}{
		{`{}`, "", Builder, TimeSeries},
		{`{"rawSql": "SELECT 1"}`, "", SQL, Table},
		{`{"queryType": "sql", "rawSql": "SELECT 1", "format": "time_series"}`, "", SQL, TimeSeries},
		{`{"queryType": "jobs", "job": "j"}`, "", JobResults, TimeSeries},
		{`{}`, "health", FeedHealth, Table},
	}
	for _, tc := range tests {
		q, err := Parse(json.RawMessage(tc.json), tc.queryType)
		if err != nil {
			t.Fatalf("Parse(%s): %v", tc.json, err)
		}
		if q.QueryType != tc.wantType || q.Format != tc.wantFormat {
			t.Errorf("Parse(%s, %q) = %s/%s, want %s/%s", tc.json, tc.queryType, q.QueryType, q.Format, tc.wantType, tc.wantFormat)
		}
	}
	if _, err := Parse(json.RawMessage(`{"limit": "x"}`), ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad JSON: got %v, want ErrInvalid", err)
	}
}

func TestBuilderSQL(t *testing.T) {
	tests := []struct {
		name string
		q    Query
		want string
	}{
		{"avg over time", Query{Feed: "hko.weather.temperature", Metric: "temperature", Format: TimeSeries},
			"SELECT $__timeGroup(record_time, $__interval) AS time, avg(temperature) AS temperature\n" +
				"FROM hko_weather_temperature\nWHERE $__timeFilter(record_time)\nGROUP BY time\nORDER BY time\nLIMIT 100000"},
		{"p90 by district with interval", Query{Feed: "hko.weather.temperature", Metric: "temperature", Aggregation: "p90",
			GroupBy: []string{"district"}, Interval: "1h", Format: TimeSeries, Limit: 500},
			"SELECT $__timeGroup(record_time, 1h) AS time, district, quantile(0.9)(temperature) AS temperature\n" +
				"FROM hko_weather_temperature\nWHERE $__timeFilter(record_time)\nGROUP BY time, district\nORDER BY time, district\nLIMIT 500"},
		{"last per station as table", Query{Feed: "epd.aqhi.stations", Metric: "aqhi", Aggregation: "last", GroupBy: []string{"station"}, Format: Table},
			"SELECT station, argMax(aqhi, publish_time) AS aqhi\nFROM epd_aqhi_stations\nWHERE $__timeFilter(publish_time)\nGROUP BY station\nORDER BY station\nLIMIT 100000"},
		{"count without metric", Query{Feed: "hko.weather.warnings", Aggregation: "count", Format: TimeSeries},
			"SELECT $__timeGroup(update_time, $__interval) AS time, count(*) AS count\nFROM hko_weather_warnings\nWHERE $__timeFilter(update_time)\nGROUP BY time\nORDER BY time\nLIMIT 100000"},
		{"filters quoted by type", Query{Feed: "hko.weather.rainfall", Metric: "rain_max", Aggregation: "max", Format: Table,
			Filters: []Filter{{"district", "in", "ST, CW"}, {"maintenance", "=", "false"}, {"rain_max", ">=", "0.5"}, {"place", "=", "King's Park"}}},
			"SELECT max(rain_max) AS rain_max\nFROM hko_weather_rainfall\nWHERE $__timeFilter(end_time) AND district IN ('ST', 'CW') AND maintenance = 0 AND rain_max >= 0.5 AND place = 'King\\'s Park'\nLIMIT 100000"},
		{"group by int becomes a string label", Query{Feed: "hko.weather.forecast", Metric: "max_temp", GroupBy: []string{"icon"}, Format: TimeSeries},
			"SELECT $__timeGroup(update_time, $__interval) AS time, toString(icon) AS icon, avg(max_temp) AS max_temp\nFROM hko_weather_forecast\nWHERE $__timeFilter(update_time)\nGROUP BY time, icon\nORDER BY time, icon\nLIMIT 100000"},
		{"avg of a bool is a ratio", Query{Feed: "hko.weather.rainfall", Metric: "maintenance", Format: Table},
			"SELECT avg(toFloat64(maintenance)) AS maintenance\nFROM hko_weather_rainfall\nWHERE $__timeFilter(end_time)\nLIMIT 100000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.QueryType = Builder
			got, err := tc.q.BuilderSQL(builtin(t, tc.q.Feed))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestBuilderSQLFrom(t *testing.T) {
	q := Query{QueryType: Builder, Feed: "hko.weather.temperature", Metric: "temperature", Format: Table}
	for _, tc := range []struct {
		table, wantFrom string // wantFrom "" when refused
	}{
		{"hko_weather_temperature", "\nFROM hko_weather_temperature\n"},
		{"default_restricted.hko_weather_temperature", "\nFROM default_restricted.hko_weather_temperature\n"},
		{"a.b.c", ""},
		{"t WHERE 1", ""},
		{"", ""},
	} {
		got, err := q.BuilderSQLFrom(builtin(t, q.Feed), tc.table)
		switch {
		case tc.wantFrom == "" && !errors.Is(err, ErrInvalid):
			t.Errorf("table %q: %q, %v; want ErrInvalid", tc.table, got, err)
		case tc.wantFrom != "" && (err != nil || !strings.Contains(got, tc.wantFrom)):
			t.Errorf("table %q: %q, %v; want %q", tc.table, got, err, tc.wantFrom)
		}
	}
}

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		name  string
		q     Query
		wants []string
	}{
		{"no feed", Query{}, []string{"choose a feed"}},
		{"renamed metric", Query{Feed: "hko.weather.temperature", Metric: "temp"}, []string{`no field "temp"`, "temperature"}},
		{"string metric", Query{Feed: "hko.weather.temperature", Metric: "station"}, []string{"station is string", "avg needs a number"}},
		{"bad aggregation", Query{Feed: "hko.weather.temperature", Metric: "temperature", Aggregation: "median"}, []string{`"median"`, "p50"}},
		{"group by float", Query{Feed: "hko.weather.temperature", Metric: "temperature", GroupBy: []string{"temperature"}}, []string{"group by", "float64"}},
		{"group by unknown", Query{Feed: "hko.weather.temperature", Metric: "temperature", GroupBy: []string{"region"}}, []string{`no field "region"`}},
		{"filter value type", Query{Feed: "epd.aqhi.stations", Metric: "aqhi", Filters: []Filter{{"aqhi", ">", "high"}}}, []string{"filter 1", "not an integer"}},
		{"filter operator", Query{Feed: "epd.aqhi.stations", Metric: "aqhi", Filters: []Filter{{"aqhi", "=~", "1"}}}, []string{`operator "=~"`}},
		{"like on number", Query{Feed: "epd.aqhi.stations", Metric: "aqhi", Filters: []Filter{{"aqhi", "like", "1%"}}}, []string{"like needs a string"}},
		{"bad interval", Query{Feed: "epd.aqhi.stations", Metric: "aqhi", Interval: "soon"}, []string{"interval", `"soon"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.QueryType = Builder
			var feed *catalog.Feed
			if tc.q.Feed != "" {
				feed = builtin(t, tc.q.Feed)
			}
			err := tc.q.Validate(feed)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestJobSQL(t *testing.T) {
	cols := []string{"district", "avg_speed_kmh", "_slot", "_attempt", "_node", "_written_at"}
	got, err := Query{}.JobSQL("city_district_hourly", cols)
	if err != nil {
		t.Fatal(err)
	}
	want := "SELECT _slot AS time, district, avg_speed_kmh\nFROM city_district_hourly\n" +
		"WHERE $__timeFilter(_slot) AND (_slot, _attempt) IN (SELECT _slot, max(_attempt) FROM city_district_hourly WHERE $__timeFilter(_slot) GROUP BY _slot)\n" +
		"ORDER BY time\nLIMIT 100000"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	got, err = Query{TimeColumn: "hour", Limit: 10}.JobSQL("t", []string{"hour", "x"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "SELECT hour AS time, x\nFROM t\nWHERE $__timeFilter(hour)\nORDER BY time\nLIMIT 10"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	for _, tc := range []struct {
		q     Query
		table string
		want  string
	}{
		{Query{TimeColumn: "x; DROP"}, "t", "not a plain column"},
		{Query{}, "t WHERE 1", "not a plain table"},
		{Query{TimeColumn: "at"}, "t", `no column "at"`},
	} {
		_, err := tc.q.JobSQL(tc.table, cols)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v on %s: got %v, want %q", tc.q, tc.table, err, tc.want)
		}
	}
}
