package td

import (
	"testing"
	"time"

	"github.com/cityhighway/highway/connectors/connector"
	ct "github.com/cityhighway/highway/connectors/connector/connectortest"
)

// The fuzz targets assert what every input must give: no panic, and either
// records and rejects that keep the parsers' promises or a payload error.

func FuzzDetectors(f *testing.F) {
	f.Add(ct.Sample(f, "td_rawSpeedVol-all.xml"))
	f.Add(ct.Sample(f, "td_rawSpeedVol-all.xml")[:1500])
	f.Add([]byte(rawSpeedVol("2025-08-04",
		period("23:59:30", "00:00:00", detector("TDS90026", "-", lane("Middle Lane", "55", "-1", "0", "-", "Y"), lane("Middle Lane", "51", "9", "9", "6.1", "N"))),
		period("00:00:00", "00:00:30", detector("", "West ", lane("", "x", "", "", "", "?"))))))
	locs := sampleLocations(f)
	fetched := time.Date(2025, 8, 5, 0, 7, 0, 0, connector.HKT)
	f.Fuzz(func(t *testing.T, payload []byte) {
		res, err := ParseDetectors(payload, fetched, locs)
		ct.Invariants(t, res, err, FeedDetectors)
	})
}

func FuzzLocations(f *testing.F) {
	f.Add(ct.Sample(f, "td_traffic_speed_volume_occ_info.csv"))
	f.Add([]byte(locationsCSV))
	f.Fuzz(func(t *testing.T, payload []byte) {
		locs, rejects, err := ParseLocations(payload)
		ct.Invariants(t, connector.Result{Rejects: rejects}, err, FeedDetectors)
		for id, l := range locs {
			if id == "" || (l.District != "" && len(l.District) > 3) {
				t.Fatalf("location %q: %+v", id, l)
			}
		}
	})
}

func FuzzSegments(f *testing.F) {
	f.Add(ct.Sample(f, "td_irnAvgSpeed-all.xml"))
	f.Add([]byte(irn("2024-04-06", "23:59:00", seg("104324", "80", "N"), seg("", "x", "?"), seg("104324", "50.0", "Y"))))
	f.Fuzz(func(t *testing.T, payload []byte) {
		res, err := ParseSegments(payload)
		ct.Invariants(t, res, err, FeedSegments)
	})
}

func FuzzJourneyTimes(f *testing.F) {
	f.Add(ct.Sample(f, "td_journeytime.xml"))
	f.Add([]byte(jtis(jt("H1", "EH", "2026-10-09T21:58:00", "1", "-1", "1", ""), jt("H2", "CH", "2026-10-09T21:58:00+08:00", "2", "3", "1", "x &amp; y"))))
	f.Fuzz(func(t *testing.T, payload []byte) {
		res, err := ParseJourneyTimes(payload)
		ct.Invariants(t, res, err, FeedJourneyTimes)
	})
}
