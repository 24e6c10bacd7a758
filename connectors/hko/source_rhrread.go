package hko

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cityhighway/highway/connectors/connector"
	"github.com/cityhighway/highway/connectors/district"
)

// ParseRhrread parses the current weather report (dataType=rhrread, hourly
// at HH:02) into four feeds:
//
//   - hko.weather.temperature, one record per station of temperature.data,
//     at temperature.recordTime, with the station's district where known;
//   - hko.weather.rainfall, one per district of rainfall.data, for the window
//     startTime–endTime (HH:45 to HH:45);
//   - hko.weather.humidity, one per station of humidity.data, at its recordTime;
//   - hko.weather.uv, one per station of uvindex.data. The UV index is "during
//     the past hour" and carries no time of its own: its record_time is the
//     report's updateTime cut down to the hour (11:02 → 11:00).
//
// The quirks of the feed are handled so: uvindex is "" at night (no UV
// records, no reject); warningMessage and tcmessage may be "" or a list, and
// neither is read; place names are HTML-unescaped ("Central &amp; Western
// District"); a rainfall district under maintenance (main "TRUE") keeps its
// maintenance flag and whatever values it has, and a missing min or max is
// null; main "" is an unknown maintenance state (null). A section that is
// not what it should be becomes one reject and the other sections still come
// out; an item that cannot be read becomes a reject naming it
// ("rainfall.data[3]"). Only a payload that is not a JSON object is an error.
func ParseRhrread(payload []byte) (connector.Result, error) {
	top, err := decodeTop("rhrread", payload)
	if err != nil {
		return connector.Result{}, err
	}
	var (
		res connector.Result
		o   connector.Object
	)
	parseStationValues(&res, &o, top, temperatureSection)
	parseRainfall(&res, &o, top)
	parseStationValues(&res, &o, top, humiditySection)
	parseUV(&res, &o, top)
	return res, nil
}

// section reads top[name] as {data: [...], <timeNames>...}. It returns
// ok false when the section is absent (nothing to do) or broken (one reject
// already added).
func section(res *connector.Result, top object, feed, name string) (object, []json.RawMessage, bool) {
	raw, present := top[name]
	if !present || kind(raw) == "null" {
		return nil, nil, false
	}
	sec, reason := asObject(raw, name)
	if reason != "" {
		res.Reject(feed, name, reason, raw)
		return nil, nil, false
	}
	if !sec.has("data") {
		res.Reject(feed, name, name+".data is missing", raw)
		return nil, nil, false
	}
	data, reason := asList(sec["data"], name+".data")
	if reason != "" {
		res.Reject(feed, name, reason, raw)
		return nil, nil, false
	}
	return sec, data, true
}

// sectionTime reads a time every item of a section needs; when it is
// missing or bad, one reject covers the whole section.
func sectionTime(res *connector.Result, sec object, feed, name, member string, n int) (time.Time, bool) {
	t, reason := sec.time(member)
	if reason == "" && t.IsZero() {
		reason = member + " is missing"
	}
	if reason != "" {
		res.Reject(feed, name+"."+member, fmt.Sprintf("%s; the section's %d readings have no time", reason, n), sec[member])
		return time.Time{}, false
	}
	return t, true
}

// seen tracks the keys given so far in one list, to reject repeats.
type seen map[string]string

// repeat returns the reason key is a repeat of a record already given, or "".
func (s seen) repeat(key string) string {
	if prev, dup := s[key]; dup {
		return fmt.Sprintf("%s is given again; the first is at %s", key, prev)
	}
	return ""
}

// add records that the record of key was given at where. Only records that
// came out are added: a rejected first item does not shadow a good second.
func (s seen) add(key, where string) { s[key] = where }

// readings walks the items of a station list (temperature, humidity, UV),
// calling emit for each readable one with its station name.
func readings(res *connector.Result, feed, name string, data []json.RawMessage, emit func(it object, station, where string) string) {
	stations := seen{}
	for i, raw := range data {
		where := fmt.Sprintf("%s.data[%d]", name, i)
		it, reason := asObject(raw, where)
		if reason == "" {
			var station string
			station, reason = it.text("place")
			switch {
			case reason != "":
			case station == "":
				reason = "place is missing"
			default:
				if reason = stations.repeat("station " + station); reason == "" {
					if reason = emit(it, station, where); reason == "" {
						stations.add("station "+station, where)
					}
				}
			}
		}
		if reason != "" {
			res.Reject(feed, where, reason, raw)
		}
	}
}

// unit checks an item's unit, which may be absent.
func unit(it object, want string) string {
	u, reason := it.text("unit")
	if reason != "" {
		return reason
	}
	if u != "" && u != want {
		return fmt.Sprintf("unit %q is not %q", u, want)
	}
	return ""
}

// stationSection is a section of one reading per station, the number
// "value" in unit at the section's recordTime, written as field.
type stationSection struct {
	feed, name, unit, field string
	district                bool // the record also names the station's district
}

var (
	temperatureSection = stationSection{feed: FeedTemperature, name: "temperature", unit: "C", field: "temperature", district: true}
	humiditySection    = stationSection{feed: FeedHumidity, name: "humidity", unit: "percent", field: "humidity"}
)

func parseStationValues(res *connector.Result, o *connector.Object, top object, ss stationSection) {
	sec, data, ok := section(res, top, ss.feed, ss.name)
	if !ok || len(data) == 0 {
		return
	}
	at, ok := sectionTime(res, sec, ss.feed, ss.name, "recordTime", len(data))
	if !ok {
		return
	}
	readings(res, ss.feed, ss.name, data, func(it object, station, where string) string {
		v, reason := value(it)
		if reason == "" {
			reason = unit(it, ss.unit)
		}
		if reason != "" {
			return reason
		}
		o.Begin()
		o.String("station", station)
		if ss.district {
			code, _ := district.HKOStation(station)
			o.StringOrNull("district", code)
		}
		o.Float(ss.field, v)
		o.Time("record_time", at)
		res.Add(connector.Record{Feed: ss.feed, Key: station, Value: o.End(), Where: where})
		return ""
	})
}

// value reads an item's number "value", which must be there.
func value(it object) (float64, string) {
	v, ok, reason := it.number("value")
	if reason == "" && !ok {
		reason = "value is missing"
	}
	return v, reason
}

// uvLevels maps the exposure levels as published (English, and the
// traditional and simplified Chinese of lang=tc|sc) to the spec's enum.
var uvLevels = map[string]string{
	"low": "low", "moderate": "moderate", "high": "high", "very high": "very high", "extreme": "extreme",
	"低": "low", "中": "moderate", "中等": "moderate", "高": "high", "甚高": "very high", "極高": "extreme", "极高": "extreme",
}

func parseUV(res *connector.Result, o *connector.Object, top object) {
	raw, present := top["uvindex"]
	if !present || kind(raw) == "null" || kind(raw) == "an empty string" {
		return // "" at night: no UV index, nothing wrong
	}
	_, data, ok := section(res, top, FeedUV, "uvindex")
	if !ok || len(data) == 0 {
		return
	}
	// The UV index has no time of its own: it is for the hour that ends at
	// the report's hour.
	updated, reason := top.time("updateTime")
	if reason == "" && updated.IsZero() {
		reason = "updateTime is missing"
	}
	if reason != "" {
		res.Reject(FeedUV, "updateTime", fmt.Sprintf("%s; the %d UV readings have no time", reason, len(data)), top["updateTime"])
		return
	}
	at := updated.Truncate(time.Hour)
	readings(res, FeedUV, "uvindex", data, func(it object, station, where string) string {
		v, reason := value(it)
		desc, r2 := it.text("desc")
		if reason == "" {
			reason = r2
		}
		if reason != "" {
			return reason
		}
		level, known := uvLevels[strings.ToLower(desc)]
		if desc != "" && !known {
			level = desc // not one of the enum: the spec rejects it with its reason
		}
		o.Begin()
		o.String("station", station)
		o.Float("uv_index", v)
		o.StringOrNull("level", level)
		o.Time("record_time", at)
		res.Add(connector.Record{Feed: FeedUV, Key: station, Value: o.End(), Where: where})
		return ""
	})
}

func parseRainfall(res *connector.Result, o *connector.Object, top object) {
	sec, data, ok := section(res, top, FeedRainfall, "rainfall")
	if !ok || len(data) == 0 {
		return
	}
	end, ok := sectionTime(res, sec, FeedRainfall, "rainfall", "endTime", len(data))
	if !ok {
		return
	}
	start, reason := sec.time("startTime")
	if reason != "" {
		// The window's start is optional in the spec; the records keep their end.
		res.Reject(FeedRainfall, "rainfall.startTime", reason+"; the records have no start_time", sec["startTime"])
	}
	districts := seen{}
	for i, raw := range data {
		where := fmt.Sprintf("rainfall.data[%d]", i)
		if reason := rainfall(res, o, raw, where, start, end, districts); reason != "" {
			res.Reject(FeedRainfall, where, reason, raw)
		}
	}
}

// rainfall adds the record of one district, or returns why it cannot.
func rainfall(res *connector.Result, o *connector.Object, raw json.RawMessage, where string, start, end time.Time, districts seen) string {
	it, reason := asObject(raw, where)
	if reason != "" {
		return reason
	}
	place, reason := it.text("place")
	if reason != "" {
		return reason
	}
	if place == "" {
		return "place is missing"
	}
	code, ok := district.Normalize(place)
	if !ok {
		return fmt.Sprintf("place %q is not one of the 18 districts", place)
	}
	if reason := districts.repeat("district " + code); reason != "" {
		return reason
	}
	if reason := unit(it, "mm"); reason != "" {
		return reason
	}
	hi, hiOK, reason := it.number("max")
	if reason != "" {
		return reason
	}
	lo, loOK, reason := it.number("min")
	if reason != "" {
		return reason
	}
	maint, maintOK, reason := flag(it, "main")
	if reason != "" {
		return reason
	}
	o.Begin()
	o.String("district", code)
	o.String("place", place)
	o.Opt("rain_max", hi, hiOK)
	o.Opt("rain_min", lo, loOK)
	o.OptBool("maintenance", maint, maintOK)
	o.OptTime("start_time", start)
	o.Time("end_time", end)
	res.Add(connector.Record{Feed: FeedRainfall, Key: code, Value: o.End(), Where: where})
	districts.add("district "+code, where)
	return ""
}

// flag reads HKO's string booleans: "TRUE"/"FALSE" (any case, or JSON
// true/false); "" or absence is unknown.
func flag(it object, name string) (v, ok bool, reason string) {
	s, reason := it.text(name)
	if reason != "" {
		return false, false, reason
	}
	switch strings.ToUpper(s) {
	case "":
		return false, false, ""
	case "TRUE":
		return true, true, ""
	case "FALSE":
		return false, true, ""
	}
	return false, false, fmt.Sprintf("%s %q is not TRUE, FALSE or empty", name, s)
}
