package store

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
)

var (
	v1816 = Version{18, 16, 1}
	v2609 = Version{26, 9, 2}
)

func TestFeaturesOf(t *testing.T) {
	for _, tc := range []struct {
		v    Version
		want Features
	}{
		{v1816, Features{}},
		{Version{19, 5, 0}, Features{}},
		{Version{19, 6, 0}, Features{TTL: true}},
		{Version{20, 1, 0}, Features{TTL: true}},
		{Version{20, 3, 0}, Features{TTL: true, LowCardinality: true, DateTime64: true}},
		{v2609, Features{TTL: true, LowCardinality: true, DateTime64: true}},
	} {
		if got := FeaturesOf(tc.v); got != tc.want {
			t.Errorf("FeaturesOf(%s) = %+v, want %+v", tc.v, got, tc.want)
		}
	}
}

// traffic returns the builtin traffic detectors' feed and its pipeline's
// windows.
func traffic(t *testing.T) (*catalog.Feed, []catalog.Window) {
	t.Helper()
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	feed := cat.Feed("td.traffic.detectors")
	pl := cat.PipelineOf(feed.Name)
	if feed == nil || pl == nil || len(pl.Windows) == 0 {
		t.Fatal("the builtin catalogue lost td.traffic.detectors or its windows")
	}
	return feed, pl.Windows
}

// TestFeatureDDLByVersion checks both paths: 18.16 gets the statements it
// always had, a current server the features; the feed table's columns,
// which exactly-once resume depends on, are the same on both.
func TestFeatureDDLByVersion(t *testing.T) {
	feed, windows := traffic(t)
	old, cur := DDL{Database: "h", Server: v1816}, DDL{Database: "h", Server: v2609}
	one := func(stmts []string) string { return strings.Join(stmts, ";\n") }

	f := *feed
	f.Retention = 0
	if one(cur.CreateTable(&f)) != one(old.CreateTable(&f)) {
		t.Errorf("a feed table without retention differs by version:\n%s\n%s", one(old.CreateTable(&f)), one(cur.CreateTable(&f)))
	}
	f.Retention = 30 * 24 * time.Hour
	o, c := one(old.CreateTable(&f)), one(cur.CreateTable(&f))
	if strings.Contains(o, "TTL") || !strings.HasSuffix(c, "\nTTL `period_from` + toIntervalDay(30)") {
		t.Errorf("TTL: 18.16 got\n%s\ncurrent got\n%s", o, c)
	}
	if strings.TrimSuffix(c, "\nTTL `period_from` + toIntervalDay(30)") != o {
		t.Errorf("the feed table's columns differ by version:\n%s\n%s", o, c)
	}
	if strings.Contains(o+c, "LowCardinality") || strings.Contains(o+c, "DateTime64") {
		t.Errorf("a feed table got LowCardinality or DateTime64:\n%s", c)
	}

	if strings.Contains(one(old.CreatePushKeyTable(PushKeyTable)), "TTL") || !strings.Contains(one(cur.CreatePushKeyTable(PushKeyTable)), "TTL at + toIntervalDay(2)") {
		t.Errorf("push keys' TTL by version:\n%s\n%s", one(old.CreatePushKeyTable(PushKeyTable)), one(cur.CreatePushKeyTable(PushKeyTable)))
	}

	w := windows[0]
	if len(w.GroupBy) == 0 {
		t.Fatalf("window %s has no group columns", w.Name)
	}
	o, c = one(old.CreateWindowTable(feed, w)), one(cur.CreateWindowTable(feed, w))
	g := quoteIdent(w.GroupBy[0])
	if strings.Contains(o, "LowCardinality") || !strings.Contains(o, g+" String") || !strings.Contains(c, g+" LowCardinality(String)") {
		t.Errorf("window group columns by version:\n%s\n%s", o, c)
	}
	if strings.ReplaceAll(c, "LowCardinality(String)", "String") != o {
		t.Errorf("window tables differ by more than LowCardinality:\n%s\n%s", o, c)
	}
}

func TestFeatureColumns(t *testing.T) {
	few, ms := []string{"feed", "class", "field", "stage"}, []string{"rejected_at"}
	if got := FeaturesOf(v1816).columns(deadLetterColumns, few, ms); !slices.Equal(got, deadLetterColumns) {
		t.Errorf("18.16's dead letters' columns changed: %v", got)
	}
	got := FeaturesOf(v2609).columns(deadLetterColumns, few, ms)
	want := map[string]string{"feed": "LowCardinality(String)", "stage": "LowCardinality(String)", "rejected_at": "DateTime64(3)",
		"reason": "String", "partition": "Int32", "offset": "Int64"}
	for _, c := range got {
		if w, ok := want[c.name]; ok && c.typ != w {
			t.Errorf("current server: %s is %s, want %s", c.name, c.typ, w)
		}
	}
	if deadLetterColumns[0].typ != "String" {
		t.Errorf("columns changed its input: %v", deadLetterColumns)
	}
}
