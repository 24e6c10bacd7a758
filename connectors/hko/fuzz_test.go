package hko

import (
	"testing"

	ct "github.com/cityhighway/highway/connectors/connector/connectortest"
)

// The fuzz targets assert what every input must give: no panic, and either
// records and rejects that keep the parsers' promises or a payload error.

func FuzzRhrread(f *testing.F) {
	for _, s := range []string{"hko_rhrread_en_2019-12-11_warning.json", "hko_rhrread_en_2020-05-23.json", "hko_rhrread_tc_lightning_2021.json"} {
		f.Add(ct.Sample(f, s))
	}
	f.Add([]byte(rhrreadNight))
	f.Add([]byte(`{"rainfall": "", "uvindex": {"data": {}}, "temperature": {"data": [1, "x", null]}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		res, err := ParseRhrread(payload)
		ct.Invariants(t, res, err, FeedTemperature, FeedRainfall, FeedHumidity, FeedUV)
	})
}

func FuzzWarnsum(f *testing.F) {
	f.Add(ct.Sample(f, "hko_warnsum_tc_2026-09-25.json"))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"WRAIN": {"code": "WRAINA", "actionCode": "ISSUE", "expireTime": "2026-09-25T09:20:00+08:00", "updateTime": "2026-09-25T07:00:00+08:00"}, "WL": ""}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		res, err := ParseWarnsum(payload)
		ct.Invariants(t, res, err, FeedWarnings)
	})
}

func FuzzForecast(f *testing.F) {
	f.Add(ct.Sample(f, "hko_fnd_tc_2021-09-14.json"))
	f.Add([]byte(`{"updateTime": "2026-11-26T16:30:00+08:00", "weatherForecast": [{"forecastDate": "20261127", "forecastIcon": 50, "forecastMaxtemp": {"value": "24"}}, []]}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		res, err := ParseForecast(payload)
		ct.Invariants(t, res, err, FeedForecast)
	})
}
