package epd

import (
	"errors"
	"testing"

	"github.com/cityhighway/highway/connectors/connector"
	ct "github.com/cityhighway/highway/connectors/connector/connectortest"
)

func pc(station, at, no2, o3, so2, co, pm10, pm25 string) string {
	el := func(name, v string) string {
		if v == "absent" {
			return ""
		}
		return "<" + name + ">" + v + "</" + name + ">"
	}
	return "<PollutantConcentration><StationName>" + station + "</StationName><DateTime>" + at + "</DateTime>" +
		el("NO2", no2) + el("O3", o3) + el("SO2", so2) + el("CO", co) + el("PM10", pm10) + el("PM2.5", pm25) + "</PollutantConcentration>\n"
}

func pc24(blocks ...string) string {
	s := "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AQHI24HrPollutantConcentration>\n<title>Environmental Protection Department - Past 24-hour Pollutant Concentration</title>\n"
	for _, b := range blocks {
		s += b
	}
	return s + "</AQHI24HrPollutantConcentration>\n"
}

func TestPollutants(t *testing.T) {
	ct.Run(t, ParsePollutants, []ct.Case[[]byte]{
		{
			Name:    "sample: - is null, never 0",
			Payload: sample24pc(t),
			Records: []want{
				{FeedPollutants, "Central/Western", "block 1 (Central/Western Mon, 05 Oct 2026 14:00:00 +0800)", pcRecord("Central/Western", `"CW"`, "36.7", "137.6", "3.8", "null", "null", "null", "2026-10-05T14:00:00+08:00")},
			},
		},
		{
			Name: "CO at some stations only, empty and absent readings, a BOM",
			Payload: []byte("\ufeff" + pc24(
				pc("Mong Kok", "Mon, 05 Oct 2026 13:00:00 +0800", "80.2", "20", "6", "812", "41", "25.5"),
				pc("Mong Kok", "Mon, 05 Oct 2026 14:00:00 +0800", "", "absent", "-", "absent", "0", "0.0"),
				pc("Tap Mun", "Mon, 05 Oct 2026 14:00:00 +0800", "1", "90", "2", "-", "12", "8"))),
			Records: []want{
				{FeedPollutants, "Mong Kok", "block 1 (Mong Kok Mon, 05 Oct 2026 13:00:00 +0800)", pcRecord("Mong Kok", `"YTM"`, "80.2", "20", "6", "812", "41", "25.5", "2026-10-05T13:00:00+08:00")},
				{FeedPollutants, "Mong Kok", "block 2 (Mong Kok Mon, 05 Oct 2026 14:00:00 +0800)", pcRecord("Mong Kok", `"YTM"`, "null", "null", "null", "null", "0", "0", "2026-10-05T14:00:00+08:00")},
				{FeedPollutants, "Tap Mun", "block 3 (Tap Mun Mon, 05 Oct 2026 14:00:00 +0800)", pcRecord("Tap Mun", `"TP"`, "1", "90", "2", "null", "12", "8", "2026-10-05T14:00:00+08:00")},
			},
		},
		{
			Name: "bad blocks are rejected, the others come out",
			Payload: []byte(pc24(
				pc("", "Mon, 05 Oct 2026 14:00:00 +0800", "1", "1", "1", "1", "1", "1"),
				pc("Sha Tin", "", "1", "1", "1", "1", "1", "1"),
				pc("Sha Tin", "2026-10-05 14:00", "1", "1", "1", "1", "1", "1"),
				pc("Sha Tin", "Mon, 05 Oct 2026 14:00:00 +0800", "N.A.", "1", "1", "1", "1", "1"),
				pc("Sha Tin", "Mon, 05 Oct 2026 15:00:00 +0800", "1", "1", "1", "1", "1", "1"),
				pc("Sha Tin", "Mon, 05 Oct 2026 07:00:00 +0000", "2", "2", "2", "2", "2", "2"))),
			Records: []want{
				{FeedPollutants, "Sha Tin", "block 5 (Sha Tin Mon, 05 Oct 2026 15:00:00 +0800)", pcRecord("Sha Tin", `"ST"`, "1", "1", "1", "1", "1", "1", "2026-10-05T15:00:00+08:00")},
			},
			Rejects: []wantReject{
				{FeedPollutants, "block 1 ( Mon, 05 Oct 2026 14:00:00 +0800)", "StationName is missing"},
				{FeedPollutants, "block 2 (Sha Tin )", "DateTime is missing"},
				{FeedPollutants, "block 3 (Sha Tin 2026-10-05 14:00)", `DateTime "2026-10-05 14:00" is not a time like "Tue, 17 Jun 2025 19:30:00 +0800"`},
				{FeedPollutants, "block 4 (Sha Tin Mon, 05 Oct 2026 14:00:00 +0800)", `NO2 "N.A." is not a number or -`},
				{FeedPollutants, "block 6 (Sha Tin Mon, 05 Oct 2026 07:00:00 +0000)", "station Sha Tin at Mon, 05 Oct 2026 07:00:00 +0000 is given again; the first is block 5 (Sha Tin Mon, 05 Oct 2026 15:00:00 +0800)"},
			},
		},
	})
}

func TestPollutantsOutOfRange(t *testing.T) {
	res, err := ParsePollutants([]byte(pc24(pc("Kwai Chung", "Mon, 05 Oct 2026 14:00:00 +0800", "-3", "1", "1", "1", "1", "1"))))
	if err != nil {
		t.Fatal(err)
	}
	v := connector.NewValidator(ct.Builtin(t).Feeds()...)
	defer v.Release()
	ct.Check(t, v.Check(res), nil, []wantReject{
		{FeedPollutants, "block 1 (Kwai Chung Mon, 05 Oct 2026 14:00:00 +0800)", "field no2: value -3: below the minimum 0"},
	})
}

func TestPollutantsPayloadErrors(t *testing.T) {
	full := pc24(pc("Mong Kok", "Mon, 05 Oct 2026 13:00:00 +0800", "80.2", "20", "6", "812", "41", "25.5"),
		pc("Mong Kok", "Mon, 05 Oct 2026 14:00:00 +0800", "80.2", "20", "6", "812", "41", "25.5"))
	res, err := ParsePollutants([]byte(full[:len(full)-80]))
	const msg = "24pc_Eng.xml: truncated: the document ends before its elements are closed at byte 558 (line 5, column 176, inside <AQHI24HrPollutantConcentration/PollutantConcentration/PM10>)"
	if !errors.Is(err, connector.ErrTruncated) || err.Error() != msg || len(res.Records) != 1 {
		t.Errorf("got %v, %d records; want %s, 1 record", err, len(res.Records), msg)
	}
	_, err = ParsePollutants(ct.Sample(t, "epd_aqhi_ind_rss_Eng.xml"))
	if !errors.Is(err, connector.ErrMalformed) || err.Error() != "24pc_Eng.xml: the root element is <rss>, not <AQHI24HrPollutantConcentration> at byte 106" {
		t.Errorf("got %v", err)
	}
}
