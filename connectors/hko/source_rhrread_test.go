package hko

import (
	"errors"
	"testing"

	"github.com/cityhighway/highway/connectors/connector"
	ct "github.com/cityhighway/highway/connectors/connector/connectortest"
)

type (
	want       = ct.Want
	wantReject = ct.WantReject
)

func TestRhrreadSamples(t *testing.T) {
	tests := []struct {
		file    string
		records []want
	}{
		{
			file: "hko_rhrread_en_2019-12-11_warning.json", // warningMessage is a list, tcmessage ""
			records: []want{
				{FeedTemperature, "King's Park", "temperature.data[0]", `{"station":"King's Park","district":"YTM","temperature":22,"record_time":"2019-12-11T11:00:00+08:00"}`},
				{FeedTemperature, "Hong Kong Observatory", "temperature.data[1]", `{"station":"Hong Kong Observatory","district":"YTM","temperature":21,"record_time":"2019-12-11T11:00:00+08:00"}`},
				{FeedTemperature, "Tsuen Wan Shing Mun Valley", "temperature.data[2]", `{"station":"Tsuen Wan Shing Mun Valley","district":"TW","temperature":24,"record_time":"2019-12-11T11:00:00+08:00"}`},
				{FeedRainfall, "CW", "rainfall.data[0]", `{"district":"CW","place":"Central & Western District","rain_max":0,"rain_min":null,"maintenance":false,"start_time":"2019-12-11T09:45:00+08:00","end_time":"2019-12-11T10:45:00+08:00"}`},
				{FeedRainfall, "KT", "rainfall.data[1]", `{"district":"KT","place":"Kwun Tong","rain_max":0,"rain_min":null,"maintenance":false,"start_time":"2019-12-11T09:45:00+08:00","end_time":"2019-12-11T10:45:00+08:00"}`},
				{FeedHumidity, "Hong Kong Observatory", "humidity.data[0]", `{"station":"Hong Kong Observatory","humidity":52,"record_time":"2019-12-11T11:00:00+08:00"}`},
				{FeedUV, "King's Park", "uvindex.data[0]", `{"station":"King's Park","uv_index":3,"level":"moderate","record_time":"2019-12-11T11:00:00+08:00"}`},
			},
		},
		{
			file: "hko_rhrread_en_2020-05-23.json", // "Central &amp; Western District", warningMessage ""
			records: []want{
				{FeedTemperature, "King's Park", "temperature.data[0]", `{"station":"King's Park","district":"YTM","temperature":26,"record_time":"2020-05-23T17:00:00+08:00"}`},
				{FeedTemperature, "Hong Kong Observatory", "temperature.data[1]", `{"station":"Hong Kong Observatory","district":"YTM","temperature":26,"record_time":"2020-05-23T17:00:00+08:00"}`},
				{FeedTemperature, "Yuen Long Park", "temperature.data[2]", `{"station":"Yuen Long Park","district":"YL","temperature":27,"record_time":"2020-05-23T17:00:00+08:00"}`},
				{FeedTemperature, "Tai Mei Tuk", "temperature.data[3]", `{"station":"Tai Mei Tuk","district":"TP","temperature":26,"record_time":"2020-05-23T17:00:00+08:00"}`},
				{FeedRainfall, "CW", "rainfall.data[0]", `{"district":"CW","place":"Central & Western District","rain_max":0,"rain_min":null,"maintenance":false,"start_time":"2020-05-23T15:45:00+08:00","end_time":"2020-05-23T16:45:00+08:00"}`},
				{FeedRainfall, "E", "rainfall.data[1]", `{"district":"E","place":"Eastern District","rain_max":0,"rain_min":null,"maintenance":false,"start_time":"2020-05-23T15:45:00+08:00","end_time":"2020-05-23T16:45:00+08:00"}`},
				{FeedRainfall, "KT", "rainfall.data[2]", `{"district":"KT","place":"Kwun Tong","rain_max":0,"rain_min":null,"maintenance":false,"start_time":"2020-05-23T15:45:00+08:00","end_time":"2020-05-23T16:45:00+08:00"}`},
				{FeedHumidity, "Hong Kong Observatory", "humidity.data[0]", `{"station":"Hong Kong Observatory","humidity":85,"record_time":"2020-05-23T17:00:00+08:00"}`},
				{FeedUV, "King's Park", "uvindex.data[0]", `{"station":"King's Park","uv_index":1,"level":"low","record_time":"2020-05-23T17:00:00+08:00"}`},
			},
		},
		{
			// lang=tc: Chinese place names. Districts still normalise; the
			// station table is English only, so stations get no district;
			// the UV level 低 maps to low. The lightning section is not read.
			file: "hko_rhrread_tc_lightning_2021.json",
			records: []want{
				{FeedTemperature, "京士柏", "temperature.data[0]", `{"station":"京士柏","district":null,"temperature":31,"record_time":"2021-09-28T16:00:00+08:00"}`},
				{FeedTemperature, "香港天文台", "temperature.data[1]", `{"station":"香港天文台","district":null,"temperature":32,"record_time":"2021-09-28T16:00:00+08:00"}`},
				{FeedRainfall, "CW", "rainfall.data[0]", `{"district":"CW","place":"中西區","rain_max":0,"rain_min":null,"maintenance":false,"start_time":"2021-09-28T14:45:00+08:00","end_time":"2021-09-28T15:45:00+08:00"}`},
				{FeedRainfall, "E", "rainfall.data[1]", `{"district":"E","place":"東區","rain_max":0,"rain_min":null,"maintenance":false,"start_time":"2021-09-28T14:45:00+08:00","end_time":"2021-09-28T15:45:00+08:00"}`},
				{FeedHumidity, "香港天文台", "humidity.data[0]", `{"station":"香港天文台","humidity":71,"record_time":"2021-09-28T16:00:00+08:00"}`},
				{FeedUV, "京士柏", "uvindex.data[0]", `{"station":"京士柏","uv_index":2,"level":"low","record_time":"2021-09-28T16:00:00+08:00"}`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			res, err := ParseRhrread(ct.Sample(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			ct.Check(t, res, tt.records, nil)
		})
	}
}

// rhrreadNight is a report at 03:02: uvindex is "" and so are the messages.
const rhrreadNight = `{
 "rainfall": {"data": [
   {"unit": "mm", "place": "Sai Kung", "main": "TRUE"},
   {"unit": "mm", "place": "Yuen Long", "min": 1, "max": 5, "main": "FALSE"},
   {"unit": "mm", "place": "Islands District", "max": 2, "main": ""},
   {"unit": "mm", "place": "Tai Po", "max": "3"}
 ], "startTime": "2024-06-01T01:45:00+08:00", "endTime": "2024-06-01T02:45:00+08:00"},
 "uvindex": "",
 "updateTime": "2024-06-01T03:02:00+08:00",
 "temperature": {"data": [{"place": "King&#39;s Park", "value": 24.5, "unit": "C"}], "recordTime": "2024-06-01T03:00:00+08:00"},
 "warningMessage": "",
 "tcmessage": "",
 "humidity": {"recordTime": "2024-06-01T03:00:00+08:00", "data": [{"unit": "percent", "value": 96, "place": "Hong Kong Observatory"}]}
}`

func TestRhrreadQuirks(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		records []want
		rejects []wantReject
	}{
		{
			name:    "night: uvindex and messages are empty strings; maintenance, min, string numbers, escaped names",
			payload: rhrreadNight,
			records: []want{
				{FeedTemperature, "King's Park", "temperature.data[0]", `{"station":"King's Park","district":"YTM","temperature":24.5,"record_time":"2024-06-01T03:00:00+08:00"}`},
				{FeedRainfall, "SK", "rainfall.data[0]", `{"district":"SK","place":"Sai Kung","rain_max":null,"rain_min":null,"maintenance":true,"start_time":"2024-06-01T01:45:00+08:00","end_time":"2024-06-01T02:45:00+08:00"}`},
				{FeedRainfall, "YL", "rainfall.data[1]", `{"district":"YL","place":"Yuen Long","rain_max":5,"rain_min":1,"maintenance":false,"start_time":"2024-06-01T01:45:00+08:00","end_time":"2024-06-01T02:45:00+08:00"}`},
				{FeedRainfall, "IS", "rainfall.data[2]", `{"district":"IS","place":"Islands District","rain_max":2,"rain_min":null,"maintenance":null,"start_time":"2024-06-01T01:45:00+08:00","end_time":"2024-06-01T02:45:00+08:00"}`},
				{FeedRainfall, "TP", "rainfall.data[3]", `{"district":"TP","place":"Tai Po","rain_max":3,"rain_min":null,"maintenance":null,"start_time":"2024-06-01T01:45:00+08:00","end_time":"2024-06-01T02:45:00+08:00"}`},
				{FeedHumidity, "Hong Kong Observatory", "humidity.data[0]", `{"station":"Hong Kong Observatory","humidity":96,"record_time":"2024-06-01T03:00:00+08:00"}`},
			},
		},
		{
			name: "bad items are rejected one by one, the others come out",
			payload: `{"rainfall": {"data": [
			    {"unit": "mm", "place": "Atlantis", "max": 0},
			    {"unit": "mm", "place": "Central and Western", "max": 0},
			    {"unit": "mm", "place": "Central & Western District", "max": 1},
			    {"unit": "mm", "place": "Wan Chai", "max": "N/A"},
			    {"unit": "mm", "place": "Kwun Tong", "max": 0, "main": "MAYBE"},
			    {"unit": "cm", "place": "Sha Tin", "max": 0},
			    "Tuen Mun",
			    {"unit": "mm", "max": 0}
			  ], "endTime": "2024-06-01T02:45:00+08:00"},
			  "temperature": {"data": [
			    {"place": "Sha Tin", "value": "N/A", "unit": "C"},
			    {"place": "Sha Tin", "value": 30, "unit": "C"},
			    {"place": "Sha Tin", "value": 31, "unit": "C"},
			    {"place": {"en": "Stanley"}, "value": 30},
			    {"place": "Stanley", "unit": "C"}
			  ], "recordTime": "2024-06-01T03:00:00+08:00"},
			  "humidity": {"data": [{"place": "Hong Kong Observatory", "value": 90}], "recordTime": "yesterday"},
			  "uvindex": {"data": [{"place": "King's Park", "value": 7, "desc": "Very High"}], "recordDesc": "During the past hour"},
			  "updateTime": "2024-06-01T13:02:00+08:00"}`,
			records: []want{
				{FeedTemperature, "Sha Tin", "temperature.data[1]", `{"station":"Sha Tin","district":"ST","temperature":30,"record_time":"2024-06-01T03:00:00+08:00"}`},
				{FeedRainfall, "CW", "rainfall.data[1]", `{"district":"CW","place":"Central and Western","rain_max":0,"rain_min":null,"maintenance":null,"start_time":null,"end_time":"2024-06-01T02:45:00+08:00"}`},
				{FeedUV, "King's Park", "uvindex.data[0]", `{"station":"King's Park","uv_index":7,"level":"very high","record_time":"2024-06-01T13:00:00+08:00"}`},
			},
			rejects: []wantReject{
				{FeedTemperature, "temperature.data[0]", `value "N/A" is not a number`},
				{FeedTemperature, "temperature.data[2]", "station Sha Tin is given again; the first is at temperature.data[1]"},
				{FeedTemperature, "temperature.data[3]", "place is an object, not text"},
				{FeedTemperature, "temperature.data[4]", "value is missing"},
				{FeedRainfall, "rainfall.data[0]", `place "Atlantis" is not one of the 18 districts`},
				{FeedRainfall, "rainfall.data[2]", "district CW is given again; the first is at rainfall.data[1]"},
				{FeedRainfall, "rainfall.data[3]", `max "N/A" is not a number`},
				{FeedRainfall, "rainfall.data[4]", `main "MAYBE" is not TRUE, FALSE or empty`},
				{FeedRainfall, "rainfall.data[5]", `unit "cm" is not "mm"`},
				{FeedRainfall, "rainfall.data[6]", "rainfall.data[6] is a string, not an object"},
				{FeedRainfall, "rainfall.data[7]", "place is missing"},
				{FeedHumidity, "humidity.recordTime", `recordTime "yesterday" is not a time like "2006-01-02T15:04:05+08:00"; the section's 1 readings have no time`},
			},
		},
		{
			name: "broken sections are one reject each; UV without updateTime",
			payload: `{"rainfall": "", "temperature": {"recordTime": "2024-06-01T03:00:00+08:00"},
			  "humidity": {"data": {}, "recordTime": "2024-06-01T03:00:00+08:00"},
			  "uvindex": {"data": [{"place": "King's Park", "value": 0, "desc": "low"}]}}`,
			rejects: []wantReject{
				{FeedTemperature, "temperature", "temperature.data is missing"},
				{FeedRainfall, "rainfall", "rainfall is an empty string, not an object"},
				{FeedHumidity, "humidity", "humidity.data is an object, not a list"},
				{FeedUV, "updateTime", "updateTime is missing; the 1 UV readings have no time"},
			},
		},
		{
			name: "times without an offset are Hong Kong time",
			payload: `{"temperature": {"data": [{"place": "Stanley", "value": 18}], "recordTime": "2024-01-01T00:00:00"},
			  "rainfall": {"data": [], "endTime": "2024-01-01T00:45:00"}}`,
			records: []want{
				{FeedTemperature, "Stanley", "temperature.data[0]", `{"station":"Stanley","district":"S","temperature":18,"record_time":"2024-01-01T00:00:00+08:00"}`},
			},
		},
		{
			name:    "a UTF-8 BOM and an empty object",
			payload: "\ufeff {}",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ParseRhrread([]byte(tt.payload))
			if err != nil {
				t.Fatal(err)
			}
			ct.Check(t, res, tt.records, tt.rejects)
		})
	}
}

func TestRhrreadPayloadErrors(t *testing.T) {
	tests := []struct {
		payload string
		is      error
		msg     string
	}{
		{`<html>Service Unavailable</html>`, connector.ErrMalformed, "rhrread: not JSON: invalid character '<' looking for beginning of value at byte 1"},
		{`{"temperature": {"data": [`, connector.ErrTruncated, "rhrread: truncated: the JSON ends before its objects are closed at byte 26"},
		{`[]`, connector.ErrMalformed, "rhrread: the payload is a JSON array, not an object at byte 1"},
		{`null`, connector.ErrMalformed, "rhrread: the payload is null, not a JSON object"},
		{``, connector.ErrMalformed, "rhrread: not JSON: unexpected end of JSON input at byte 0"},
	}
	for _, tt := range tests {
		_, err := ParseRhrread([]byte(tt.payload))
		if !errors.Is(err, tt.is) || err.Error() != tt.msg {
			t.Errorf("%q: got %v, want %q (%v)", tt.payload, err, tt.msg, tt.is)
		}
	}
}

// A record the parser emits is checked against the spec in force by the
// runtime's Validator: a temperature of 99 °C is out of the spec's range.
func TestRhrreadOutOfRange(t *testing.T) {
	res, err := ParseRhrread([]byte(`{"temperature": {"data": [{"place": "Sha Tin", "value": 99}, {"place": "Tai Po", "value": 30}], "recordTime": "2024-06-01T03:00:00+08:00"}}`))
	if err != nil {
		t.Fatal(err)
	}
	v := connector.NewValidator(ct.Builtin(t).Feeds()...)
	defer v.Release()
	ct.Check(t, v.Check(res), []want{
		{FeedTemperature, "Tai Po", "temperature.data[1]", `{"station":"Tai Po","district":"TP","temperature":30,"record_time":"2024-06-01T03:00:00+08:00"}`},
	}, []wantReject{
		{FeedTemperature, "temperature.data[0]", "field temperature: value 99: above the maximum 50"},
	})
}

func TestSamplesAreShared(t *testing.T) {
	ct.SameAsShared(t, "hko_rhrread_en_2019-12-11_warning.json", "hko_rhrread_en_2020-05-23.json", "hko_rhrread_tc_lightning_2021.json", "hko_warnsum_tc_2026-09-25.json", "hko_fnd_tc_2021-09-14.json")
}
