package td

import (
	"errors"
	"testing"
	"time"

	"github.com/cityhighway/highway/connectors/connector"
	ct "github.com/cityhighway/highway/connectors/connector/connectortest"
)

func sampleLocations(t testing.TB) Locations {
	locs, _, err := ParseLocations(ct.Sample(t, "td_traffic_speed_volume_occ_info.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return locs
}

func TestDetectorsSample(t *testing.T) {
	const (
		p1, p1to = "2024-04-06T21:27:00+08:00", `"2024-04-06T21:27:30+08:00"`
		p2, p2to = "2024-04-06T21:27:30+08:00", `"2024-04-06T21:28:00+08:00"`
		se, ne   = `"South East"`, `"North East"`
		nw, n    = `"North West"`, `"North"`
		s, kc    = `"S"`, `"KC"`
		ytm      = `"YTM"`
	)
	w := func(period, det string, lane int) string {
		return "period " + period + ", detector " + det + ", lane " + string(rune('0'+lane))
	}
	records := []want{
		{FeedDetectors, "AID01101|Fast Lane", w("21:27:00", "AID01101", 1), detRecord("AID01101", "Fast Lane", se, s, "66", "1", "3", "7.5", true, p1, p1to)},
		{FeedDetectors, "AID01101|Middle Lane", w("21:27:00", "AID01101", 2), detRecord("AID01101", "Middle Lane", se, s, "59", "5", "7", "26.8", true, p1, p1to)},
		{FeedDetectors, "AID01101|Slow Lane", w("21:27:00", "AID01101", 3), detRecord("AID01101", "Slow Lane", se, s, "55", "0", "1", "0", true, p1, p1to)},
		{FeedDetectors, "AID01102|Fast Lane", w("21:27:00", "AID01102", 1), detRecord("AID01102", "Fast Lane", ne, s, "78", "1", "1", "0", true, p1, p1to)},
		{FeedDetectors, "AID01102|Middle Lane", w("21:27:00", "AID01102", 2), detRecord("AID01102", "Middle Lane", ne, s, "68", "3", "4", "7.2", true, p1, p1to)},
		// volume 0: the published speed 70 is the limit, a placeholder.
		{FeedDetectors, "AID01102|Slow Lane", w("21:27:00", "AID01102", 3), detRecord("AID01102", "Slow Lane", ne, s, "null", "0", "0", "null", true, p1, p1to)},
		{FeedDetectors, "AID01111|Fast Lane", w("21:27:00", "AID01111", 1), detRecord("AID01111", "Fast Lane", ne, kc, "71", "9", "12", "9.1", true, p1, p1to)},
		{FeedDetectors, "AID01111|Middle Lane 1", w("21:27:00", "AID01111", 2), detRecord("AID01111", "Middle Lane 1", ne, kc, "57", "2", "5", "17.4", true, p1, p1to)},
		{FeedDetectors, "AID01111|Middle Lane 2", w("21:27:00", "AID01111", 3), detRecord("AID01111", "Middle Lane 2", ne, kc, "75", "3", "3", "9.1", true, p1, p1to)},
		{FeedDetectors, "AID01111|Slow Lane", w("21:27:00", "AID01111", 4), detRecord("AID01111", "Slow Lane", ne, kc, "51", "9", "8", "13.6", true, p1, p1to)},
		// valid N: the detector is offline; the values are kept as published.
		{FeedDetectors, "AID01113|Fast Lane", w("21:27:00", "AID01113", 1), detRecord("AID01113", "Fast Lane", nw, ytm, "64", "4", "8", "13", false, p1, p1to)},
		{FeedDetectors, "AID01113|Middle Lane", w("21:27:00", "AID01113", 2), detRecord("AID01113", "Middle Lane", nw, ytm, "68", "0", "1", "0", false, p1, p1to)},
		{FeedDetectors, "AID01113|Slow Lane", w("21:27:00", "AID01113", 3), detRecord("AID01113", "Slow Lane", nw, ytm, "62", "1", "2", "11.3", false, p1, p1to)},
		{FeedDetectors, "AID01101|Fast Lane", w("21:27:30", "AID01101", 1), detRecord("AID01101", "Fast Lane", se, s, "null", "0", "0", "null", true, p2, p2to)},
		{FeedDetectors, "AID01101|Middle Lane", w("21:27:30", "AID01101", 2), detRecord("AID01101", "Middle Lane", se, s, "63", "4", "3", "21.5", true, p2, p2to)},
		{FeedDetectors, "AID01101|Slow Lane", w("21:27:30", "AID01101", 3), detRecord("AID01101", "Slow Lane", se, s, "50", "0", "1", "0", true, p2, p2to)},
		// AID01117 is not in the location list: no district.
		{FeedDetectors, "AID01117|Fast Lane", w("21:27:30", "AID01117", 1), detRecord("AID01117", "Fast Lane", n, "null", "57", "5", "8", "7.3", true, p2, p2to)},
		{FeedDetectors, "AID01117|Middle Lane 1", w("21:27:30", "AID01117", 2), detRecord("AID01117", "Middle Lane 1", n, "null", "null", "0", "0", "null", true, p2, p2to)},
		{FeedDetectors, "AID01117|Middle Lane 2", w("21:27:30", "AID01117", 3), detRecord("AID01117", "Middle Lane 2", n, "null", "64", "8", "11", "11.8", true, p2, p2to)},
		{FeedDetectors, "AID01117|Slow Lane", w("21:27:30", "AID01117", 4), detRecord("AID01117", "Slow Lane", n, "null", "null", "0", "0", "null", true, p2, p2to)},
	}
	res, err := ParseDetectors(ct.Sample(t, "td_rawSpeedVol-all.xml"), time.Date(2024, 4, 6, 21, 29, 0, 0, connector.HKT), sampleLocations(t))
	if err != nil {
		t.Fatal(err)
	}
	ct.Check(t, res, records, nil)

	// Without locations nothing but the districts changes.
	res, err = ParseDetectors(ct.Sample(t, "td_rawSpeedVol-all.xml"), time.Time{}, nil)
	if err != nil || len(res.Records) != len(records) || len(res.Rejects) != 0 {
		t.Fatalf("without locations: %d records, %v, %v", len(res.Records), res.Rejects, err)
	}
}

func TestDetectorsQuirks(t *testing.T) {
	locs := Locations{
		"AID09115": {District: "ST", Direction: "East"},
		"TDS90026": {District: "YL", Direction: "West"},
	}
	hk := func(s string) time.Time {
		t, err := time.ParseInLocation("2006-01-02 15:04", s, connector.HKT)
		if err != nil {
			panic(err)
		}
		return t
	}
	tests := []struct {
		name    string
		payload string
		fetched time.Time
		records []want
		rejects []wantReject
	}{
		{
			name: "the 00:00 period carries the previous day's date; fetched the next day, it is moved on",
			payload: rawSpeedVol("2025-08-04",
				period("00:00:00", "00:00:30", detector("AID09115", "East", lane("Fast Lane", "80", "2", "3", "4.1", "Y"))),
				period("00:00:30", "00:01:00", detector("AID09115", "East", lane("Fast Lane", "82", "2", "2", "1.5", "Y")))),
			fetched: hk("2025-08-05 00:07"),
			records: []want{
				{FeedDetectors, "AID09115|Fast Lane", "period 00:00:00, detector AID09115, lane 1", detRecord("AID09115", "Fast Lane", `"East"`, `"ST"`, "80", "2", "3", "4.1", true, "2025-08-05T00:00:00+08:00", `"2025-08-05T00:00:30+08:00"`)},
				{FeedDetectors, "AID09115|Fast Lane", "period 00:00:30, detector AID09115, lane 1", detRecord("AID09115", "Fast Lane", `"East"`, `"ST"`, "82", "2", "2", "1.5", true, "2025-08-05T00:00:30+08:00", `"2025-08-05T00:01:00+08:00"`)},
			},
		},
		{
			name: "a file across midnight: the second period is on the next day, whatever the fetch time",
			payload: rawSpeedVol("2025-08-04",
				period("23:59:30", "00:00:00", detector("AID09115", "East", lane("Fast Lane", "80", "2", "3", "4.1", "Y"))),
				period("00:00:00", "00:00:30", detector("AID09115", "East", lane("Fast Lane", "82", "2", "2", "1.5", "Y")))),
			records: []want{
				{FeedDetectors, "AID09115|Fast Lane", "period 23:59:30, detector AID09115, lane 1", detRecord("AID09115", "Fast Lane", `"East"`, `"ST"`, "80", "2", "3", "4.1", true, "2025-08-04T23:59:30+08:00", `"2025-08-05T00:00:00+08:00"`)},
				{FeedDetectors, "AID09115|Fast Lane", "period 00:00:00, detector AID09115, lane 1", detRecord("AID09115", "Fast Lane", `"East"`, `"ST"`, "82", "2", "2", "1.5", true, "2025-08-05T00:00:00+08:00", `"2025-08-05T00:00:30+08:00"`)},
			},
		},
		{
			name: "an archived copy read days later keeps its date; so does an ordinary period",
			payload: rawSpeedVol("2025-08-05",
				period("00:00:00", "00:00:30", detector("AID09115", "East", lane("Fast Lane", "80", "2", "3", "4.1", "Y")))),
			fetched: hk("2025-09-30 12:00"),
			records: []want{
				{FeedDetectors, "AID09115|Fast Lane", "period 00:00:00, detector AID09115, lane 1", detRecord("AID09115", "Fast Lane", `"East"`, `"ST"`, "80", "2", "3", "4.1", true, "2025-08-05T00:00:00+08:00", `"2025-08-05T00:00:30+08:00"`)},
			},
		},
		{
			name: "a 00:00 period already dated right stays on its day",
			payload: rawSpeedVol("2025-08-05",
				period("00:00:00", "00:00:30", detector("AID09115", "East", lane("Fast Lane", "80", "2", "3", "4.1", "Y")))),
			fetched: hk("2025-08-05 00:07"),
			records: []want{
				{FeedDetectors, "AID09115|Fast Lane", "period 00:00:00, detector AID09115, lane 1", detRecord("AID09115", "Fast Lane", `"East"`, `"ST"`, "80", "2", "3", "4.1", true, "2025-08-05T00:00:00+08:00", `"2025-08-05T00:00:30+08:00"`)},
			},
		},
		{
			name: "periods out of order are not taken for a midnight",
			payload: rawSpeedVol("2025-08-05",
				period("10:00:30", "10:01:00", detector("AID09115", "East", lane("Fast Lane", "80", "2", "3", "4.1", "Y"))),
				period("10:00:00", "10:00:30", detector("AID09115", "East", lane("Fast Lane", "82", "2", "2", "1.5", "Y")))),
			records: []want{
				{FeedDetectors, "AID09115|Fast Lane", "period 10:00:30, detector AID09115, lane 1", detRecord("AID09115", "Fast Lane", `"East"`, `"ST"`, "80", "2", "3", "4.1", true, "2025-08-05T10:00:30+08:00", `"2025-08-05T10:01:00+08:00"`)},
				{FeedDetectors, "AID09115|Fast Lane", "period 10:00:00, detector AID09115, lane 1", detRecord("AID09115", "Fast Lane", `"East"`, `"ST"`, "82", "2", "2", "1.5", true, "2025-08-05T10:00:00+08:00", `"2025-08-05T10:00:30+08:00"`)},
			},
		},
		{
			name: "a detector outside any period is one reject",
			payload: `<raw_speed_volume_list><date>2025-08-05</date><detector><detector_id>AID09115</detector_id><lanes>` +
				lane("Fast Lane", "80", "2", "3", "4.1", "Y") + lane("Slow Lane", "80", "2", "3", "4.1", "Y") + `</lanes></detector></raw_speed_volume_list>`,
			rejects: []wantReject{
				{FeedDetectors, "detector AID09115", "the detector is outside any <period>; its 2 lanes are dropped"},
			},
		},
		{
			name: "placeholders, -1, missing s.d. and direction, trailing space, speed 300",
			payload: rawSpeedVol("2025-07-20",
				period("10:00:00", "10:00:30",
					detector("AID09115", "-", // no <direction>: taken from the location list
						lane("Fast Lane", "110", "0", "0", "0", "Y"),  // volume 0: speed 110 is the limit
						lane("Slow Lane", "45", "-1", "4", "-", "Y")), // occupancy -1; no <s.d.>
					detector("AID90008", "West ", // trailing space
						lane("Fast Lane", "300", "1", "1", "0", "Y")),
					detector("AID90009", "-", // no direction anywhere
						lane("Fast Lane", "0", "100", "0", "0", "Y")))),
			records: []want{
				{FeedDetectors, "AID09115|Fast Lane", "period 10:00:00, detector AID09115, lane 1", detRecord("AID09115", "Fast Lane", `"East"`, `"ST"`, "null", "0", "0", "null", true, "2025-07-20T10:00:00+08:00", `"2025-07-20T10:00:30+08:00"`)},
				{FeedDetectors, "AID09115|Slow Lane", "period 10:00:00, detector AID09115, lane 2", detRecord("AID09115", "Slow Lane", `"East"`, `"ST"`, "45", "null", "4", "null", true, "2025-07-20T10:00:00+08:00", `"2025-07-20T10:00:30+08:00"`)},
				{FeedDetectors, "AID90008|Fast Lane", "period 10:00:00, detector AID90008, lane 1", detRecord("AID90008", "Fast Lane", `"West"`, "null", "300", "1", "1", "0", true, "2025-07-20T10:00:00+08:00", `"2025-07-20T10:00:30+08:00"`)},
				{FeedDetectors, "AID90009|Fast Lane", "period 10:00:00, detector AID90009, lane 1", detRecord("AID90009", "Fast Lane", "null", "null", "null", "100", "0", "null", true, "2025-07-20T10:00:00+08:00", `"2025-07-20T10:00:30+08:00"`)},
			},
		},
		{
			name: "a lane_id repeated: the same readings are dropped, other readings are a second lane",
			payload: rawSpeedVol("2025-08-05",
				period("08:25:00", "08:25:30",
					detector("TDS90026", "West",
						lane("Fast Lane", "60", "5", "6", "3.2", "Y"),
						lane("Middle Lane", "55", "7", "8", "4.4", "Y"),
						lane("Middle Lane", "51", "9", "9", "6.1", "Y"),
						lane("Middle Lane", "55", "7", "8", "4.4", "Y"),
						lane("Middle Lane", "58", "4", "5", "2", "Y")))),
			records: []want{
				{FeedDetectors, "TDS90026|Fast Lane", "period 08:25:00, detector TDS90026, lane 1", detRecord("TDS90026", "Fast Lane", `"West"`, `"YL"`, "60", "5", "6", "3.2", true, "2025-08-05T08:25:00+08:00", `"2025-08-05T08:25:30+08:00"`)},
				{FeedDetectors, "TDS90026|Middle Lane", "period 08:25:00, detector TDS90026, lane 2", detRecord("TDS90026", "Middle Lane", `"West"`, `"YL"`, "55", "7", "8", "4.4", true, "2025-08-05T08:25:00+08:00", `"2025-08-05T08:25:30+08:00"`)},
				{FeedDetectors, "TDS90026|Middle Lane #2", "period 08:25:00, detector TDS90026, lane 3", detRecord("TDS90026", "Middle Lane #2", `"West"`, `"YL"`, "51", "9", "9", "6.1", true, "2025-08-05T08:25:00+08:00", `"2025-08-05T08:25:30+08:00"`)},
				{FeedDetectors, "TDS90026|Middle Lane #3", "period 08:25:00, detector TDS90026, lane 5", detRecord("TDS90026", "Middle Lane #3", `"West"`, `"YL"`, "58", "4", "5", "2", true, "2025-08-05T08:25:00+08:00", `"2025-08-05T08:25:30+08:00"`)},
			},
			rejects: []wantReject{
				{FeedDetectors, "period 08:25:00, detector TDS90026, lane 4", `lane "Middle Lane" is given again with the same readings as lane 2; the repeat is dropped`},
			},
		},
		{
			name: "bad lanes, detectors and periods are rejected; the rest comes out",
			payload: rawSpeedVol("2025-08-05",
				period("09:00:00", "09:00:30",
					detector("AID09115", "East",
						lane("Fast Lane", "fast", "1", "1.5", "0", "X"),
						lane("", "50", "1", "1", "0", "Y"),
						lane("Slow Lane", "50", "1", "1", "0", ""),
						lane("Middle Lane", "50", "1", "1", "0", "Y")),
					detector("", "East", lane("Fast Lane", "50", "1", "1", "0", "Y"), lane("Slow Lane", "50", "1", "1", "0", "Y")),
					detector("AID09115", "East", lane("Fast Lane", "50", "1", "1", "0", "Y"))),
				period("9:00:30", "09:01:00",
					detector("AID09115", "East", lane("Fast Lane", "50", "1", "1", "0", "Y"), lane("Slow Lane", "50", "1", "1", "0", "Y")))),
			records: []want{
				{FeedDetectors, "AID09115|Middle Lane", "period 09:00:00, detector AID09115, lane 4", detRecord("AID09115", "Middle Lane", `"East"`, `"ST"`, "50", "1", "1", "0", true, "2025-08-05T09:00:00+08:00", `"2025-08-05T09:00:30+08:00"`)},
			},
			rejects: []wantReject{
				{FeedDetectors, "period 09:00:00, detector AID09115, lane 1", `speed "fast" is not a number; volume "1.5" is not a whole number; valid "X" is not Y or N`},
				{FeedDetectors, "period 09:00:00, detector AID09115, lane 2", "lane_id is missing"},
				{FeedDetectors, "period 09:00:00, detector AID09115, lane 3", "valid is missing"},
				{FeedDetectors, "period 09:00:00, detector (no detector_id)", "detector_id is missing; its 2 lanes are dropped"},
				{FeedDetectors, "period 09:00:00, detector AID09115", "detector AID09115 is given again in this period (first as detector 1); its 1 lanes are dropped"},
				{FeedDetectors, "period 9:00:30", `period_from "9:00:30" is not a time like 21:27:00; its 2 lanes are dropped`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ParseDetectors([]byte(tt.payload), tt.fetched, locs)
			if err != nil {
				t.Fatal(err)
			}
			ct.Check(t, res, tt.records, tt.rejects)
		})
	}
}

// The spec in force says what is in range: a speed above 300 is rejected by
// the Validator with the spec's reason, the rest of the file comes out.
func TestDetectorsOutOfRange(t *testing.T) {
	res, err := ParseDetectors([]byte(rawSpeedVol("2025-08-05",
		period("09:00:00", "09:00:30", detector("AID09115", "East",
			lane("Fast Lane", "301", "1", "1", "0", "Y"),
			lane("Slow Lane", "40", "101", "1", "0", "Y"),
			lane("Middle Lane", "40", "1", "1", "0", "N"))))), time.Time{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := connector.NewValidator(ct.Builtin(t).Feeds()...)
	defer v.Release()
	ct.Check(t, v.Check(res), []want{
		{FeedDetectors, "AID09115|Middle Lane", "period 09:00:00, detector AID09115, lane 3", detRecord("AID09115", "Middle Lane", `"East"`, "null", "40", "1", "1", "0", false, "2025-08-05T09:00:00+08:00", `"2025-08-05T09:00:30+08:00"`)},
	}, []wantReject{
		{FeedDetectors, "period 09:00:00, detector AID09115, lane 1", "field speed: value 301: above the maximum 300"},
		{FeedDetectors, "period 09:00:00, detector AID09115, lane 2", "field occupancy: value 101: above the maximum 100"},
	})
}

func TestDetectorsTruncated(t *testing.T) {
	full := ct.Sample(t, "td_rawSpeedVol-all.xml")
	// Cut inside the first lane of AID01111 (archive copies are cut at a
	// round number of bytes, which falls anywhere).
	res, err := ParseDetectors(full[:1500], time.Time{}, nil)
	if !errors.Is(err, connector.ErrTruncated) || !errors.Is(err, connector.ErrPayload) {
		t.Fatalf("error %v does not match ErrTruncated", err)
	}
	const msg = "rawSpeedVol-all.xml: truncated: the document ends before its elements are closed at byte 1500 (line 1, column 1501, inside <raw_speed_volume_list/periods/period/detectors/detector/lanes/lane/occupancy>, in period 21:27:00, detector AID01111; 6 records before it are kept)"
	if err.Error() != msg {
		t.Errorf("error\n got %s\nwant %s", err, msg)
	}
	if len(res.Records) != 6 || res.Records[5].Key != "AID01102|Slow Lane" || len(res.Rejects) != 0 {
		t.Errorf("got %d records (last %q), %v", len(res.Records), res.Records[len(res.Records)-1].Key, res.Rejects)
	}
	ct.Valid(t, res)

	// Every cut keeps a prefix of the full file's records.
	whole, err := ParseDetectors(full, time.Time{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(full) {
		res, err := ParseDetectors(full[:n], time.Time{}, nil)
		if err == nil {
			t.Fatalf("cut at %d: no error", n)
		}
		if len(res.Records) > len(whole.Records) {
			t.Fatalf("cut at %d: %d records", n, len(res.Records))
		}
		for i, r := range res.Records {
			if r.Key != whole.Records[i].Key || string(r.Value) != string(whole.Records[i].Value) {
				t.Fatalf("cut at %d: record %d differs", n, i)
			}
		}
	}
}

func TestDetectorsPayloadErrors(t *testing.T) {
	tests := []struct {
		payload string
		is      error
		msg     string
	}{
		{"", connector.ErrMalformed, "rawSpeedVol-all.xml: no XML element in the payload at byte 0 (line 1, column 1)"},
		{"<html><body>502 Bad Gateway</body></html>", connector.ErrMalformed, "rawSpeedVol-all.xml: the root element is <html>, not <raw_speed_volume_list> at byte 0"},
		{`<raw_speed_volume_list><periods><period>`, connector.ErrMalformed, "rawSpeedVol-all.xml: a period comes before the file's <date> at byte 32"},
		{`<raw_speed_volume_list><date>06/04/2024</date></raw_speed_volume_list>`, connector.ErrMalformed, `rawSpeedVol-all.xml: <date> "06/04/2024" is not a date like 2024-04-06 at byte 23`},
		{`<raw_speed_volume_list><date>2024-04-06</date><periods><period><period_from>21:27:00</period_to>`, connector.ErrMalformed, "rawSpeedVol-all.xml: not well-formed XML: element <period_from> closed by </period_to> at byte 84 (line 1, column 85, inside <raw_speed_volume_list/periods/period/period_from>, in period #1; 0 records before it are kept)"},
	}
	for _, tt := range tests {
		_, err := ParseDetectors([]byte(tt.payload), time.Time{}, nil)
		if !errors.Is(err, tt.is) || err.Error() != tt.msg {
			t.Errorf("%q:\n got %v\nwant %q", tt.payload, err, tt.msg)
		}
	}
}

func TestSamplesAreShared(t *testing.T) {
	ct.SameAsShared(t, "td_irnAvgSpeed-all.xml", "td_journeytime.xml", "td_rawSpeedVol-all.xml", "td_traffic_speed_volume_occ_info.csv")
}
