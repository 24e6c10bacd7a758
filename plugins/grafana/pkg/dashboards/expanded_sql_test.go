package dashboards

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/plugins/grafana/pkg/macros"
	"github.com/cityhighway/highway/plugins/grafana/pkg/query"
)

// ExpandedSQL is where TestExpandedSQL keeps every SQL statement the
// plugin sends for the dashboards and each macro, expanded: one JSON object
// a line with "label" and "sql". The platform's chdb test
// (highway/store, TestStatementsOnCurrentClickHouse) runs each on current
// ClickHouse against the tables the store makes; the plugin is a module of
// its own, so the statements travel in this file.
const expandedSQL = "testdata/expanded_sql.jsonl"

// expandRange is the panel range the statements are expanded for: the hour
// the store's chdb test fills with rows.
var expandRange = macros.Range{From: time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC), Interval: time.Minute}

// dashboardVariables are what Grafana puts for the dashboards' template
// variables before the query reaches the plugin.
var dashboardVariables = strings.NewReplacer("$district", "'YTM','CW'", "$feed", "td.traffic.detectors")

// macroSamples use each macro, by its usage (macros.Names), in a statement
// on the traffic detectors' table.
var macroSamples = map[string]string{
	"$__timeFilter(column)":               "SELECT count() FROM td_traffic_detectors WHERE $__timeFilter(period_from)",
	"$__timeFilter_ms(column)":            "SELECT count() FROM td_traffic_detectors WHERE $__timeFilter_ms(toUnixTimestamp64Milli(toDateTime64(period_from, 3)))",
	"$__unixEpochFilter(column)":          "SELECT count() FROM td_traffic_detectors WHERE $__unixEpochFilter(toUnixTimestamp(period_from))",
	"$__dateFilter(column)":               "SELECT count() FROM td_traffic_detectors WHERE $__dateFilter(toDate(period_from))",
	"$__timeGroup(column, interval)":      "SELECT $__timeGroup(period_from, $__interval) AS t, avg(speed) FROM td_traffic_detectors GROUP BY t ORDER BY t",
	"$__timeGroupAlias(column, interval)": "SELECT $__timeGroupAlias(period_from, 5m), count() FROM td_traffic_detectors GROUP BY time ORDER BY time",
	"$__fromTime":                         "SELECT count() FROM td_traffic_detectors WHERE period_from >= $__fromTime",
	"$__toTime":                           "SELECT count() FROM td_traffic_detectors WHERE period_from < $__toTime",
	"$__fromTime_ms":                      "SELECT $__fromTime_ms < toUnixTimestamp64Milli(toDateTime64(max(period_from), 3)) FROM td_traffic_detectors",
	"$__toTime_ms":                        "SELECT $__toTime_ms > toUnixTimestamp64Milli(toDateTime64(min(period_from), 3)) FROM td_traffic_detectors",
	"$__interval_s":                       "SELECT intDiv(toUInt32(period_from), $__interval_s) AS b, count() FROM td_traffic_detectors GROUP BY b",
	"$__interval":                         "SELECT $__timeGroup(period_from, $__interval) AS t FROM td_traffic_detectors GROUP BY t",
	"$__interval_ms":                      "SELECT intDiv(toUnixTimestamp64Milli(toDateTime64(period_from, 3)), $__interval_ms) AS b FROM td_traffic_detectors GROUP BY b",
}

var leftVariable = regexp.MustCompile(`\$\w+`)

// TestExpandedSQL expands every SQL and builder target of the dashboards
// and every macro sample as the plugin's query path does, and checks that
// testdata/expanded_sql.jsonl holds exactly those statements (-update,
// the dashboards' flag, rewrites it too).
func TestExpandedSQL(t *testing.T) {
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	ds, err := All(cat)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	add := func(label, sql string) {
		t.Helper()
		expanded, err := macros.Expand(sql, expandRange)
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		expanded = dashboardVariables.Replace(expanded)
		if v := leftVariable.FindString(expanded); v != "" {
			t.Fatalf("%s: %s is left after expansion in %q; add it to dashboardVariables", label, v, expanded)
		}
		enc := json.NewEncoder(&out)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(map[string]string{"label": label, "sql": expanded}); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range ds {
		for _, tg := range Targets(d) {
			q := tg.Query
			label := "dashboard " + UID(d) + " target " + q.RefID
			switch q.QueryType {
			case query.SQL:
				add(label, q.RawSQL)
			case query.Builder:
				feed := cat.Feed(q.Feed)
				if feed == nil {
					t.Fatalf("%s: no feed %q", label, q.Feed)
				}
				sql, err := q.BuilderSQL(feed)
				if err != nil {
					t.Fatalf("%s: %v", label, err)
				}
				add(label, sql)
			}
		}
	}
	for _, usage := range macros.Names() {
		sample, ok := macroSamples[usage]
		if !ok {
			t.Fatalf("macro %s has no sample statement in macroSamples", usage)
		}
		add("macro "+usage, sample)
	}
	if *update {
		if err := os.WriteFile(expandedSQL, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have, err := os.ReadFile(expandedSQL)
	if err != nil {
		t.Fatalf("%v (generate with: go -C plugins/grafana test ./pkg/dashboards -update)", err)
	}
	if !bytes.Equal(have, out.Bytes()) {
		t.Fatalf("%s is not what the dashboards and macros expand to now; run go -C plugins/grafana test ./pkg/dashboards -update", expandedSQL)
	}
}
