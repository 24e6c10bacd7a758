package td

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/connectors/connector"
	ct "github.com/cityhighway/highway/connectors/connector/connectortest"
)

// fullDetectorFile writes a rawSpeedVol-all.xml of real size: n detectors of
// three lanes in two periods, with the mix of readings the real file has
// (about a quarter of lanes with volume 0, some s.d. 0, a few offline).
// It also returns matching locations.
func fullDetectorFile(n int) ([]byte, Locations) {
	lanes := []string{"Fast Lane", "Middle Lane", "Slow Lane"}
	dirs := []string{"North", "North East", "East", "South East", "South", "South West", "West", "North West"}
	districts := []string{"CW", "WC", "E", "S", "YTM", "SSP", "KC", "WTS", "KT", "KWT", "TW", "TM", "YL", "N", "TP", "ST", "SK", "IS"}
	locs := Locations{}
	var periods []string
	for p, from := range []string{"21:27:00", "21:27:30"} {
		to := []string{"21:27:30", "21:28:00"}[p]
		var dets []string
		for d := range n {
			id := fmt.Sprintf("AID%05d", 1000+d)
			locs[id] = Location{District: districts[d%len(districts)], Direction: dirs[d%len(dirs)]}
			var ls []string
			for l, name := range lanes {
				k := d*7 + l*3 + p
				vol, speed, occ, sd, valid := k%13, 40+k%60, k%20, fmt.Sprintf("%d.%d", k%25, k%10), "Y"
				if k%4 == 0 {
					vol, occ, sd = 0, 0, "0"
					speed = 70
				}
				if k%97 == 0 {
					valid = "N"
				}
				ls = append(ls, lane(name, fmt.Sprint(speed), fmt.Sprint(occ), fmt.Sprint(vol), sd, valid))
			}
			dets = append(dets, detector(id, dirs[d%len(dirs)], ls...))
		}
		periods = append(periods, period(from, to, dets...))
	}
	return []byte(rawSpeedVol("2024-04-06", periods...)), locs
}

func TestFullDetectorFile(t *testing.T) {
	payload, locs := fullDetectorFile(760)
	res, err := ParseDetectors(payload, time.Date(2024, 4, 6, 21, 29, 0, 0, connector.HKT), locs)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != 760*3*2 || len(res.Rejects) != 0 {
		t.Fatalf("%d records, %d rejects", len(res.Records), len(res.Rejects))
	}
	ct.Valid(t, res)
	if !strings.HasPrefix(string(payload), "<?xml") || len(payload) < 500_000 {
		t.Errorf("the generated file is %d bytes", len(payload))
	}
}

// BenchmarkDetectors parses a generated full-size rawSpeedVol-all.xml
// (760 detectors × 3 lanes × 2 periods = 4,560 records, ~0.7 MB) and reports
// records/s and allocations per record.
func BenchmarkDetectors(b *testing.B) {
	payload, locs := fullDetectorFile(760)
	fetched := time.Date(2024, 4, 6, 21, 29, 0, 0, connector.HKT)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	var records int
	start := time.Now()
	var allocs0, allocs1 uint64
	allocs0 = mallocs()
	for b.Loop() {
		res, err := ParseDetectors(payload, fetched, locs)
		if err != nil {
			b.Fatal(err)
		}
		records += len(res.Records)
	}
	allocs1 = mallocs()
	elapsed := time.Since(start)
	b.ReportMetric(float64(records)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(allocs1-allocs0)/float64(records), "allocs/record")
}
