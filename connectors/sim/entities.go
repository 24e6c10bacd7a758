package sim

import (
	"fmt"
	"time"

	"github.com/cityhighway/highway/connectors/connector"
	"github.com/cityhighway/highway/connectors/district"
	"github.com/cityhighway/highway/highway/catalog"
)

// entity holds the fixed field values of one thing a feed reports on; a
// value of type func(time.Time) any is computed at each publication.
type entity map[string]any

var (
	// districtNames are the district names as HKO's rainfall list publishes
	// them (some with "District"), in the order of district.All().
	districtNames = []string{"Central & Western District", "Wan Chai", "Eastern District", "Southern District", "Yau Tsim Mong", "Sham Shui Po", "Kowloon City", "Wong Tai Sin", "Kwun Tong", "Kwai Tsing", "Tsuen Wan", "Tuen Mun", "Yuen Long", "North District", "Tai Po", "Sha Tin", "Sai Kung", "Islands District"}
	// weatherStations are the HKO stations simulated; their districts come
	// from district.HKOStation, as the real connector's do.
	weatherStations = []string{
		"Hong Kong Observatory", "King's Park", "Wong Chuk Hang", "Ta Kwu Ling", "Lau Fau Shan", "Tai Po", "Sha Tin",
		"Tuen Mun", "Tseung Kwan O", "Sai Kung", "Cheung Chau", "Chek Lap Kok", "Tsing Yi", "Shek Kong",
		"Tsuen Wan Ho Koon", "Tsuen Wan Shing Mun Valley", "Hong Kong Park", "Shau Kei Wan", "Kowloon City",
		"Happy Valley", "Wong Tai Sin", "Stanley", "Kwun Tong", "Sham Shui Po", "Kai Tak Runway Park", "Yuen Long Park",
	}
	// aqhiStations are the EPD stations with their type; districts come from
	// district.EPDStation.
	aqhiStations = [][2]string{
		{"Central/Western", "General"}, {"Southern", "General"}, {"Eastern", "General"}, {"Kwun Tong", "General"},
		{"Sham Shui Po", "General"}, {"Kwai Chung", "General"}, {"Tsuen Wan", "General"}, {"Tseung Kwan O", "General"},
		{"Yuen Long", "General"}, {"Tuen Mun", "General"}, {"Tung Chung", "General"}, {"Tai Po", "General"},
		{"Sha Tin", "General"}, {"North", "General"}, {"Tap Mun", "General"},
		{"Causeway Bay", "Roadside"}, {"Central", "Roadside"}, {"Mong Kok", "Roadside"},
	}
	lanes = []string{"Fast Lane", "Middle Lane", "Slow Lane"}
)

// entitiesOf lists what a feed reports on. Feeds the simulator does not
// know get ten generic entities.
func entitiesOf(feed *catalog.Feed) []entity {
	var out []entity
	switch feed.Name {
	case "hko.weather.temperature", "hko.weather.humidity", "hko.weather.uv":
		n := len(weatherStations)
		if feed.Name != "hko.weather.temperature" {
			n = 1 // humidity and UV are published for one station
		}
		for _, name := range weatherStations[:n] {
			code, _ := district.HKOStation(name)
			out = append(out, entity{"station": name, "district": code})
		}
	case "hko.weather.rainfall":
		for i, d := range district.All() {
			out = append(out, entity{"district": d.Code, "place": districtNames[i], "maintenance": false})
		}
	case "hko.weather.warnings":
		out = append(out, entity{"family": "WHOT", "code": "WHOT", "name": "Very Hot Weather Warning", "action": "REISSUE"})
	case "hko.weather.forecast":
		for d := 1; d <= 9; d++ {
			out = append(out, entity{"icon": int64(50 + d%4), "forecast_date": func(at time.Time) any {
				return at.In(connector.HKT).AddDate(0, 0, d).Format("2006-01-02")
			}})
		}
	case "td.traffic.detectors":
		for d := 0; d < 120; d++ {
			for _, l := range lanes {
				out = append(out, entity{"detector_id": fmt.Sprintf("AID%05d", 1101+d*7), "lane_id": l, "direction": "South East", "district": district.All()[d%len(district.All())].Code, "valid": true})
			}
		}
	case "td.traffic.segments":
		for s := 0; s < 200; s++ {
			out = append(out, entity{"segment_id": fmt.Sprintf("%d-%d", 3000+s, 3001+s), "valid": true})
		}
	case "td.traffic.journeytimes":
		for l := 1; l <= 12; l++ {
			out = append(out, entity{"location_id": fmt.Sprintf("H%d", l), "destination_id": fmt.Sprintf("CH%d", l%4+1), "journey_type": int64(1), "colour_id": int64(1)})
		}
	case "epd.aqhi.stations", "epd.air.pollutants":
		for _, s := range aqhiStations {
			code, _ := district.EPDStation(s[0])
			e := entity{"station": s[0], "district": code}
			if feed.Name == "epd.aqhi.stations" {
				e["station_type"] = s[1]
				e["aqhi_10plus"] = false
			}
			out = append(out, e)
		}
	default:
		for i := 0; i < 10; i++ {
			e := entity{}
			for _, k := range feed.Key {
				if f := feed.Field(k); f != nil && f.Type == catalog.String {
					e[k] = fmt.Sprintf("%s-%d", k, i+1)
				}
			}
			out = append(out, e)
		}
	}
	// Only keep values for fields the feed has (specs may evolve).
	for _, e := range out {
		for k := range e {
			if feed.Field(k) == nil {
				delete(e, k)
			}
		}
	}
	return out
}
