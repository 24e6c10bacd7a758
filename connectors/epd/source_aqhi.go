package epd

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cityhighway/highway/connectors/connector"
	"github.com/cityhighway/highway/connectors/district"
)

// ParseAQHI parses the current Air Quality Health Index RSS
// (aqhi_ind_rss_Eng.xml, hourly, 18 items: 15 general and 3 roadside
// stations) into epd.aqhi.stations: one record per item, keyed by station.
//
// The title "<station> : <aqhi> : <risk>" gives the station, index and risk
// category; the description ("<station> - General Stations: 2 Low - ...")
// gives the station type; the item's pubDate (else the channel's) is the
// publish time. An AQHI of "10+" is aqhi 11 with aqhi_10plus true; any other
// has aqhi_10plus false. The district comes from the station (see
// district.EPDStation). A BOM and white space before the document are
// skipped.
//
// An item that cannot be read becomes a reject ("item 3 (Central/Western)"),
// the others still come out. A payload that is not RSS is an error wrapping
// connector.ErrMalformed; a truncated one gives the items before the cut and
// an error wrapping connector.ErrTruncated.
func ParseAQHI(payload []byte) (connector.Result, error) {
	w := connector.NewXMLWalker("aqhi_ind_rss_Eng.xml", payload)
	if err := w.Root("rss"); err != nil {
		return connector.Result{}, err
	}
	var (
		res         connector.Result
		o           connector.Object
		channelDate string
		seen        = noDuplicates{}
	)
	err := walkBlocks(w, "item", func(ev connector.XMLEvent) {
		if ev.Name == "pubDate" && ev.Depth == 3 {
			channelDate = string(ev.Text)
		}
	}, func(n int, item map[string]string, end connector.XMLEvent) {
		station, _, _ := strings.Cut(item["title"], ":")
		where := fmt.Sprintf("item %d (%s)", n, strings.TrimSpace(station))
		if reason := aqhiItem(&res, &o, item, channelDate, where, seen); reason != "" {
			res.Reject(FeedAQHI, where, reason, w.Raw(end))
		}
	})
	return res, err
}

// riskNames are the risk categories as the spec spells them, by lower case.
var riskNames = map[string]string{"low": "Low", "moderate": "Moderate", "high": "High", "very high": "Very High", "serious": "Serious"}

// aqhiItem adds the record of one item, or returns why it cannot.
func aqhiItem(res *connector.Result, o *connector.Object, item map[string]string, channelDate, where string, seen noDuplicates) string {
	title := item["title"]
	parts := strings.Split(title, ":")
	if len(parts) != 3 {
		return fmt.Sprintf("title %q is not \"<station> : <aqhi> : <risk>\"", title)
	}
	station, index, risk := strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1]), strings.TrimSpace(parts[2])
	if station == "" {
		return fmt.Sprintf("title %q has no station", title)
	}
	if reason := seen.repeat(station, "station "+station); reason != "" {
		return reason
	}
	var (
		aqhi int64
		plus bool
	)
	if index == "10+" {
		aqhi, plus = 11, true
	} else {
		v, err := strconv.ParseInt(index, 10, 64)
		if err != nil {
			return fmt.Sprintf("AQHI %q is not a whole number or 10+", index)
		}
		aqhi = v
	}
	if r, ok := riskNames[strings.ToLower(risk)]; ok {
		risk = r
	}
	stationType := ""
	switch desc := item["description"]; {
	case strings.Contains(desc, "General Station"):
		stationType = "General"
	case strings.Contains(desc, "Roadside Station"):
		stationType = "Roadside"
	}
	date := item["pubDate"]
	if date == "" {
		date = channelDate
	}
	if date == "" {
		return "pubDate is missing, in the item and the channel"
	}
	published, err := epdTime(date)
	if err != nil {
		return "pubDate " + err.Error()
	}
	code, _ := district.EPDStation(station)
	o.Begin()
	o.String("station", station)
	o.StringOrNull("district", code)
	o.StringOrNull("station_type", stationType)
	o.Int("aqhi", aqhi)
	o.Bool("aqhi_10plus", plus)
	o.StringOrNull("risk", risk)
	o.Time("publish_time", published)
	res.Add(connector.Record{Feed: FeedAQHI, Key: station, Value: o.End(), Where: where})
	seen[station] = where
	return ""
}
