package store

import (
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
)

func TestLayoutNames(t *testing.T) {
	open := testFeed(t)
	restricted := *open
	restricted.Access = catalog.Restricted
	w := catalog.Window{Name: "m1", Size: time.Minute, Hop: time.Minute}
	l := Layout{Open: "highway", Restricted: "highway_restricted"}
	cases := []struct{ name, got, want string }{
		{"open feed table", l.FeedTable(open), "td_traffic_test"},
		{"restricted feed table", l.FeedTable(&restricted), "highway_restricted.td_traffic_test"},
		{"open window table", l.WindowTable(open, w), "td_traffic_test_m1"},
		{"restricted window table", l.WindowTable(&restricted, w), "highway_restricted.td_traffic_test_m1"},
		{"job on open data", l.JobDatabase("SELECT count() FROM td_traffic_test"), "highway"},
		{"job naming the restricted database, in any case", l.JobDatabase("SELECT 1 FROM HIGHWAY_RESTRICTED.x"), "highway_restricted"},
		{"create database", DDL{}.CreateDatabase("a`b"), "CREATE DATABASE IF NOT EXISTS `a\\`b`"},
		{"move table", strings.Join(DDL{}.MoveTable("highway", "highway_restricted", "t"), ";\n"), "RENAME TABLE `highway`.`t` TO `highway_restricted`.`t`"},
		{"quoted string", quoteString(`it's a \ test`), `'it\'s a \\ test'`},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.name, c.got, c.want)
		}
	}
}
