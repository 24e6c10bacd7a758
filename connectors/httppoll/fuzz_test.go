package httppoll_test

import (
	"testing"

	"github.com/cityhighway/highway/connectors/connector/connectortest"
	"github.com/cityhighway/highway/connectors/httppoll"
	"github.com/cityhighway/highway/highway/catalog"
)

// fuzzSpecs are one connector per format over one feed with a field of
// every type, so every conversion is reached.
const fuzzSpecs = `
kind: feed
name: fuzz.items
department: TEST
fields:
  - {name: id, type: string, required: true}
  - {name: n, type: int64}
  - {name: x, type: float64}
  - {name: ok, type: bool}
  - {name: at, type: time, required: true}
key: [id]
event_time: at
interval: 1m
---
kind: connector
name: fuzz.json
feed: fuzz.items
url: https://example.org/a.json
format: json
records: car_park[].vehicle_type[].service_category[]
fields:
  - {field: id, from: "$.car_park[].park_id"}
  - {field: n, from: vacancy}
  - {field: x, from: "$.car_park[].vehicle_type[].x"}
  - {field: ok, from: vacancy_type}
  - {field: at, from: lastupdate}
---
kind: connector
name: fuzz.xml
feed: fuzz.items
url: https://example.org/a.xml
format: xml
records: jtis_journey_list/jtis_journey_time
fields:
  - {field: id, from: LOCATION_ID}
  - {field: n, from: JOURNEY_TYPE}
  - {field: x, from: JOURNEY_DATA}
  - {field: ok, from: "@valid"}
  - {field: at, from: CAPTURE_DATE}
---
kind: connector
name: fuzz.csv
feed: fuzz.items
url: https://example.org/a.csv
format: csv
fields:
  - {field: id, from: Automatic Weather Station}
  - {field: n, from: "10-Minute Mean Speed(km/hour)", null: [N/A]}
  - {field: x, from: "10-Minute Maximum Gust(km/hour)"}
  - {field: ok, from: "10-Minute Mean Wind Direction(Compass points)"}
  - {field: at, from: Date time, format: "200601021504"}
`

func fuzzParser(f *testing.F, name string) *httppoll.Parser {
	cat, err := catalog.Parse("fuzz.yaml", []byte(fuzzSpecs))
	if err != nil {
		f.Fatal(err)
	}
	c := cat.Connector(name)
	return httppoll.New(c, cat.Feed(c.Feed))
}

func fuzz(f *testing.F, name string, seeds ...string) {
	p := fuzzParser(f, name)
	for _, s := range seeds {
		f.Add(connectortest.Sample(f, s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		res, err := p.Parse(payload)
		connectortest.Invariants(t, res, err, "fuzz.items")
	})
}

func FuzzJSON(f *testing.F) {
	f.Add([]byte(`{"car_park":[{"park_id":"p","vehicle_type":[{"x":"1.5","service_category":[{"vacancy":"2","vacancy_type":"y","lastupdate":"2026-11-26 08:30:00"},]}]}]}`))
	fuzz(f, "fuzz.json", "td_carpark_vacancy_all.json", "kmb_eta.json", "mtr_getSchedule.json")
}

func FuzzXML(f *testing.F) {
	f.Add([]byte(`<jtis_journey_list xmlns="http://data.one.gov.hk/td"><jtis_journey_time valid="Y"><LOCATION_ID>H1</LOCATION_ID><CAPTURE_DATE>2026-11-26T08:30:00</CAPTURE_DATE></jtis_journey_time></jtis_journey_list>`))
	fuzz(f, "fuzz.xml", "td_journeytime.xml")
}

func FuzzCSV(f *testing.F) {
	f.Add([]byte("\ufeffAutomatic Weather Station,Date time\r\nA,202611260830\r\n"))
	fuzz(f, "fuzz.csv", "hko_latest_10min_wind.csv")
}
