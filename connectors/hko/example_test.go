package hko_test

import (
	"fmt"

	"github.com/cityhighway/highway/connectors/hko"
)

// A report at night: uvindex is "" (no UV record, nothing wrong), the place
// name arrives HTML-escaped, and a district under maintenance publishes no
// rainfall.
func ExampleParseRhrread() {
	payload := []byte(`{
	  "rainfall": {"data": [
	    {"unit": "mm", "place": "Central &amp; Western District", "max": 0, "main": "FALSE"},
	    {"unit": "mm", "place": "Sai Kung", "main": "TRUE"}
	  ], "startTime": "2024-06-01T01:45:00+08:00", "endTime": "2024-06-01T02:45:00+08:00"},
	  "uvindex": "",
	  "warningMessage": "",
	  "updateTime": "2024-06-01T03:02:00+08:00"
	}`)
	res, err := hko.ParseRhrread(payload)
	if err != nil {
		panic(err)
	}
	for _, r := range res.Records {
		fmt.Printf("%s %s: %s\n", r.Feed, r.Key, r.Value)
	}
	// Output:
	// hko.weather.rainfall CW: {"district":"CW","place":"Central & Western District","rain_max":0,"rain_min":null,"maintenance":false,"start_time":"2024-06-01T01:45:00+08:00","end_time":"2024-06-01T02:45:00+08:00"}
	// hko.weather.rainfall SK: {"district":"SK","place":"Sai Kung","rain_max":null,"rain_min":null,"maintenance":true,"start_time":"2024-06-01T01:45:00+08:00","end_time":"2024-06-01T02:45:00+08:00"}
}
