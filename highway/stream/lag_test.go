package stream

import (
	"fmt"
	"testing"
)

func TestPartitionLag(t *testing.T) {
	type step struct {
		fetched, wrote int64 // -2: no call
	}
	cases := []struct {
		name     string
		start    int64
		steps    []step
		want     int64
		reported []int64
	}{
		{"not known before a fetch", 100, nil, -1, nil},
		{"fetched, nothing written: all of it", 100, []step{{500, -2}}, 400, []int64{400}},
		{"fetched records count until written", 100, []step{{500, -2}, {-2, 300}, {-2, 500}}, 0, []int64{400, 200, 0}},
		{"from the first offset: known once a batch is written", -2, []step{{500, -2}, {-2, 200}}, 300, []int64{300}},
		{"an end not known leaves it", 0, []step{{50, -2}, {-1, -2}}, 50, []int64{50}},
		{"written never goes back", 0, []step{{50, -2}, {-2, 40}, {-2, 30}}, 10, []int64{50, 10, 10}},
		{"past a stale end: 0", 0, []step{{50, -2}, {-2, 60}}, 0, []int64{50, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var reported []int64
			l := newPartitionLag(c.start, func(n int64) { reported = append(reported, n) })
			for _, s := range c.steps {
				if s.fetched != -2 {
					l.fetched(s.fetched)
				}
				if s.wrote != -2 {
					l.wrote(s.wrote)
				}
			}
			if got := l.load(); got != c.want {
				t.Errorf("lag %d, want %d", got, c.want)
			}
			if fmt.Sprint(reported) != fmt.Sprint(c.reported) {
				t.Errorf("reported %v, want %v", reported, c.reported)
			}
		})
	}
}
