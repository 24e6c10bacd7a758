package td

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/cityhighway/highway/connectors/connector"
)

// ParseJourneyTimes parses TD's journey times (Journeytimev2.xml, every 2
// minutes; default namespace http://data.one.gov.hk/td, which is read by
// local names) into td.traffic.journeytimes: one record per
// jtis_journey_time, keyed by location_id and destination_id, at its
// CAPTURE_DATE (Hong Kong time, written without an offset).
//
// JOURNEY_TYPE says what JOURNEY_DATA holds: with 1 it is minutes
// (journey_minutes; -1 means not available: null), with 2 a status code
// shown instead of a time (status_code; seen: 1 congested, 3 closed). An
// empty JOURNEY_DESC is null.
//
// An item that cannot be read becomes a reject ("journey 3 (H11 to CH)"),
// the others still come out; a location and destination given twice keep
// the first. A truncated file gives the items before the cut and an error
// wrapping connector.ErrTruncated; a file that is not Journeytimev2 XML is an
// error wrapping connector.ErrMalformed.
func ParseJourneyTimes(payload []byte) (connector.Result, error) {
	w := connector.NewXMLWalker("Journeytimev2.xml", payload)
	if err := w.Root("jtis_journey_list"); err != nil {
		return connector.Result{}, err
	}
	var (
		res  connector.Result
		o    connector.Object
		n    int
		item = map[string]string{}
		seen = map[string]int{}
	)
	for {
		ev, err := w.Next()
		if errors.Is(err, io.EOF) {
			return res, nil
		}
		if err != nil {
			return res, err
		}
		switch {
		case !ev.End && ev.Depth == 2:
			n++
			clear(item)
		case ev.End && ev.Depth == 3:
			item[ev.Name] = string(ev.Text)
		case ev.End && ev.Depth == 2 && ev.Name == "jtis_journey_time":
			where := fmt.Sprintf("journey %d (%s to %s)", n, item["LOCATION_ID"], item["DESTINATION_ID"])
			if reason := journey(&res, &o, item, where, seen, n); reason != "" {
				res.Reject(FeedJourneyTimes, where, reason, w.Raw(ev))
			}
		}
	}
}

// journey adds the record of one item, or returns why it cannot.
func journey(res *connector.Result, o *connector.Object, item map[string]string, where string, seen map[string]int, n int) string {
	loc, dest := item["LOCATION_ID"], item["DESTINATION_ID"]
	if loc == "" || dest == "" {
		return "LOCATION_ID or DESTINATION_ID is missing"
	}
	key := connector.JoinKey(loc, dest)
	if first, dup := seen[key]; dup {
		return fmt.Sprintf("%s to %s is given again; the first, journey %d, is kept", loc, dest, first)
	}
	captured, err := journeyTime(item["CAPTURE_DATE"])
	if err != nil {
		return err.Error()
	}
	typ, typOK, reason := whole(item, "JOURNEY_TYPE")
	if reason != "" {
		return reason
	}
	colour, colourOK, reason := whole(item, "COLOUR_ID")
	if reason != "" {
		return reason
	}
	var (
		minutes   float64
		minutesOK bool
		status    int64
		statusOK  bool
		data      = item["JOURNEY_DATA"]
	)
	switch {
	case data == "":
	case !typOK || typ == 1:
		if minutes, minutesOK = connector.Number([]byte(data)); !minutesOK {
			return fmt.Sprintf("JOURNEY_DATA %q is not a number of minutes", data)
		}
		if minutes == -1 {
			minutesOK = false // not available
		}
	case typ == 2:
		if status, statusOK = connector.Whole([]byte(data)); !statusOK {
			return fmt.Sprintf("JOURNEY_DATA %q is not a status code", data)
		}
	default:
		return fmt.Sprintf("JOURNEY_TYPE %d is not 1 (minutes) or 2 (a status code)", typ)
	}
	seen[key] = n
	o.Begin()
	o.String("location_id", loc)
	o.String("destination_id", dest)
	o.OptInt("journey_type", typ, typOK)
	o.Opt("journey_minutes", minutes, minutesOK)
	o.OptInt("status_code", status, statusOK)
	o.OptInt("colour_id", colour, colourOK)
	o.StringOrNull("description", item["JOURNEY_DESC"])
	o.Time("capture_time", captured)
	res.Add(connector.Record{Feed: FeedJourneyTimes, Key: key, Value: o.End(), Where: where})
	return ""
}

// journeyTime reads CAPTURE_DATE: local time without an offset, as TD writes
// it, or RFC 3339 with one.
func journeyTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("CAPTURE_DATE is missing")
	}
	if t, err := connector.LocalTime("2006-01-02T15:04:05", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("CAPTURE_DATE %q is not a time like 2017-09-16T14:16:35", s)
}

// whole reads an optional whole-number element of an item.
func whole(item map[string]string, name string) (int64, bool, string) {
	s := item[name]
	if s == "" {
		return 0, false, ""
	}
	v, ok := connector.Whole([]byte(s))
	if !ok {
		return 0, false, fmt.Sprintf("%s %s is not a whole number", name, strconv.Quote(s))
	}
	return v, true, ""
}
