package store

import (
	"strings"
	"testing"
)

// TestPushKeyDDL: the push keys' table is in the restricted database, its
// time is ClickHouse's own, and it has a TTL only where the server has TTL.
func TestPushKeyDDL(t *testing.T) {
	for _, tc := range []struct {
		name   string
		server string
		want   string
	}{
		{"18.16 has no TTL", "18.16.1", "CREATE TABLE IF NOT EXISTS `db_restricted`.`highway_push_keys` (\n" +
			"  `department` String,\n  `key` String,\n  `body_hash` String,\n  `claim` String,\n  `state` UInt8,\n  `status` UInt16,\n  `response` String,\n" +
			"  `at` DateTime DEFAULT now()\n) ENGINE = MergeTree()\nPARTITION BY toYYYYMMDD(at)\nORDER BY (department, key, at)"},
		{"24.3 drops rows after two days", "24.3.1", "CREATE TABLE IF NOT EXISTS `db_restricted`.`highway_push_keys` (\n" +
			"  `department` String,\n  `key` String,\n  `body_hash` String,\n  `claim` String,\n  `state` UInt8,\n  `status` UInt16,\n  `response` String,\n" +
			"  `at` DateTime DEFAULT now()\n) ENGINE = MergeTree()\nPARTITION BY toYYYYMMDD(at)\nORDER BY (department, key, at)\nTTL at + toIntervalDay(2)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := ParseVersion(tc.server)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join((DDL{Database: "db", Server: v}).CreatePushKeyTable(PushKeyTable), ";\n"); got != tc.want {
				t.Errorf("CreatePushKeyTable =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
