package sim_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/connectors/connector"
	"github.com/cityhighway/highway/connectors/sim"
)

// The detector file's planted faults: publications 17-19 of every 240 carry
// no period (a gap), 100-189 leave the sixth detector out (a key that does
// not report); the others list every detector.
func TestPlantedDetectorFaults(t *testing.T) {
	clk, _, sources := simulate(t, sim.ServerConfig{BadShare: -1})
	var det string
	var parse func([]byte, time.Time) (connector.Result, error)
	for _, s := range sources {
		if s.Name == "td.rawspeedvol" {
			det, parse = s.URL, s.Parse
		}
	}
	base := time.Unix(240*60*12345, 0) // a publication index 0 mod 240 at the default speed (one a minute)
	tests := []struct {
		pub       int64
		records   bool
		sixthSeen bool
	}{{16, true, true}, {17, false, false}, {19, false, false}, {20, true, true}, {100, true, false}, {189, true, false}, {190, true, true}}
	for _, tt := range tests {
		clk.set(base.Add(time.Duration(tt.pub) * time.Minute))
		at := base.Add(time.Duration(tt.pub) * time.Minute)
		payload := fetch(t, det)
		body := string(payload)
		// The connector reads a gap as a file without records, not as an error.
		res, err := parse(payload, at)
		if err != nil || (len(res.Records) > 0) != tt.records {
			t.Errorf("publication %d: %d records, %v", tt.pub, len(res.Records), err)
		}
		if got := strings.Contains(body, "<period>"); got != tt.records {
			t.Errorf("publication %d: periods %v, want %v", tt.pub, got, tt.records)
		}
		// The sixth detector of the list, by its position after the fifth.
		ids := strings.Split(body, "<detector_id>")
		var sixth bool
		if len(ids) > 1 {
			first := map[string]bool{}
			for _, s := range ids[1:] {
				first[s[:strings.Index(s, "<")]] = true
			}
			sixth = len(first) == 120
		}
		if tt.records && sixth != tt.sixthSeen {
			t.Errorf("publication %d: every detector listed %v, want %v", tt.pub, sixth, tt.sixthSeen)
		}
	}
}
