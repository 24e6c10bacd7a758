package sim

import (
	"fmt"
	"math"
	"time"

	"github.com/cityhighway/highway/connectors/connector"
)

// EPD writes RFC 1123 times with a numeric offset.
const epdTime = "Mon, 02 Jan 2006 15:04:05 -0700"

// risk is EPD's health risk category of an AQHI.
func risk(aqhi int) string {
	switch {
	case aqhi <= 3:
		return "Low"
	case aqhi <= 6:
		return "Moderate"
	case aqhi == 7:
		return "High"
	case aqhi <= 10:
		return "Very High"
	}
	return "Serious"
}

// aqhiRSS is the AQHI now: an RSS item per station, with a BOM and white
// space before the document as EPD serves it. Roadside stations run higher;
// at the peak of an afternoon episode Mong Kok can reach 10+.
func (g *gen) aqhiRSS() []byte {
	at := g.at.In(connector.HKT)
	h := hour(at)
	g.printf("\ufeff\n<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<?xml-stylesheet href='style.xsl' type='text/xsl' media='screen'?>\n<rss version=\"2.0\">\n   <channel>\n")
	g.printf("       <title>Environmental Protection Department - AQHI</title>\n       <link>http://www.aqhi.gov.hk</link>\n")
	g.printf("       <description>Environmental Protection Department - AQHI</description>\n       <language>en-us</language>\n")
	g.printf("       <pubDate>%s</pubDate>\n       <lastBuildDate>%s</lastBuildDate>\n", at.Format(epdTime), at.Format(epdTime))
	for i, st := range aqhiStations {
		v := aqhi(h, i, g.rng.NormFloat64())
		if st[1] == "Roadside" {
			v += 1 + int(math.Round(2*math.Exp(-sq(h-15)/4)))
		}
		index := fmt.Sprint(min(v, 10))
		if v > 10 {
			index = "10+"
		}
		title := fmt.Sprintf("%s : %s : %s", st[0], index, risk(v))
		if g.spoil() {
			title = fmt.Sprintf("%s : N/A", st[0])
		}
		g.printf("       <item>\n           <title>%s</title>\n           <guid isPermaLink=\"true\">http://www.aqhi.gov.hk/</guid>\n", title)
		g.printf("           <link>http://www.aqhi.gov.hk</link>\n           <pubDate>%s</pubDate>\n", at.Format(epdTime))
		g.printf("           <description>\n               <![CDATA[%s - %s Stations: %s %s - %s]]>\n           </description>\n       </item>\n",
			st[0], st[1], index, risk(v), at.Format("Mon, 2 Jan 2006 15:04"))
	}
	g.printf("   </channel>\n</rss>\n")
	return g.buf.Bytes()
}

// coStations measure carbon monoxide; the others publish "-".
var coStations = map[string]bool{"Causeway Bay": true, "Central": true, "Mong Kok": true, "Tsuen Wan": true, "Kwun Tong": true}

// pollutants is 24pc_Eng.xml: the past 24 hours (at the configured speed,
// the past 24 publications) of concentrations per station; a missing
// reading is "-".
func (g *gen) pollutants() []byte {
	g.printf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AQHI24HrPollutantConcentration>\n<title>Environmental Protection Department - Past 24-hour Pollutant Concentration</title>\n")
	for k := 23; k >= 0; k-- {
		at := g.at.In(connector.HKT).Add(-time.Duration(k) * g.step)
		h := hour(at)
		for _, st := range aqhiStations {
			reading := func(v float64) string {
				if g.rng.Float64() < 0.02 {
					return "-"
				}
				return fmt.Sprintf("%.1f", v)
			}
			no2 := reading(pollutant(h, g.rng.NormFloat64()) * 1.4)
			if g.spoil() {
				no2 = "N.A."
			}
			co := "-"
			if coStations[st[0]] {
				co = reading(carbonMonoxide(g.rng.NormFloat64()))
			}
			g.printf("<PollutantConcentration>\n<StationName>%s</StationName>\n<DateTime>%s</DateTime>\n", st[0], at.Format(epdTime))
			g.printf("<NO2>%s</NO2>\n<O3>%s</O3>\n<SO2>%s</SO2>\n<CO>%s</CO>\n<PM10>%s</PM10>\n<PM2.5>%s</PM2.5>\n</PollutantConcentration>\n",
				no2, reading(pollutant(h+6, g.rng.NormFloat64())*1.8), reading(pollutant(h, g.rng.NormFloat64())/8), co,
				reading(pollutant(h, g.rng.NormFloat64())), reading(pollutant(h, g.rng.NormFloat64())*0.6))
		}
	}
	g.printf("</AQHI24HrPollutantConcentration>\n")
	return g.buf.Bytes()
}
