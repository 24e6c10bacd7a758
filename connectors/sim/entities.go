package sim

import (
	"fmt"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
)

// entity holds the fixed field values of one thing a feed reports on; a
// value of type func(time.Time) any is computed at each publication.
type entity map[string]any

var (
	districts     = []string{"CW", "WC", "E", "S", "YTM", "SSP", "KC", "WTS", "KT", "KWT", "TW", "TM", "YL", "N", "TP", "ST", "SK", "IS"}
	districtNames = []string{"Central & Western District", "Wan Chai", "Eastern District", "Southern District", "Yau Tsim Mong", "Sham Shui Po", "Kowloon City", "Wong Tai Sin", "Kwun Tong", "Kwai Tsing", "Tsuen Wan", "Tuen Mun", "Yuen Long", "North District", "Tai Po", "Sha Tin", "Sai Kung", "Islands District"}
	// weatherStations are HKO stations with their districts.
	weatherStations = [][2]string{
		{"Hong Kong Observatory", "YTM"}, {"King's Park", "YTM"}, {"Wong Chuk Hang", "S"}, {"Ta Kwu Ling", "N"},
		{"Lau Fau Shan", "YL"}, {"Tai Po", "TP"}, {"Sha Tin", "ST"}, {"Tuen Mun", "TM"}, {"Tseung Kwan O", "SK"},
		{"Sai Kung", "SK"}, {"Cheung Chau", "IS"}, {"Chek Lap Kok", "IS"}, {"Tsing Yi", "KWT"}, {"Shek Kong", "YL"},
		{"Tsuen Wan Ho Koon", "TW"}, {"Tsuen Wan Shing Mun Valley", "TW"}, {"Hong Kong Park", "CW"},
		{"Shau Kei Wan", "E"}, {"Kowloon City", "KC"}, {"Happy Valley", "WC"}, {"Wong Tai Sin", "WTS"},
		{"Stanley", "S"}, {"Kwun Tong", "KT"}, {"Sham Shui Po", "SSP"}, {"Kai Tak Runway Park", "KC"}, {"Yuen Long Park", "YL"},
	}
	// aqhiStations are EPD stations with their type and district.
	aqhiStations = [][3]string{
		{"Central/Western", "General", "CW"}, {"Southern", "General", "S"}, {"Eastern", "General", "E"},
		{"Kwun Tong", "General", "KT"}, {"Sham Shui Po", "General", "SSP"}, {"Kwai Chung", "General", "KWT"},
		{"Tsuen Wan", "General", "TW"}, {"Tseung Kwan O", "General", "SK"}, {"Yuen Long", "General", "YL"},
		{"Tuen Mun", "General", "TM"}, {"Tung Chung", "General", "IS"}, {"Tai Po", "General", "TP"},
		{"Sha Tin", "General", "ST"}, {"North", "General", "N"}, {"Tap Mun", "General", "TP"},
		{"Causeway Bay", "Roadside", "WC"}, {"Central", "Roadside", "CW"}, {"Mong Kok", "Roadside", "YTM"},
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
		for _, s := range weatherStations[:n] {
			out = append(out, entity{"station": s[0], "district": s[1]})
		}
	case "hko.weather.rainfall":
		for i, d := range districts {
			out = append(out, entity{"district": d, "place": districtNames[i], "maintenance": false})
		}
	case "hko.weather.warnings":
		out = append(out, entity{"family": "WHOT", "code": "WHOT", "name": "Very Hot Weather Warning", "action": "REISSUE"})
	case "hko.weather.forecast":
		for d := 1; d <= 9; d++ {
			out = append(out, entity{"icon": int64(50 + d%4), "forecast_date": func(at time.Time) any {
				return at.In(time.FixedZone("HKT", 8*3600)).AddDate(0, 0, d).Format("2006-01-02")
			}})
		}
	case "td.traffic.detectors":
		for d := 0; d < 120; d++ {
			for _, l := range lanes {
				out = append(out, entity{"detector_id": fmt.Sprintf("AID%05d", 1101+d*7), "lane_id": l, "direction": "South East", "district": districts[d%len(districts)], "valid": true})
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
			e := entity{"station": s[0], "district": s[2]}
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
