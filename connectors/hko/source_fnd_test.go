package hko

import (
	"errors"
	"testing"

	"github.com/cityhighway/highway/connectors/connector"
	ct "github.com/cityhighway/highway/connectors/connector/connectortest"
)

func TestForecast(t *testing.T) {
	ct.Run(t, ParseForecast, []ct.Case[[]byte]{
		{
			Name:    "sample (lang=tc); seaTemp is an object and soilTemp a list, neither read",
			Payload: ct.Sample(t, "hko_fnd_tc_2021-09-14.json"),
			Records: []want{
				{FeedForecast, "2021-09-15", "weatherForecast[0]", `{"forecast_date":"2021-09-15","week":"星期三","wind":"西至西南風2至3級。","weather":"大致多雲，有幾陣驟雨及雷暴。下午短暫時間有陽光。","max_temp":32,"min_temp":27,"max_rh":95,"min_rh":70,"icon":54,"psr":"中低","update_time":"2021-09-14T11:30:00+08:00"}`},
				{FeedForecast, "2021-09-16", "weatherForecast[1]", `{"forecast_date":"2021-09-16","week":"星期四","wind":"西至西南風3級。","weather":"大致多雲，間中有驟雨及雷暴。","max_temp":31,"min_temp":27,"max_rh":95,"min_rh":75,"icon":63,"psr":"中","update_time":"2021-09-14T11:30:00+08:00"}`},
			},
		},
		{
			Name: "missing readings are null; forecastIcon in lower case; bad days are rejected",
			Payload: []byte(`{"generalSituation": "A ridge of high pressure.", "updateTime": "2026-11-26T16:30:00+08:00",
			  "soilTemp": [], "seaTemp": {},
			  "weatherForecast": [
			    {"forecastDate": "20261127", "week": "Friday", "forecastWind": "North force 4.", "forecastWeather": "Fine.", "forecastMaxtemp": {"value": 24, "unit": "C"}, "forecastMintemp": {"value": 18.5, "unit": "C"}, "forecastIcon": 50, "PSR": "Low"},
			    {"forecastDate": "20261128", "week": "Saturday"},
			    {"forecastDate": "20261131", "week": "Monday"},
			    {"forecastDate": "20261128", "week": "Saturday"},
			    {"forecastDate": "2026-11-29"},
			    {"week": "Tuesday"},
			    {"forecastDate": "20261201", "forecastMaxtemp": 24, "forecastMintemp": {"value": 64, "unit": "F"}, "ForecastIcon": 50.5, "forecastMaxrh": {"value": "high"}},
			    []
			  ]}`),
			Records: []want{
				{FeedForecast, "2026-11-27", "weatherForecast[0]", `{"forecast_date":"2026-11-27","week":"Friday","wind":"North force 4.","weather":"Fine.","max_temp":24,"min_temp":18.5,"max_rh":null,"min_rh":null,"icon":50,"psr":"Low","update_time":"2026-11-26T16:30:00+08:00"}`},
				{FeedForecast, "2026-11-28", "weatherForecast[1]", `{"forecast_date":"2026-11-28","week":"Saturday","wind":null,"weather":null,"max_temp":null,"min_temp":null,"max_rh":null,"min_rh":null,"icon":null,"psr":null,"update_time":"2026-11-26T16:30:00+08:00"}`},
			},
			Rejects: []wantReject{
				{FeedForecast, "weatherForecast[2]", `forecastDate "20261131" is not a date like 20210915`},
				{FeedForecast, "weatherForecast[3]", "date 2026-11-28 is given again; the first is at weatherForecast[1]"},
				{FeedForecast, "weatherForecast[4]", `forecastDate "2026-11-29" is not a date like 20210915`},
				{FeedForecast, "weatherForecast[5]", "forecastDate is missing"},
				{FeedForecast, "weatherForecast[6]", `forecastMaxtemp is a number, not an object; forecastMintemp.unit "F" is not "C"; forecastMaxrh.value "high" is not a number; ForecastIcon 50.5 is not a whole number`},
				{FeedForecast, "weatherForecast[7]", "weatherForecast[7] is a list, not an object"},
			},
		},
	})
}

func TestForecastPayloadErrors(t *testing.T) {
	tests := []struct {
		payload string
		msg     string
	}{
		{`{"weatherForecast": []}`, "fnd: updateTime is missing"},
		{`{"updateTime": "noon", "weatherForecast": []}`, `fnd: updateTime "noon" is not a time like "2006-01-02T15:04:05+08:00"`},
		{`{"updateTime": "2026-11-26T16:30:00+08:00"}`, "fnd: weatherForecast is missing"},
		{`{"updateTime": "2026-11-26T16:30:00+08:00", "weatherForecast": {}}`, "fnd: weatherForecast is an object, not a list"},
	}
	for _, tt := range tests {
		_, err := ParseForecast([]byte(tt.payload))
		if !errors.Is(err, connector.ErrMalformed) || err.Error() != tt.msg {
			t.Errorf("%q: got %v, want %q", tt.payload, err, tt.msg)
		}
	}
}
