package epd

import (
	"errors"
	"testing"

	"github.com/cityhighway/highway/connectors/connector"
	ct "github.com/cityhighway/highway/connectors/connector/connectortest"
)

func TestAQHI(t *testing.T) {
	const at = "2025-06-17T19:30:00+08:00"
	ct.Run(t, ParseAQHI, []ct.Case[string]{
		{
			Name:    "sample",
			Payload: string(ct.Sample(t, "epd_aqhi_ind_rss_Eng.xml")),
			Records: []want{
				{FeedAQHI, "Central/Western", "item 1 (Central/Western)", aqhiRecord("Central/Western", `"CW"`, `"General"`, 2, false, `"Low"`, at)},
				{FeedAQHI, "Southern", "item 2 (Southern)", aqhiRecord("Southern", `"S"`, `"General"`, 2, false, `"Low"`, at)},
			},
		},
		{
			Name: "10+, roadside, a BOM and leading white space, the channel's pubDate",
			Payload: "\ufeff\r\n  " + rss("Tue, 17 Jun 2025 19:30:00 +0800",
				item("Mong Kok : 10+ : Serious", "Mong Kok - Roadside Stations: 10+ Serious - Tue, 17 Jun 2025 19:30", ""),
				item("Tung Chung : 7 : High", "Tung Chung - General Stations: 7 High - Tue, 17 Jun 2025 19:30", "Tue, 17 Jun 2025 19:30:00 +0800"),
				item("Causeway Bay : 9 : very high", "Causeway Bay - Roadside Stations: 9 Very High - Tue, 17 Jun 2025 19:30", "Tue, 17 Jun 2025 19:30:00 +0800"),
				item("Kowloon Bay : 5 : Moderate", "Kowloon Bay - General Stations: 5 Moderate - Tue, 17 Jun 2025 19:30", "Tue, 17 Jun 2025 19:30:00 +0800")),
			Records: []want{
				{FeedAQHI, "Mong Kok", "item 1 (Mong Kok)", aqhiRecord("Mong Kok", `"YTM"`, `"Roadside"`, 11, true, `"Serious"`, at)},
				{FeedAQHI, "Tung Chung", "item 2 (Tung Chung)", aqhiRecord("Tung Chung", `"IS"`, `"General"`, 7, false, `"High"`, at)},
				{FeedAQHI, "Causeway Bay", "item 3 (Causeway Bay)", aqhiRecord("Causeway Bay", `"WC"`, `"Roadside"`, 9, false, `"Very High"`, at)},
				// A station not in the table gets no district.
				{FeedAQHI, "Kowloon Bay", "item 4 (Kowloon Bay)", aqhiRecord("Kowloon Bay", "null", `"General"`, 5, false, `"Moderate"`, at)},
			},
		},
		{
			Name: "bad items are rejected, the others come out",
			Payload: rss("",
				item("Sha Tin : 3 : Low", "Sha Tin - General Stations: 3 Low", "Tue, 17 Jun 2025 19:30:00 HKT"),
				item("Sha Tin - 3 - Low", "", "Tue, 17 Jun 2025 19:30:00 +0800"),
				item("Tai Po : N/A : ", "Tai Po - General Stations: N/A", "Tue, 17 Jun 2025 19:30:00 +0800"),
				item("North : 4 : Moderate", "North - General Stations: 4 Moderate", ""),
				item(" : 4 : Moderate", "", "Tue, 17 Jun 2025 19:30:00 +0800"),
				item("Eastern : 4 : Moderate", "", "Tue, 7 Jun 2025 19:30:00 +0800"),
				item("Eastern : 5 : Moderate", "", "Tue, 17 Jun 2025 19:30:00 +0800")),
			Records: []want{
				{FeedAQHI, "Eastern", "item 6 (Eastern)", aqhiRecord("Eastern", `"E"`, "null", 4, false, `"Moderate"`, "2025-06-07T19:30:00+08:00")},
			},
			Rejects: []wantReject{
				{FeedAQHI, "item 1 (Sha Tin)", `pubDate "Tue, 17 Jun 2025 19:30:00 HKT" is not a time like "Tue, 17 Jun 2025 19:30:00 +0800"`},
				{FeedAQHI, "item 2 (Sha Tin - 3 - Low)", `title "Sha Tin - 3 - Low" is not "<station> : <aqhi> : <risk>"`},
				{FeedAQHI, "item 3 (Tai Po)", `AQHI "N/A" is not a whole number or 10+`},
				{FeedAQHI, "item 4 (North)", "pubDate is missing, in the item and the channel"},
				{FeedAQHI, "item 5 ()", `title ": 4 : Moderate" has no station`},
				{FeedAQHI, "item 7 (Eastern)", "station Eastern is given again; the first is item 6 (Eastern)"},
			},
		},
	})
}

// The spec bounds the index: 12 is not an AQHI.
func TestAQHIOutOfRange(t *testing.T) {
	res, err := ParseAQHI([]byte(rss("Tue, 17 Jun 2025 19:30:00 +0800",
		item("Yuen Long : 12 : Serious", "Yuen Long - General Stations: 12 Serious", ""),
		item("Tuen Mun : 3 : Fair", "Tuen Mun - General Stations: 3 Fair", ""))))
	if err != nil {
		t.Fatal(err)
	}
	v := connector.NewValidator(ct.Builtin(t).Feeds()...)
	defer v.Release()
	ct.Check(t, v.Check(res), nil, []wantReject{
		{FeedAQHI, "item 1 (Yuen Long)", "field aqhi: value 12: above the maximum 11"},
		{FeedAQHI, "item 2 (Tuen Mun)", `field risk: value "Fair": not one of Low, Moderate, High, Very High, Serious`},
	})
}

func TestAQHIPayloadErrors(t *testing.T) {
	sample := ct.Sample(t, "epd_aqhi_ind_rss_Eng.xml")
	res, err := ParseAQHI(sample[:1400])
	const msg = "aqhi_ind_rss_Eng.xml: truncated: the document ends before its elements are closed at byte 1400 (line 31, column 22, inside <rss/channel/item/pubDate>)"
	if !errors.Is(err, connector.ErrTruncated) || err.Error() != msg || len(res.Records) != 1 {
		t.Errorf("got %v, %d records; want %s, 1 record", err, len(res.Records), msg)
	}
	for payload, msg := range map[string]string{
		`<!DOCTYPE html><html><body>Not Found</body></html>`: "aqhi_ind_rss_Eng.xml: the root element is <html>, not <rss> at byte 15",
		`{"error": "not found"}`:                             "aqhi_ind_rss_Eng.xml: not well-formed XML: text before the root element at byte 0 (line 1, column 1)",
	} {
		if _, err := ParseAQHI([]byte(payload)); !errors.Is(err, connector.ErrMalformed) || err.Error() != msg {
			t.Errorf("%q: got %v, want %s", payload, err, msg)
		}
	}
}

func TestSamplesAreShared(t *testing.T) {
	ct.SameAsShared(t, "epd_aqhi_ind_rss_Eng.xml", "epd_24pc_and_24aqhi_Eng.xml.txt")
}
