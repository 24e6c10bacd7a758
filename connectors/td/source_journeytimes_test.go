package td

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cityhighway/highway/connectors/connector"
	ct "github.com/cityhighway/highway/connectors/connector/connectortest"
)

func jtRecord(loc, dest, typ, minutes, status, colour, desc, at string) string {
	return fmt.Sprintf(`{"location_id":%q,"destination_id":%q,"journey_type":%s,"journey_minutes":%s,"status_code":%s,"colour_id":%s,"description":%s,"capture_time":%q}`,
		loc, dest, typ, minutes, status, colour, desc, at)
}

func jtis(items ...string) string {
	s := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" +
		`<jtis_journey_list xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://data.one.gov.hk/td http://data.one.gov.hk/xsd/td/journeytime.xsd" xmlns="http://data.one.gov.hk/td">`
	for _, it := range items {
		s += "\n    " + it
	}
	return s + "\n</jtis_journey_list>\n"
}

func jt(loc, dest, at, typ, data, colour, desc string) string {
	return `<jtis_journey_time><LOCATION_ID>` + loc + `</LOCATION_ID><DESTINATION_ID>` + dest + `</DESTINATION_ID><CAPTURE_DATE>` + at +
		`</CAPTURE_DATE><JOURNEY_TYPE>` + typ + `</JOURNEY_TYPE><JOURNEY_DATA>` + data + `</JOURNEY_DATA><COLOUR_ID>` + colour + `</COLOUR_ID><JOURNEY_DESC>` + desc + `</JOURNEY_DESC></jtis_journey_time>`
}

func TestJourneyTimes(t *testing.T) {
	ct.Run(t, ParseJourneyTimes, []ct.Case[string]{
		{
			Name:    "sample: default namespace, empty descriptions, local times",
			Payload: string(ct.Sample(t, "td_journeytime.xml")),
			Records: []want{
				{FeedJourneyTimes, "H11|CH", "journey 1 (H11 to CH)", jtRecord("H11", "CH", "1", "20", "null", "2", "null", "2017-09-16T14:16:35+08:00")},
				{FeedJourneyTimes, "H11|EH", "journey 2 (H11 to EH)", jtRecord("H11", "EH", "1", "4", "null", "3", "null", "2017-09-16T14:16:35+08:00")},
			},
		},
		{
			Name: "not available, status codes, descriptions; bad items are rejected",
			Payload: jtis(
				jt("H1", "EH", "2026-10-09T21:58:00", "1", "-1", "1", ""),
				jt("H2", "CH", "2026-10-09T21:58:00", "2", "3", "1", "Road closed &amp; diverted"),
				jt("H2", "WH", "2026-10-09T21:58:00+08:00", "1", "7.5", "3", " "),
				jt("H2", "EH", "yesterday", "1", "7", "3", ""),
				jt("H6", "ABT", "2026-10-09T21:58:00", "3", "1", "3", ""),
				jt("H6", "CH", "2026-10-09T21:58:00", "1", "soon", "3", ""),
				jt("H6", "EH", "2026-10-09T21:58:00", "2", "1.5", "3", ""),
				jt("H6", "WH", "2026-10-09T21:58:00", "1", "9", "green", ""),
				jt("", "WH", "2026-10-09T21:58:00", "1", "9", "3", ""),
				jt("H1", "EH", "2026-10-09T21:58:00", "1", "12", "3", "")),
			Records: []want{
				{FeedJourneyTimes, "H1|EH", "journey 1 (H1 to EH)", jtRecord("H1", "EH", "1", "null", "null", "1", "null", "2026-10-09T21:58:00+08:00")},
				{FeedJourneyTimes, "H2|CH", "journey 2 (H2 to CH)", jtRecord("H2", "CH", "2", "null", "3", "1", `"Road closed & diverted"`, "2026-10-09T21:58:00+08:00")},
				{FeedJourneyTimes, "H2|WH", "journey 3 (H2 to WH)", jtRecord("H2", "WH", "1", "7.5", "null", "3", "null", "2026-10-09T21:58:00+08:00")},
			},
			Rejects: []wantReject{
				{FeedJourneyTimes, "journey 4 (H2 to EH)", `CAPTURE_DATE "yesterday" is not a time like 2017-09-16T14:16:35`},
				{FeedJourneyTimes, "journey 5 (H6 to ABT)", "JOURNEY_TYPE 3 is not 1 (minutes) or 2 (a status code)"},
				{FeedJourneyTimes, "journey 6 (H6 to CH)", `JOURNEY_DATA "soon" is not a number of minutes`},
				{FeedJourneyTimes, "journey 7 (H6 to EH)", `JOURNEY_DATA "1.5" is not a status code`},
				{FeedJourneyTimes, "journey 8 (H6 to WH)", `COLOUR_ID "green" is not a whole number`},
				{FeedJourneyTimes, "journey 9 ( to WH)", "LOCATION_ID or DESTINATION_ID is missing"},
				{FeedJourneyTimes, "journey 10 (H1 to EH)", "H1 to EH is given again; the first, journey 1, is kept"},
			},
		},
		{
			Name:    "no items",
			Payload: jtis(),
		},
	})
}

func TestJourneyTimesPayloadErrors(t *testing.T) {
	sample := ct.Sample(t, "td_journeytime.xml")
	res, err := ParseJourneyTimes(sample[:700])
	const msg = "Journeytimev2.xml: truncated: the document ends before its elements are closed at byte 700 (line 14, column 42, inside <jtis_journey_list/jtis_journey_time/DESTINATION_ID>)"
	if !errors.Is(err, connector.ErrTruncated) || err.Error() != msg || len(res.Records) != 1 {
		t.Errorf("got %v, %d records; want %s, 1 record", err, len(res.Records), msg)
	}
	_, err = ParseJourneyTimes([]byte(`<jtis_speedlist xmlns="http://data.one.gov.hk/td"></jtis_speedlist>`))
	if !errors.Is(err, connector.ErrMalformed) || err.Error() != "Journeytimev2.xml: the root element is <jtis_speedlist>, not <jtis_journey_list> at byte 0" {
		t.Errorf("got %v", err)
	}
}
