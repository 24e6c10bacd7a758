package sim

import (
	"encoding/json"
	"math"
	"strings"
	"time"

	"github.com/cityhighway/highway/connectors/connector"
)

// HKO writes times as RFC 3339 with the +08:00 offset.
const hkoTime = "2006-01-02T15:04:05-07:00"

// js is s as a JSON string.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// rhrread is HKO's current weather report: temperature per station,
// rainfall per district, humidity, UV ("" at night) and warning messages.
func (g *gen) rhrread() []byte {
	at := g.at.In(connector.HKT)
	h := hour(at)
	end := at.Add(-g.step / 4) // the rainfall window ends at HH:45 of the hour before
	update := at.Add(g.step / 30)
	g.printf(`{"rainfall":{"data":[`)
	for i, name := range districtNames {
		if i > 0 {
			g.printf(",")
		}
		// HKO escapes the ampersand of "Central & Western District".
		place := strings.ReplaceAll(name, "&", "&amp;")
		mm := math.Round(rain(h, g.rng.NormFloat64()) * (0.6 + 0.05*float64(i%8)))
		main := `"FALSE"`
		if g.rng.Float64() < 0.01 {
			main = `"TRUE"` // gauges under maintenance
		}
		switch {
		case g.spoil():
			g.printf(`{"unit":"mm","place":%s,"max":"heavy","main":%s}`, js(place), main)
		case mm > 0:
			g.printf(`{"unit":"mm","place":%s,"min":%v,"max":%v,"main":%s}`, js(place), math.Floor(mm/3), mm, main)
		default:
			g.printf(`{"unit":"mm","place":%s,"max":0,"main":%s}`, js(place), main)
		}
	}
	g.printf(`],"startTime":%q,"endTime":%q},`, end.Add(-min(g.step, time.Hour)).Format(hkoTime), end.Format(hkoTime))
	icon := 50
	if raining(h) {
		icon = 62
	}
	g.printf(`"icon":[%d],"iconUpdateTime":%q,`, icon, at.Format(hkoTime))
	if uv := math.Round(uvIndex(h, g.rng.NormFloat64())); uv > 0 {
		g.printf(`"uvindex":{"data":[{"place":"King's Park","value":%v,"desc":%q}],"recordDesc":"During the past hour"},`, uv, uvLevel(uv))
	} else {
		g.printf(`"uvindex":"",`) // at night, as HKO writes it
	}
	g.printf(`"updateTime":%q,"temperature":{"data":[`, update.Format(hkoTime))
	for i, st := range weatherStations {
		if i > 0 {
			g.printf(",")
		}
		v := math.Round(temperature(h, i, g.rng.NormFloat64()))
		switch {
		case g.spoil() && i%2 == 0:
			g.printf(`{"place":%s,"value":"N/A","unit":"C"}`, js(st))
		case g.spoil():
			g.printf(`{"place":%s,"value":%v,"unit":"C"}`, js(st), v+70) // beyond the spec's range
		default:
			g.printf(`{"place":%s,"value":%v,"unit":"C"}`, js(st), v)
		}
	}
	g.printf(`],"recordTime":%q},`, at.Format(hkoTime))
	if raining(h) {
		g.printf(`"warningMessage":["The Amber Rainstorm Warning Signal was issued at %s."],`, rainStart(at).Format("15:04"))
	} else {
		g.printf(`"warningMessage":"",`)
	}
	g.printf(`"mintempFrom00To09":"","rainfallFrom00To12":"","rainfallLastMonth":"","rainfallJanuaryToLastMonth":"","tcmessage":"",`)
	g.printf(`"humidity":{"recordTime":%q,"data":[{"unit":"percent","value":%v,"place":"Hong Kong Observatory"}]}}`,
		at.Format(hkoTime), math.Round(humidity(h, g.rng.NormFloat64())))
	return g.buf.Bytes()
}

// uvLevel is HKO's exposure level of a UV index.
func uvLevel(uv float64) string {
	switch {
	case uv <= 2:
		return "low"
	case uv <= 5:
		return "moderate"
	case uv <= 7:
		return "high"
	case uv <= 10:
		return "very high"
	}
	return "extreme"
}

// rainStart is the start of the rain event at or before t: events start at
// 00:00, 05:00, 10:00, 15:00 and 20:00.
func rainStart(t time.Time) time.Time {
	t = t.In(connector.HKT)
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, connector.HKT)
	return day.Add(time.Duration(t.Hour()/5*5) * time.Hour)
}

// warnsum is the summary of warnings in force: the Amber Rainstorm Warning
// while a rain event passes (cancelled for an hour after), the Very Hot
// Weather Warning from 11:00 to 19:00 (cancelled for an hour after); {}
// when nothing is in force.
func (g *gen) warnsum() []byte {
	at := g.at.In(connector.HKT)
	h := hour(at)
	day := time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, connector.HKT)
	var parts []string
	// A spoiled warning has no updateTime.
	warning := func(family, name, code, action string, issued, expires, updated time.Time) string {
		if g.spoil() {
			updated = time.Time{}
		}
		return warning(family, name, code, action, issued, expires, updated)
	}
	start := rainStart(at)
	switch {
	case raining(h):
		parts = append(parts, warning("WRAIN", "Amber Rainstorm Warning Signal", "WRAINA", "ISSUE", start, time.Time{}, start))
	case math.Mod(h, 5) < 2:
		parts = append(parts, warning("WRAIN", "Amber Rainstorm Warning Signal", "WRAINA", "CANCEL", start, time.Time{}, start.Add(time.Hour)))
	}
	hot := day.Add(11 * time.Hour)
	switch {
	case h >= 11 && h < 19:
		parts = append(parts, warning("WHOT", "Very Hot Weather Warning", "WHOT", "ISSUE", hot, time.Time{}, hot))
	case h >= 19 && h < 20:
		parts = append(parts, warning("WHOT", "Very Hot Weather Warning", "WHOT", "CANCEL", hot, time.Time{}, day.Add(19*time.Hour)))
	}
	if h >= 6 && h < 18 {
		fire := day.Add(6 * time.Hour)
		parts = append(parts, warning("WFIRE", "Fire Danger Warning", "WFIREY", "ISSUE", fire, day.Add(18*time.Hour), fire))
	}
	g.printf("{%s}", strings.Join(parts, ","))
	return g.buf.Bytes()
}

func warning(family, name, code, action string, issued, expires, updated time.Time) string {
	s := `"` + family + `":{"name":` + js(name) + `,"code":"` + code + `","actionCode":"` + action + `","issueTime":"` + issued.Format(hkoTime) + `"`
	if !expires.IsZero() {
		s += `,"expireTime":"` + expires.Format(hkoTime) + `"`
	}
	if !updated.IsZero() {
		s += `,"updateTime":"` + updated.Format(hkoTime) + `"`
	}
	return s + "}"
}

// forecast is HKO's 9-day weather forecast.
func (g *gen) forecast() []byte {
	at := g.at.In(connector.HKT)
	g.printf(`{"generalSituation":"A ridge of high pressure will bring fine weather to the coast of southern China in the next few days.","weatherForecast":[`)
	psr := []string{"Low", "Medium Low", "Medium", "Medium High", "High"}
	for d := 1; d <= 9; d++ {
		if d > 1 {
			g.printf(",")
		}
		day := at.AddDate(0, 0, d)
		date := day.Format("20060102")
		if g.spoil() {
			date = day.Format("2006-01-02") // not YYYYMMDD
		}
		noise := g.rng.NormFloat64()
		maxT := math.Round(temperature(14, d, noise) + 1)
		minT := math.Round(temperature(5, d, noise) - 1)
		g.printf(`{"forecastDate":%q,"week":%q,"forecastWind":"East force 3 to 4.","forecastWeather":"Sunny periods. Isolated showers later.",`, date, day.Weekday().String())
		g.printf(`"forecastMaxtemp":{"value":%v,"unit":"C"},"forecastMintemp":{"value":%v,"unit":"C"},`, maxT, minT)
		g.printf(`"forecastMaxrh":{"value":%v,"unit":"percent"},"forecastMinrh":{"value":%v,"unit":"percent"},`, 90+d%3, 60+d%10)
		g.printf(`"ForecastIcon":%d,"PSR":%q}`, 50+(d%4), psr[(d+at.Day())%len(psr)])
	}
	g.printf(`],"updateTime":%q,"seaTemp":{"place":"North Point","value":24,"unit":"C","recordTime":%q},`, at.Format(hkoTime), at.Format(hkoTime))
	g.printf(`"soilTemp":[{"place":"Hong Kong Observatory","value":25.3,"unit":"C","recordTime":%q,"depth":{"unit":"metre","value":0.5}}]}`, at.Format(hkoTime))
	return g.buf.Bytes()
}
