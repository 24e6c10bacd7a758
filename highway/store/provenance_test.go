package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/envelope"
)

// TestProvenanceAdd: rows without provenance leave the per-row slices nil
// (their columns are written empty, with the feed's version); once a row
// has some, the earlier rows get the defaults, a fetch time becomes Unix
// seconds and an unknown schema version the feed's.
func TestProvenanceAdd(t *testing.T) {
	fetched := time.Date(2026, 11, 26, 0, 0, 5, 0, time.UTC)
	polled := envelope.Provenance{Source: "https://x", ETag: `"e"`, FetchedAt: fetched, SchemaVersion: 3}
	cases := []struct {
		name string
		rows []envelope.Provenance
		want string
	}{
		{"none", []envelope.Provenance{{}, {PushedBy: "TD"}}, "[0 0] [5 6] [] [] [] []"},
		{"pushed, then polled", []envelope.Provenance{{PushedBy: "TD"}, polled},
			fmt.Sprintf("[0 0] [5 6] [ https://x] [ \"e\"] [0 %d] [2 3]", fetched.Unix())},
		{"polled without a version", []envelope.Provenance{{Source: "s"}}, "[0] [5] [s] [] [0] [2]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p Provenance
			for i := range c.rows {
				p.Add(0, int64(5+i), &c.rows[i], 2)
			}
			if got := fmt.Sprint(p.Partitions, p.Offsets, p.Sources, p.ETags, p.FetchedAt, p.SchemaVersions); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}
