package store

import (
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
)

func testFeed(t *testing.T) *catalog.Feed {
	t.Helper()
	c, err := catalog.Parse("t.yaml", []byte(`
kind: feed
name: td.traffic.test
department: TD
fields:
  - {name: detector_id, type: string, required: true}
  - {name: lane, type: int64, required: true}
  - {name: speed, type: float64}
  - {name: valid, type: bool, required: true}
  - {name: seen, type: time}
  - {name: at, type: time, required: true}
key: [detector_id, lane]
event_time: at
interval: 1m
retention: 30d
`))
	if err != nil {
		t.Fatal(err)
	}
	return c.Feeds()[0]
}

func TestCreateTable(t *testing.T) {
	feed := testFeed(t)
	base := "CREATE TABLE IF NOT EXISTS `db`.`td_traffic_test` (\n" +
		"  `detector_id` String,\n  `lane` Int64,\n  `speed` Nullable(Float64),\n  `valid` UInt8,\n" +
		"  `seen` Nullable(DateTime),\n  `at` DateTime,\n" +
		"  `_topic` String,\n  `_partition` Int32,\n  `_offset` Int64,\n  `_ingested_at` DateTime,\n" +
		"  `_source` String,\n  `_etag` String,\n  `_fetched_at` DateTime,\n  `_schema_version` UInt32\n" +
		") ENGINE = MergeTree()\nPARTITION BY toYYYYMM(`at`)\nORDER BY (`detector_id`, `lane`, `at`)"
	for _, tc := range []struct {
		server string
		want   string
	}{
		{"18.16.1", base}, // no TTL before 19.6
		{"24.8.4.13", base + "\nTTL `at` + toIntervalDay(30)"}, // TTL from the retention
	} {
		v, err := ParseVersion(tc.server)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join((DDL{Database: "db", Server: v}).CreateTable(feed), ";\n"); got != tc.want {
			t.Errorf("server %s:\n%s\nwant:\n%s", tc.server, got, tc.want)
		}
	}
	if got := strings.Join((DDL{Database: "db"}).AddColumn(feed, *feed.Field("speed")), ";\n"); got != "ALTER TABLE `db`.`td_traffic_test` ADD COLUMN `speed` Nullable(Float64)" {
		t.Errorf("AddColumn = %s", got)
	}
}

// TestAuditDDL: the audit log's table is in the restricted database, in
// the store's statements and in users' SQL, whatever the database names.
func TestAuditDDL(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ddl       DDL
		wantTable string // quoted, in statements
		wantSQL   string // in users' SQL
	}{
		{"default restricted database", DDL{Database: "highway"}, "`highway_restricted`.`highway_audit`", "highway_restricted.highway_audit"},
		{"restricted database set", DDL{Database: "db", Restricted: "secret"}, "`secret`.`highway_audit`", "secret.highway_audit"},
		{"one database (before the split)", DDL{Database: "db", Restricted: "db"}, "`db`.`highway_audit`", "highway_audit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.ddl.AuditTable(AuditTable); got != tc.wantTable {
				t.Errorf("AuditTable = %s, want %s", got, tc.wantTable)
			}
			if got := tc.ddl.Layout().AuditTable(AuditTable); got != tc.wantSQL {
				t.Errorf("Layout.AuditTable = %s, want %s", got, tc.wantSQL)
			}
			create := strings.Join(tc.ddl.CreateAuditTable(AuditTable), ";\n")
			for _, want := range []string{
				"CREATE TABLE IF NOT EXISTS " + tc.wantTable + " (\n  `at` DateTime,\n  `at_ms` UInt64,",
				"`error` String,\n  `chain` String,\n  `seq` UInt64,\n  `prev_hash` String,\n  `hash` String,\n  `signer` String,\n  `signature` String\n" +
					") ENGINE = MergeTree()\nPARTITION BY toYYYYMM(at)\nORDER BY (at, department)",
			} {
				if !strings.Contains(create, want) {
					t.Errorf("CreateAuditTable lacks %q:\n%s", want, create)
				}
			}
		})
	}
}

func TestWindowDDL(t *testing.T) {
	feed := testFeed(t)
	w := catalog.Window{Name: "speed_5m", Size: 300e9, Hop: 60e9, GroupBy: []string{"detector_id"},
		Aggregates: []catalog.Aggregate{{Field: "speed", Funcs: []string{"avg", "p90"}}}}
	d := DDL{Database: "db"}
	create := strings.Join(d.CreateWindowTable(feed, w), ";\n")
	for _, want := range []string{
		"`td_traffic_test_speed_5m`", "`detector_id` String", "`rows` UInt64", "`speed_count` UInt64",
		"`speed_sum` Nullable(Float64)", "`speed_avg` Nullable(Float64)", "`speed_p90` Nullable(Float64)",
		"ENGINE = ReplacingMergeTree(`_version`)", "ORDER BY (`window_start`, `detector_id`)",
	} {
		if !strings.Contains(create, want) {
			t.Errorf("window table lacks %s:\n%s", want, create)
		}
	}
	agg := d.AggregateWindows(feed, w, mustTime("2026-11-26T08:00:00Z"), mustTime("2026-11-26T09:00:00Z"), 7)
	for _, want := range []string{
		"range(5)", "intDiv(toUInt32(`at`), 60) * 60", // five hops per window
		"WHERE `at` >= toDateTime(1795680000) AND `at` < toDateTime(1795683840)", // to - hop + size
		"quantileExact(0.90)(`speed`)", "toUInt64(7)", "GROUP BY ws, g0",
	} {
		if !strings.Contains(agg, want) {
			t.Errorf("aggregation lacks %s:\n%s", want, agg)
		}
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]Version{"18.16.1": {18, 16, 1}, "24.8.4.13": {24, 8, 4}, "19.6": {19, 6, 0}} {
		if got, err := ParseVersion(in); err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseVersion("banana"); err == nil {
		t.Error("ParseVersion(banana) succeeded")
	}
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
