package epd

import (
	"testing"

	ct "github.com/cityhighway/highway/connectors/connector/connectortest"
)

// The fuzz targets assert what every input must give: no panic, and either
// records and rejects that keep the parsers' promises or a payload error.

func FuzzAQHI(f *testing.F) {
	f.Add(ct.Sample(f, "epd_aqhi_ind_rss_Eng.xml"))
	f.Add([]byte("\ufeff " + rss("Tue, 17 Jun 2025 19:30:00 +0800",
		item("Mong Kok : 10+ : Serious", "Mong Kok - Roadside Stations: 10+ Serious - Tue, 17 Jun 2025 19:30", ""),
		item("x : y", "", "Tue, 7 Jun 2025 19:30:00 +0800"))))
	f.Fuzz(func(t *testing.T, payload []byte) {
		res, err := ParseAQHI(payload)
		ct.Invariants(t, res, err, FeedAQHI)
	})
}

func FuzzPollutants(f *testing.F) {
	f.Add(sample24pc(f))
	f.Add([]byte(pc24(pc("Mong Kok", "Mon, 05 Oct 2026 13:00:00 +0800", "80.2", "-", "", "812", "absent", "25.5"), pc("", "x", "y", "1", "1", "1", "1", "1"))))
	f.Fuzz(func(t *testing.T, payload []byte) {
		res, err := ParsePollutants(payload)
		ct.Invariants(t, res, err, FeedPollutants)
	})
}
