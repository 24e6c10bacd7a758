package hko

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cityhighway/highway/connectors/connector"
)

// ParseForecast parses the 9-day weather forecast (dataType=fnd, twice a
// day) into hko.weather.forecast: one record per day of weatherForecast,
// keyed by forecast_date ("YYYY-MM-DD", from forecastDate "YYYYMMDD"), all
// at the payload's updateTime. Temperatures and humidities are the value of
// their {value, unit} objects; the icon is ForecastIcon (capital F, as
// published; forecastIcon is read too). seaTemp (an object) and soilTemp (a
// list) are not part of the feed and are not read.
//
// A payload without a readable updateTime or weatherForecast list is an
// error: no record could have a time. A day that cannot be read becomes a
// reject naming it ("weatherForecast[3]"); the other days still come out.
func ParseForecast(payload []byte) (connector.Result, error) {
	top, err := decodeTop("fnd", payload)
	if err != nil {
		return connector.Result{}, err
	}
	updated, reason := top.time("updateTime")
	if reason == "" && updated.IsZero() {
		reason = "updateTime is missing"
	}
	if reason != "" {
		return connector.Result{}, connector.Malformed("fnd", "%s", reason)
	}
	if !top.has("weatherForecast") {
		return connector.Result{}, connector.Malformed("fnd", "weatherForecast is missing")
	}
	days, reason := asList(top["weatherForecast"], "weatherForecast")
	if reason != "" {
		return connector.Result{}, connector.Malformed("fnd", "%s", reason)
	}
	var (
		res   connector.Result
		o     connector.Object
		dates = seen{}
	)
	for i, raw := range days {
		where := fmt.Sprintf("weatherForecast[%d]", i)
		if reason := forecastDay(&res, &o, raw, where, updated, dates); reason != "" {
			res.Reject(FeedForecast, where, reason, raw)
		}
	}
	return res, nil
}

// forecastDay adds the record of one day, or returns why it cannot.
func forecastDay(res *connector.Result, o *connector.Object, raw json.RawMessage, where string, updated time.Time, dates seen) string {
	day, reason := asObject(raw, where)
	if reason != "" {
		return reason
	}
	ymd, reason := day.text("forecastDate")
	if reason != "" {
		return reason
	}
	if ymd == "" {
		return "forecastDate is missing"
	}
	d, err := time.Parse("20060102", ymd)
	if err != nil {
		return fmt.Sprintf("forecastDate %q is not a date like 20210915", ymd)
	}
	date := d.Format(time.DateOnly)
	if reason := dates.repeat("date " + date); reason != "" {
		return reason
	}
	var reasons []string
	str := func(name string) string {
		s, r := day.text(name)
		if r != "" {
			reasons = append(reasons, r)
		}
		return s
	}
	week, wind, weather, psr := str("week"), str("forecastWind"), str("forecastWeather"), str("PSR")
	type reading struct {
		v  float64
		ok bool
	}
	measure := func(name, unit string) reading {
		if !day.has(name) {
			return reading{}
		}
		m, r := asObject(day[name], name)
		if r == "" {
			r = measureUnit(m, name, unit)
		}
		if r != "" {
			reasons = append(reasons, r)
			return reading{}
		}
		v, ok, r := m.number("value")
		if r != "" {
			reasons = append(reasons, name+"."+r)
		}
		return reading{v, ok}
	}
	maxT, minT := measure("forecastMaxtemp", "C"), measure("forecastMintemp", "C")
	maxRH, minRH := measure("forecastMaxrh", "percent"), measure("forecastMinrh", "percent")
	iconName := "ForecastIcon"
	if !day.has(iconName) {
		iconName = "forecastIcon"
	}
	icon, iconOK, r := day.number(iconName)
	if r != "" {
		reasons = append(reasons, r)
	}
	if iconOK && (math.Abs(icon) > 1<<53 || icon != math.Trunc(icon)) {
		reasons = append(reasons, fmt.Sprintf("%s %v is not a whole number", iconName, icon))
	}
	if len(reasons) > 0 {
		return strings.Join(reasons, "; ")
	}
	o.Begin()
	o.String("forecast_date", date)
	o.StringOrNull("week", week)
	o.StringOrNull("wind", wind)
	o.StringOrNull("weather", weather)
	o.Opt("max_temp", maxT.v, maxT.ok)
	o.Opt("min_temp", minT.v, minT.ok)
	o.Opt("max_rh", maxRH.v, maxRH.ok)
	o.Opt("min_rh", minRH.v, minRH.ok)
	o.OptInt("icon", int64(icon), iconOK)
	o.StringOrNull("psr", psr)
	o.Time("update_time", updated)
	res.Add(connector.Record{Feed: FeedForecast, Key: date, Value: o.End(), Where: where})
	dates.add("date "+date, where)
	return ""
}

// measureUnit checks the unit of a {value, unit} object, which may be absent.
func measureUnit(m object, name, want string) string {
	u, r := m.text("unit")
	if r != "" {
		return name + "." + r
	}
	if u != "" && u != want {
		return fmt.Sprintf("%s.unit %q is not %q", name, u, want)
	}
	return ""
}
