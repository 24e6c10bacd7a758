package sim

import (
	"fmt"
	"math"
	"time"

	"github.com/cityhighway/highway/connectors/connector"
)

// detector is one simulated traffic detector, as the location list has it.
type detector struct {
	id, district, road, direction string
	lanes                         []string
	limit                         int // the speed limit, TD's placeholder speed when no vehicle passed
	lat, lon                      float64
}

// tdDistricts are district names as TD's location list writes them, with
// its variants and its misspelling.
var tdDistricts = []string{
	"Central & Western", "Wan Chai", "Eastern", "Southern", "Yau Tsim Mong", "Sham Shui Po", "Kowloon City",
	"Wong Tai Sin", "Kwun Tong", "Kwai Tsing", "Tsuen Wan", "Tuen Mun", "Yeun Long", "North", "Tai Po", "Sha Tin",
	"Sai Kung", "Islands", "Central and Western",
}

var directions = []string{"North", "North East", "East", "South East", "South", "South West", "West", "North West"}

// detectorList is the simulated detectors: the first is AID01101 in
// Southern, as in TD's list.
func detectorList(n int) []detector {
	out := make([]detector, n)
	for i := range out {
		lanes := lanes
		if i%5 == 4 {
			lanes = lanes[:2] // a two-lane road
		}
		out[i] = detector{
			id:        fmt.Sprintf("AID%05d", 1101+i*3),
			district:  tdDistricts[(i+3)%len(tdDistricts)],
			road:      fmt.Sprintf("Road %d near Junction %d - %s bound ", i/4+1, i%4+1, directions[i%len(directions)]),
			direction: directions[(i*3)%len(directions)],
			lanes:     lanes,
			limit:     []int{50, 70, 80, 100}[i%4],
			lat:       22.25 + float64(i%40)*0.005,
			lon:       114.10 + float64(i/40)*0.02,
		}
	}
	return out
}

// detectors is rawSpeedVol-all.xml: one line, two 30-second periods, the
// later one starting at the publication (at the configured speed, periods
// of a second or more), every detector and lane. With no vehicle the speed is the limit and s.d. 0; occupancy is
// sometimes -1 (not measured); some directions have a trailing space, some
// are missing; the 00:00 period carries the previous day's date, since the
// file is dated by its first period.
func (g *gen) detectors() []byte {
	period := max(min(30*time.Second, g.step/2), time.Second).Truncate(time.Second)
	first := g.at.In(connector.HKT).Add(-period)
	g.printf(`<?xml version="1.0" encoding="utf-8"?><raw_speed_volume_list xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="https://static.data.gov.hk/td/traffic-data-strategic-major-roads/info/SpeedVolOcc-BR.xsd">`)
	g.printf(`<date>%s</date><periods>`, first.Format("2006-01-02"))
	dets := detectorList(g.nDetectors)
	// Planted faults, for the quality ledger to find: of every 240
	// publications, three are published without periods (the two periods
	// only they carry are a gap), and for 90 the sixth detector is silent
	// (a key that did not report: 90 publications hold a whole ledger
	// bucket, 60 of them, aligned, at any speed).
	pub := g.at.Unix() / max(int64(g.step/time.Second), 1)
	switch k := pub % 240; {
	case k >= 17 && k <= 19:
		dets = nil
	case k >= 100 && k < 190 && len(dets) > 5:
		dets = append(dets[:5:5], dets[6:]...)
	}
	for p := 0; p < 2 && dets != nil; p++ {
		from := first.Add(time.Duration(p) * period)
		h := hour(from)
		g.printf(`<period><period_from>%s</period_from><period_to>%s</period_to><detectors>`, from.Format("15:04:05"), from.Add(period).Format("15:04:05"))
		for i, d := range dets {
			g.printf(`<detector><detector_id>%s</detector_id>`, d.id)
			switch i % 17 {
			case 3:
				g.printf(`<direction>%s </direction>`, d.direction) // a trailing space
			case 11:
				// no direction: the location list has it
			default:
				g.printf(`<direction>%s</direction>`, d.direction)
			}
			g.printf(`<lanes>`)
			for j, lane := range d.lanes {
				noise := g.rng.NormFloat64()
				vol := int(math.Round(volume(h, noise) * (1 - 0.2*float64(j))))
				spd := int(math.Round(min(speed(h, i, noise), float64(d.limit)+15)))
				occ := int(math.Round(occupancy(h, noise)))
				sd := math.Round(speedSD(noise)*10) / 10
				valid := "Y"
				switch {
				case g.rng.Float64() < 0.01:
					valid = "N" // detector offline
				case vol <= 0:
					vol, spd, sd = 0, d.limit, 0 // TD's placeholder
				}
				if g.rng.Float64() < 0.01 {
					occ = -1 // not measured
				}
				speedText := fmt.Sprint(spd)
				if g.spoil() {
					if g.rng.IntN(2) == 0 {
						speedText = "N/A"
					} else {
						vol = 5000 // beyond the spec's range
					}
				}
				g.printf(`<lane><lane_id>%s</lane_id><speed>%s</speed><occupancy>%d</occupancy><volume>%d</volume><s.d.>%v</s.d.><valid>%s</valid></lane>`,
					lane, speedText, occ, vol, sd, valid)
			}
			g.printf(`</lanes></detector>`)
		}
		g.printf(`</detectors></period>`)
	}
	g.printf(`</periods></raw_speed_volume_list>`)
	return g.buf.Bytes()
}

// locations is TD's detector location list: UTF-8 with a BOM, CRLF line
// ends, road names ending with a space, district names in their variants.
func (g *gen) locations() []byte {
	g.printf("\ufeffAID_ID_Number,District,Road_EN,Road_TC,Road_SC,Easting,Northing,Latitude,Longitude,Direction,Rotation\r\n")
	for i, d := range detectorList(g.nDetectors) {
		g.printf("%s,%s,%s,道路 %d ,道路 %d ,%d,%d,%.6f,%.6f,%s,%d\r\n",
			d.id, d.district, d.road, i, i, 830000+i*37, 812000+i*53, d.lat, d.lon, d.direction, (i*45)%360)
	}
	return g.buf.Bytes()
}

// segments is irnAvgSpeed-all.xml: the speed of every road segment; with
// valid N the speed is a placeholder.
func (g *gen) segments() []byte {
	at := g.at.In(connector.HKT)
	h := hour(at)
	g.printf(`<?xml version="1.0" encoding="utf-8"?><segment_speed_list xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="https://static.data.gov.hk/td/traffic-data-strategic-major-roads/info/SpeedSegments-BR.xsd">`)
	g.printf(`<date>%s</date><time>%s</time><irn_version>20221210</irn_version><segments>`, at.Format("2006-01-02"), at.Format("15:04:05"))
	for s := 0; s < 200; s++ {
		spd := fmt.Sprintf("%.1f", speed(h, s, g.rng.NormFloat64()))
		valid := "Y"
		switch {
		case g.spoil():
			spd = "fast"
		case g.rng.Float64() < 0.02:
			spd, valid = "80", "N" // a placeholder
		}
		g.printf(`<segment><segment_id>%d</segment_id><speed>%s</speed><valid>%s</valid></segment>`, 104300+s*7, spd, valid)
	}
	g.printf(`</segments></segment_speed_list>`)
	return g.buf.Bytes()
}

// journeyTimes is Journeytimev2.xml, in TD's default namespace, with local
// capture times; -1 is "not available".
func (g *gen) journeyTimes() []byte {
	at := g.at.In(connector.HKT)
	h := hour(at)
	g.printf("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n")
	g.printf(`<jtis_journey_list xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://data.one.gov.hk/td http://data.one.gov.hk/xsd/td/journeytime.xsd" xmlns="http://data.one.gov.hk/td">` + "\n")
	dests := []string{"CH", "EH", "WH", "LRT", "TCT", "TKTL"}
	for l := 1; l <= 12; l++ {
		for k := 0; k < 2; k++ {
			i := l*2 + k
			minutes := math.Round(journeyMinutes(h, i, g.rng.NormFloat64()))
			data := fmt.Sprint(minutes)
			colour := 3
			switch {
			case minutes > 25:
				colour = 1
			case minutes > 18:
				colour = 2
			}
			switch {
			case g.spoil():
				data = "slow"
			case g.rng.Float64() < 0.02:
				data = "-1" // not available
			}
			g.printf("    <jtis_journey_time>\n        <LOCATION_ID>H%d</LOCATION_ID>\n        <DESTINATION_ID>%s</DESTINATION_ID>\n", l, dests[(l+k)%len(dests)])
			g.printf("        <CAPTURE_DATE>%s</CAPTURE_DATE>\n        <JOURNEY_TYPE>1</JOURNEY_TYPE>\n        <JOURNEY_DATA>%s</JOURNEY_DATA>\n", at.Format("2006-01-02T15:04:05"), data)
			g.printf("        <COLOUR_ID>%d</COLOUR_ID>\n        <JOURNEY_DESC></JOURNEY_DESC>\n    </jtis_journey_time>\n", colour)
		}
	}
	g.printf("</jtis_journey_list>\n")
	return g.buf.Bytes()
}
