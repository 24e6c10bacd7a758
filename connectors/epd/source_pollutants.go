package epd

import (
	"fmt"

	"github.com/cityhighway/highway/connectors/connector"
	"github.com/cityhighway/highway/connectors/district"
)

// pollutants maps the file's elements to the spec's fields, in the order the
// records write them.
var pollutants = [...]struct{ element, field string }{
	{"NO2", "no2"}, {"O3", "o3"}, {"SO2", "so2"}, {"CO", "co"}, {"PM10", "pm10"}, {"PM2.5", "pm2_5"},
}

// ParsePollutants parses the past-24-hour pollutant concentrations
// (24pc_Eng.xml, hourly: 18 stations × 24 hours of PollutantConcentration
// blocks) into epd.air.pollutants: one record per block, keyed by station,
// at its DateTime. Concentrations are µg/m³ as published; a missing reading
// is "-" (or empty, or absent) and becomes null, never 0. CO is measured at
// some stations only.
//
// A block that cannot be read becomes a reject ("block 5 (Central/Western
// 14:00)"), the others still come out; a station and hour given twice keep
// the first. A payload that is not this file is an error wrapping
// connector.ErrMalformed; a truncated one gives the blocks before the cut
// and an error wrapping connector.ErrTruncated.
func ParsePollutants(payload []byte) (connector.Result, error) {
	w := connector.NewXMLWalker("24pc_Eng.xml", payload)
	if err := w.Root("AQHI24HrPollutantConcentration"); err != nil {
		return connector.Result{}, err
	}
	var (
		res  connector.Result
		o    connector.Object
		seen = noDuplicates{}
	)
	err := walkBlocks(w, "PollutantConcentration", nil, func(n int, block map[string]string, end connector.XMLEvent) {
		where := fmt.Sprintf("block %d (%s %s)", n, block["StationName"], block["DateTime"])
		if reason := pollutantBlock(&res, &o, block, where, seen); reason != "" {
			res.Reject(FeedPollutants, where, reason, w.Raw(end))
		}
	})
	return res, err
}

// pollutantBlock adds the record of one block, or returns why it cannot.
func pollutantBlock(res *connector.Result, o *connector.Object, block map[string]string, where string, seen noDuplicates) string {
	station := block["StationName"]
	if station == "" {
		return "StationName is missing"
	}
	if block["DateTime"] == "" {
		return "DateTime is missing"
	}
	at, err := epdTime(block["DateTime"])
	if err != nil {
		return "DateTime " + err.Error()
	}
	key := station + connector.KeySep + at.UTC().String()
	if reason := seen.repeat(key, "station "+station+" at "+block["DateTime"]); reason != "" {
		return reason
	}
	var (
		values  [len(pollutants)]float64
		present [len(pollutants)]bool
	)
	for i, p := range pollutants {
		s := block[p.element]
		if s == "" || s == "-" {
			continue // no reading: null, never 0
		}
		v, ok := connector.Number([]byte(s))
		if !ok {
			return fmt.Sprintf("%s %q is not a number or -", p.element, s)
		}
		values[i], present[i] = v, true
	}
	code, _ := district.EPDStation(station)
	o.Begin()
	o.String("station", station)
	o.StringOrNull("district", code)
	for i, p := range pollutants {
		o.Opt(p.field, values[i], present[i])
	}
	o.Time("measure_time", at)
	res.Add(connector.Record{Feed: FeedPollutants, Key: station, Value: o.End(), Where: where})
	seen[key] = where
	return ""
}
