package td

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cityhighway/highway/connectors/connector"
	ct "github.com/cityhighway/highway/connectors/connector/connectortest"
)

func segRecord(id, speed string, valid bool, at string) string {
	return fmt.Sprintf(`{"segment_id":%q,"speed":%s,"valid":%t,"capture_time":%q}`, id, speed, valid, at)
}

func irn(date, clock string, segments ...string) string {
	s := `<?xml version="1.0" encoding="utf-8"?><segment_speed_list xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="https://static.data.gov.hk/td/traffic-data-strategic-major-roads/info/SpeedSegments-BR.xsd"><date>` +
		date + `</date><time>` + clock + `</time><irn_version>20221210</irn_version><segments>`
	for _, seg := range segments {
		s += seg
	}
	return s + `</segments></segment_speed_list>`
}

func seg(id, speed, valid string) string {
	return `<segment><segment_id>` + id + `</segment_id><speed>` + speed + `</speed><valid>` + valid + `</valid></segment>`
}

func TestSegments(t *testing.T) {
	const at = "2024-04-06T21:27:00+08:00"
	ct.Run(t, ParseSegments, []ct.Case[string]{
		{
			Name:    "sample",
			Payload: string(ct.Sample(t, "td_irnAvgSpeed-all.xml")),
			Records: []want{
				{FeedSegments, "104324", "segment 104324", segRecord("104324", "50", true, at)},
				{FeedSegments, "104542", "segment 104542", segRecord("104542", "66.8", true, at)},
				{FeedSegments, "104555", "segment 104555", segRecord("104555", "63.8", true, at)},
				{FeedSegments, "104556", "segment 104556", segRecord("104556", "62.2", true, at)},
				{FeedSegments, "104569", "segment 104569", segRecord("104569", "61.5", true, at)},
				{FeedSegments, "104767", "segment 104767", segRecord("104767", "62.7", true, at)},
			},
		},
		{
			Name: "valid N: the speed is a placeholder; bad segments are rejected",
			Payload: irn("2024-04-06", "23:59:00",
				seg("104324", "80", "N"),
				seg("104542", "", "Y"),
				seg("104555", "fast", "Y"),
				seg("104556", "62.2", "?"),
				seg("", "62.2", "Y"),
				seg("104324", "50.0", "Y"),
				seg("104569", "61.5", "Y")),
			Records: []want{
				{FeedSegments, "104324", "segment 104324", segRecord("104324", "null", false, "2024-04-06T23:59:00+08:00")},
				{FeedSegments, "104542", "segment 104542", segRecord("104542", "null", true, "2024-04-06T23:59:00+08:00")},
				{FeedSegments, "104569", "segment 104569", segRecord("104569", "61.5", true, "2024-04-06T23:59:00+08:00")},
			},
			Rejects: []wantReject{
				{FeedSegments, "segment 104555", `speed "fast" is not a number`},
				{FeedSegments, "segment 104556", `valid "?" is not Y or N`},
				{FeedSegments, "segment #5", "segment_id is missing"},
				{FeedSegments, "segment 104324", "segment 104324 is given again; the first, segment #1, is kept"},
			},
		},
	})
}

func TestSegmentsPayloadErrors(t *testing.T) {
	full := irn("2024-04-06", "21:27:00", seg("104324", "50.0", "Y"), seg("104542", "66.8", "Y"))
	tests := []struct {
		payload string
		is      error
		msg     string
		records int
	}{
		{full[:len(full)-60], connector.ErrTruncated, "irnAvgSpeed-all.xml: truncated: the document ends before its elements are closed at byte 466 (line 1, column 467, inside <segment_speed_list/segments/segment/speed>)", 1},
		{irn("2024-04-06", "", seg("1", "2", "Y")), connector.ErrMalformed, "irnAvgSpeed-all.xml: the file's <date> or <time> is missing before <segments> at byte 306", 0},
		{irn("06/04/2024", "21:27", seg("1", "2", "Y")), connector.ErrMalformed, `irnAvgSpeed-all.xml: <date> "06/04/2024" and <time> "21:27" are not a time like 2024-04-06 21:27:00 at byte 311`, 0},
		{string(ct.Sample(t, "td_rawSpeedVol-all.xml")), connector.ErrMalformed, "irnAvgSpeed-all.xml: the root element is <raw_speed_volume_list>, not <segment_speed_list> at byte 38", 0},
	}
	for _, tt := range tests {
		res, err := ParseSegments([]byte(tt.payload))
		if !errors.Is(err, tt.is) || err.Error() != tt.msg || len(res.Records) != tt.records {
			t.Errorf("%.60q…:\n got %v (%d records)\nwant %s (%d records)", tt.payload, err, len(res.Records), tt.msg, tt.records)
		}
		ct.Valid(t, res)
	}
}
