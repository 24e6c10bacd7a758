package hko

import (
	"errors"
	"testing"

	"github.com/cityhighway/highway/connectors/connector"
	ct "github.com/cityhighway/highway/connectors/connector/connectortest"
)

func TestWarnsum(t *testing.T) {
	ct.Run(t, ParseWarnsum, []ct.Case[[]byte]{
		{
			Name:    "sample (lang=tc): hot weather and a yellow fire danger warning, in payload order",
			Payload: ct.Sample(t, "hko_warnsum_tc_2026-09-25.json"),
			Records: []want{
				{FeedWarnings, "WHOT", "WHOT", `{"family":"WHOT","code":"WHOT","name":"酷熱天氣警告","action":"ISSUE","issue_time":"2026-09-25T11:00:00+08:00","expire_time":null,"update_time":"2026-09-25T11:00:00+08:00"}`},
				{FeedWarnings, "WFIRE", "WFIRE", `{"family":"WFIRE","code":"WFIREY","name":"火災危險警告","action":"ISSUE","issue_time":"2026-09-25T06:00:00+08:00","expire_time":null,"update_time":"2026-09-25T06:00:00+08:00"}`},
			},
		},
		{
			Name:    "nothing in force",
			Payload: []byte(`{}`),
		},
		{
			Name:    "nothing in force, with a BOM and white space",
			Payload: []byte("\ufeff\n {} \n"),
		},
		{
			Name: "signals, a cancel and an expiry",
			Payload: []byte(`{
			  "WTCSGNL": {"name": "Tropical Cyclone Warning Signal", "code": "TC8NE", "actionCode": "ISSUE", "issueTime": "2026-09-24T21:40:00+08:00", "updateTime": "2026-09-24T21:40:00+08:00"},
			  "WRAIN": {"name": "Rainstorm Warning Signal", "code": "WRAINR", "actionCode": "EXTEND", "issueTime": "2026-09-25T05:05:00+08:00", "expireTime": "2026-09-25T09:20:00+08:00", "updateTime": "2026-09-25T07:00:00+08:00"},
			  "WTS": {"name": "Thunderstorm Warning", "code": "WTS", "actionCode": "CANCEL", "issueTime": "2026-09-25T04:00:00+08:00", "updateTime": "2026-09-25T08:15:00+08:00"},
			  "WFIRE": {"name": "Fire Danger Warning", "code": "WFIRER", "type": "Red", "actionCode": "REISSUE", "issueTime": "2026-09-25T06:00:00+08:00", "updateTime": "2026-09-25T06:45:00+08:00"}
			}`),
			Records: []want{
				{FeedWarnings, "WTCSGNL", "WTCSGNL", `{"family":"WTCSGNL","code":"TC8NE","name":"Tropical Cyclone Warning Signal","action":"ISSUE","issue_time":"2026-09-24T21:40:00+08:00","expire_time":null,"update_time":"2026-09-24T21:40:00+08:00"}`},
				{FeedWarnings, "WRAIN", "WRAIN", `{"family":"WRAIN","code":"WRAINR","name":"Rainstorm Warning Signal","action":"EXTEND","issue_time":"2026-09-25T05:05:00+08:00","expire_time":"2026-09-25T09:20:00+08:00","update_time":"2026-09-25T07:00:00+08:00"}`},
				{FeedWarnings, "WTS", "WTS", `{"family":"WTS","code":"WTS","name":"Thunderstorm Warning","action":"CANCEL","issue_time":"2026-09-25T04:00:00+08:00","expire_time":null,"update_time":"2026-09-25T08:15:00+08:00"}`},
				{FeedWarnings, "WFIRE", "WFIRE", `{"family":"WFIRE","code":"WFIRER","name":"Fire Danger Warning","action":"REISSUE","issue_time":"2026-09-25T06:00:00+08:00","expire_time":null,"update_time":"2026-09-25T06:45:00+08:00"}`},
			},
		},
		{
			Name: "bad families are rejected, the others come out",
			Payload: []byte(`{
			  "WHOT": "",
			  "WCOLD": {"name": "Cold Weather Warning", "code": "WCOLD", "actionCode": "ISSUE", "issueTime": "2026-01-10T16:45:00+08:00"},
			  "WMSGNL": {"name": "Strong Monsoon Signal", "code": "WMSGNL", "actionCode": "ISSUE", "issueTime": "soon", "updateTime": "2026-01-10T16:45:00+08:00"},
			  "": {"code": "WL", "actionCode": "ISSUE", "updateTime": "2026-01-10T16:45:00+08:00"},
			  "WL": {"name": "Landslip Warning", "code": "WL", "actionCode": "ISSUE", "updateTime": "2026-01-10T16:45:00+08:00"},
			  "WL": {"name": "Landslip Warning", "code": "WL", "actionCode": "CANCEL", "updateTime": "2026-01-10T18:45:00+08:00"}
			}`),
			Records: []want{
				{FeedWarnings, "WL", "WL", `{"family":"WL","code":"WL","name":"Landslip Warning","action":"ISSUE","issue_time":null,"expire_time":null,"update_time":"2026-01-10T16:45:00+08:00"}`},
			},
			Rejects: []wantReject{
				{FeedWarnings, "WHOT", "WHOT is an empty string, not an object"},
				{FeedWarnings, "WCOLD", "updateTime is missing"},
				{FeedWarnings, "WMSGNL", `issueTime "soon" is not a time like "2006-01-02T15:04:05+08:00"`},
				{FeedWarnings, "member 3", "the warning family (the member's name) is empty"},
				{FeedWarnings, "WL", "family WL is given again; the first is at WL"},
			},
		},
	})
}

func TestWarnsumPayloadErrors(t *testing.T) {
	tests := []struct {
		payload string
		is      error
		msg     string
	}{
		{`""`, connector.ErrMalformed, "warnsum: the payload is an empty string, not a JSON object"},
		{`[{"code": "WRAINA"}]`, connector.ErrMalformed, "warnsum: the payload is a list, not a JSON object"},
		{`{"WRAIN": {"code": "WRAINA", "updateTi`, connector.ErrTruncated, "warnsum: truncated: the JSON ends before its objects are closed at byte 38"},
		{`{"WRAIN" {}}`, connector.ErrMalformed, "warnsum: not JSON: expected colon after object key at byte 9"},
	}
	for _, tt := range tests {
		_, err := ParseWarnsum([]byte(tt.payload))
		if !errors.Is(err, tt.is) || err.Error() != tt.msg {
			t.Errorf("%q: got %v, want %q (%v)", tt.payload, err, tt.msg, tt.is)
		}
	}
}

// An action the spec does not list is caught by the spec, not the parser.
func TestWarnsumUnknownAction(t *testing.T) {
	res, err := ParseWarnsum([]byte(`{"WRAIN": {"code": "WRAINB", "actionCode": "UPGRADE", "updateTime": "2026-09-25T07:00:00+08:00"}}`))
	if err != nil {
		t.Fatal(err)
	}
	v := connector.NewValidator(ct.Builtin(t).Feeds()...)
	defer v.Release()
	ct.Check(t, v.Check(res), nil, []wantReject{
		{FeedWarnings, "WRAIN", `field action: value "UPGRADE": not one of ISSUE, REISSUE, EXTEND, CANCEL, UPDATE`},
	})
}
