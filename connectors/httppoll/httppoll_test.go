package httppoll_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cityhighway/highway/connectors/connector"
	"github.com/cityhighway/highway/connectors/httppoll"
	"github.com/cityhighway/highway/highway/catalog"
)

// want is an expected record: where, key and JSON value (compared by
// meaning).
type want [3]string

// wantReject is an expected reject: where and reason.
type wantReject [2]string

// parse loads specs (feeds and connectors) and parses payload with the
// connector called name.
func parse(t *testing.T, cat *catalog.Catalog, name string, payload []byte) (connector.Result, error) {
	t.Helper()
	c := cat.Connector(name)
	if c == nil {
		t.Fatalf("no connector %s", name)
	}
	return httppoll.New(c, cat.Feed(c.Feed)).Parse(payload)
}

func load(t *testing.T, specs string) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.Parse("test.yaml", []byte(specs))
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func loadFile(t *testing.T, path string) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.Load(nil, path)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// check compares a result with the expected records and rejects, and
// proves every record valid against its feed with the platform's decoder.
// parseCase is a row of a table test: a payload for one of the catalogue's
// connectors and the records and rejects it gives.
type parseCase struct {
	name, connector, payload string
	records                  []want
	rejects                  []wantReject
}

// runCases parses each case's payload with its connector of cat, as a
// subtest, and checks what comes out.
func runCases(t *testing.T, cat *catalog.Catalog, cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := parse(t, cat, tc.connector, []byte(tc.payload))
			if err != nil {
				t.Fatal(err)
			}
			check(t, cat, res, tc.records, tc.rejects)
		})
	}
}

func check(t *testing.T, cat *catalog.Catalog, res connector.Result, records []want, rejects []wantReject) {
	t.Helper()
	v := connector.NewValidator(cat.Feeds()...)
	defer v.Release()
	for i := 0; i < max(len(records), len(res.Records)); i++ {
		if i >= len(records) || i >= len(res.Records) {
			t.Errorf("record %d: got %d records, want %d; got %+v", i, len(res.Records), len(records), res.Records)
			break
		}
		got, w := res.Records[i], records[i]
		if err := v.Validate(got); err != nil {
			t.Errorf("record %d (%s) does not fit its feed: %v: %s", i, got.Where, err, got.Value)
		}
		if got.Where != w[0] || got.Key != w[1] {
			t.Errorf("record %d: at %q key %q, want at %q key %q", i, got.Where, got.Key, w[0], w[1])
		}
		var a, b any
		if err := json.Unmarshal(got.Value, &a); err != nil {
			t.Fatalf("record %d is not JSON: %s", i, got.Value)
		}
		if err := json.Unmarshal([]byte(w[2]), &b); err != nil {
			t.Fatalf("expected record %d is not JSON: %s", i, w[2])
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("record %d (%s):\n got %s\nwant %s", i, got.Where, got.Value, w[2])
		}
	}
	for i := 0; i < max(len(rejects), len(res.Rejects)); i++ {
		if i >= len(rejects) || i >= len(res.Rejects) {
			t.Errorf("reject %d: got %d rejects, want %d; got %+v", i, len(res.Rejects), len(rejects), res.Rejects)
			break
		}
		got := res.Rejects[i]
		if got.Where != rejects[i][0] || got.Reason != rejects[i][1] {
			t.Errorf("reject %d:\n got {%q, %q}\nwant %q", i, got.Where, got.Reason, rejects[i])
		}
	}
}

// The car-park vacancy feed is added with YAML alone (the README's
// example, docs/examples/td-carpark-vacancy.yaml): the sample, which has a
// trailing comma, and the live file's BOM are read.
func TestCarParkWithYAMLAlone(t *testing.T) {
	example, err := os.ReadFile("../../docs/examples/td-carpark-vacancy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(example, sample(t, "td-carpark-vacancy.yaml")) {
		t.Fatal("testdata/td-carpark-vacancy.yaml differs from docs/examples/td-carpark-vacancy.yaml; copy it again")
	}
	cat := loadFile(t, "testdata/td-carpark-vacancy.yaml")
	payload := sample(t, "td_carpark_vacancy_all.json")
	records := []want{
		{"car_park[0].vehicle_type[0].service_category[0]", "p1|P|HOURLY", `{"park_id":"p1","vehicle_type":"P","category":"HOURLY","vacancy_type":"A","vacancy":12,"last_update":"2026-07-31T20:00:00+08:00"}`},
		{"car_park[1].vehicle_type[0].service_category[0]", "p2|P|HOURLY", `{"park_id":"p2","vehicle_type":"P","category":"HOURLY","vacancy_type":"B","vacancy":1,"last_update":"2026-07-31T20:00:00+08:00"}`},
		{"car_park[2].vehicle_type[0].service_category[0]", "p3|P|HOURLY", `{"park_id":"p3","vehicle_type":"P","category":"HOURLY","vacancy_type":"C","vacancy":0,"last_update":"2026-07-31T20:00:00+08:00"}`},
	}
	for name, p := range map[string][]byte{"sample": payload, "with a BOM": append([]byte("\ufeff"), payload...)} {
		t.Run(name, func(t *testing.T) {
			res, err := parse(t, cat, "td.carpark.vacancy", p)
			if err != nil {
				t.Fatal(err)
			}
			check(t, cat, res, records, nil)
		})
	}
}

func TestJSON(t *testing.T) {
	mtr := loadFile(t, "testdata/mtr-next-train.yaml")
	const kmbSpecs = `
kind: feed
name: kmb.eta
department: KMB
fields:
  - {name: route, type: string, required: true}
  - {name: stop_seq, type: int64, required: true}
  - {name: eta_seq, type: int64, required: true}
  - {name: destination, type: string}
  - {name: eta, type: time}
  - {name: remark, type: string}
  - {name: generated, type: time, required: true}
key: [route, stop_seq, eta_seq]
event_time: generated
interval: 1m
---
kind: connector
name: kmb.eta.route_234a
feed: kmb.eta
url: https://data.etabus.gov.hk/v1/transport/kmb/eta/STOP/234A/1
format: json
records: $.data[]
fields:
  - {field: route, from: route}
  - {field: stop_seq, from: seq}
  - {field: eta_seq, from: eta_seq}
  - {field: destination, from: dest_en}
  - {field: eta, from: eta}
  - {field: remark, from: rmk_en}
  - {field: generated, from: $.generated_timestamp}
`
	kmb := load(t, kmbSpecs)
	const gaugeSpecs = `
kind: feed
name: city.gauges
department: DSD
fields:
  - {name: gauge, type: string, required: true}
  - {name: level, type: float64, min: 0, max: 10}
  - {name: alarm, type: bool}
  - {name: count, type: int64}
  - {name: at, type: time, required: true}
key: [gauge]
event_time: at
interval: 1m
---
kind: connector
name: city.gauges
feed: city.gauges
url: https://example.org/gauges.json
format: json
records: sites.*.readings[]
fields:
  - {field: gauge, from: id}
  - {field: level, from: m.level, null: ["-"]}
  - {field: alarm, from: alarm}
  - {field: count, from: n}
  - {field: at, from: t, format: unix}
`
	gauges := load(t, gaugeSpecs)
	tests := []struct {
		name      string
		cat       *catalog.Catalog
		connector string
		payload   string
		records   []want
		rejects   []wantReject
	}{
		{
			name: "MTR: values are strings, times without offset, an unpadded hour", cat: mtr, connector: "mtr.tkl.lhp.down",
			payload: string(sample(t, "mtr_getSchedule.json")),
			records: []want{{"data.TKL-LHP.DOWN[0]", "TKL|LHP|DOWN|1",
				`{"line":"TKL","station":"LHP","direction":"DOWN","seq":1,"platform":"2","destination":"TIK","minutes":4,"valid":true,"arrival_time":"2023-12-11T00:48:00+08:00","system_time":"2023-12-11T00:44:56+08:00"}`}},
		},
		{
			name: "MTR: a records path that is not in the payload is an error of the payload, not of each item", cat: mtr, connector: "mtr.tkl.lhp.up",
			payload: `{"status":1,"sys_time":"2023-12-11 0:44:56","data":{"TKL-TKO":{"UP":[]}}}`,
		},
		{
			name: "KMB: two ETAs, header time from the root", cat: kmb, connector: "kmb.eta.route_234a",
			payload: string(sample(t, "kmb_eta.json")),
			records: []want{
				{"data[0]", "234A|6|1", `{"route":"234A","stop_seq":6,"eta_seq":1,"destination":"TSUEN WAN WEST STATION","eta":"2026-07-30T21:06:00+08:00","remark":null,"generated":"2026-07-30T21:02:13+08:00"}`},
				{"data[1]", "234A|6|2", `{"route":"234A","stop_seq":6,"eta_seq":2,"destination":"TSUEN WAN WEST STATION","eta":"2026-07-30T21:31:00+08:00","remark":"Scheduled Bus","generated":"2026-07-30T21:02:13+08:00"}`},
			},
		},
		{
			name: "KMB: data often []", cat: kmb, connector: "kmb.eta.route_234a",
			payload: `{"type":"ETA","generated_timestamp":"2026-07-30T21:02:13+08:00","data":[]}`,
		},
		{
			name: "members, nested values, null markers, unix seconds, trailing commas; bad items rejected", cat: gauges, connector: "city.gauges",
			payload: `{"sites": {
				"north": {"readings": [
					{"id": "N1", "m": {"level": 2.5}, "alarm": "N", "n": "3", "t": 1795653000},
					{"id": "N2", "m": {"level": "-"}, "alarm": false, "n": 4.0, "t": "1795653000.5"},
				]},
				"south": {"readings": [
					{"id": "S1", "m": {"level": "deep"}, "t": 1795653000},
					{"id": "S2", "m": 7, "t": 1795653000},
					{"id": "S3", "m": {"level": 1}, "n": 2.5, "t": 1795653000},
					{"id": "S4", "m": {"level": 1}, "alarm": 3, "t": 1795653000},
					{"m": {"level": 1}, "t": 1795653000},
					{"id": "S6", "m": {"level": 10}, "alarm": "yes", "t": "1795653000"},
					{"id": "S7", "m": {"level": 1}, "t": {"s": 1}},
				]},
				"east": {"readings": "none"},
				"west": {"readings": null},
			},}`,
			records: []want{
				{"sites.north.readings[0]", "N1", `{"gauge":"N1","level":2.5,"alarm":false,"count":3,"at":"2026-11-26T08:30:00+08:00"}`},
				{"sites.north.readings[1]", "N2", `{"gauge":"N2","level":null,"alarm":false,"count":4,"at":"2026-11-26T08:30:00.5+08:00"}`},
				{"sites.south.readings[5]", "S6", `{"gauge":"S6","level":10,"alarm":true,"count":null,"at":"2026-11-26T08:30:00+08:00"}`},
			},
			rejects: []wantReject{
				{"sites.south.readings[0]", `field level (from "m.level"): "deep" is not a number`},
				{"sites.south.readings[1]", `field level (from "m.level"): the path leads through a number`},
				{"sites.south.readings[2]", `field count (from "n"): "2.5" is not a whole number`},
				{"sites.south.readings[3]", `field alarm (from "alarm"): "3" is not true or false (or yes/no, y/n, 1/0)`},
				{"sites.south.readings[4]", `key field gauge (from "id") is missing`},
				{"sites.south.readings[6]", `field at (from "t"): an object, not a value`},
				{"sites.east.readings", `is a string, not a list`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := parse(t, tt.cat, tt.connector, []byte(tt.payload))
			if strings.Contains(tt.name, "error of the payload") {
				if !errors.Is(err, connector.ErrMalformed) {
					t.Fatalf("want a malformed payload, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			check(t, tt.cat, res, tt.records, tt.rejects)
		})
	}
}

func TestXML(t *testing.T) {
	cat := load(t, `
kind: feed
name: td.journey.test
department: TD
fields:
  - {name: location_id, type: string, required: true}
  - {name: destination_id, type: string, required: true}
  - {name: minutes, type: float64, min: 0}
  - {name: colour, type: int64}
  - {name: description, type: string}
  - {name: capture_time, type: time, required: true}
key: [location_id, destination_id]
event_time: capture_time
interval: 2m
---
kind: connector
name: td.journey.test
feed: td.journey.test
url: https://resource.data.one.gov.hk/td/jss/Journeytimev2.xml
format: xml
records: jtis_journey_list/jtis_journey_time      # the default namespace is ignored
fields:
  - {field: location_id, from: LOCATION_ID}
  - {field: destination_id, from: DESTINATION_ID}
  - {field: minutes, from: JOURNEY_DATA, null: ["-1"]}
  - {field: colour, from: COLOUR_ID}
  - {field: description, from: JOURNEY_DESC}
  - {field: capture_time, from: CAPTURE_DATE}
---
kind: feed
name: city.sensors
department: EPD
fields:
  - {name: site, type: string, required: true}
  - {name: sensor, type: string, required: true}
  - {name: kind, type: string}
  - {name: reading, type: float64}
  - {name: at, type: time, required: true}
key: [site, sensor]
event_time: at
interval: 1m
---
kind: connector
name: city.sensors
feed: city.sensors
url: https://example.org/sensors.xml
format: xml
timezone: UTC
records: report/site/sensor
fields:
  - {field: site, from: /report/site/@id}       # the record's own site
  - {field: sensor, from: "@id"}
  - {field: kind, from: "t:kind"}               # prefixes are ignored
  - {field: reading, from: "."}                 # the element's own text
  - {field: at, from: /report/stamp, format: "02/01/2006 15:04"}
`)
	runCases(t, cat, []parseCase{
		{
			name: "TD journey times sample", connector: "td.journey.test", payload: string(sample(t, "td_journeytime.xml")),
			records: []want{
				{"jtis_journey_list/jtis_journey_time[1]", "H11|CH", `{"location_id":"H11","destination_id":"CH","minutes":20,"colour":2,"description":null,"capture_time":"2017-09-16T14:16:35+08:00"}`},
				{"jtis_journey_list/jtis_journey_time[2]", "H11|EH", `{"location_id":"H11","destination_id":"EH","minutes":4,"colour":3,"description":null,"capture_time":"2017-09-16T14:16:35+08:00"}`},
			},
		},
		{
			name: "attributes, enclosing elements, own text, a time zone; bad items rejected", connector: "city.sensors",
			payload: "\ufeff<?xml version=\"1.0\"?>\n<report xmlns:t=\"urn:t\"><stamp>26/11/2026 00:30</stamp>" +
				`<site id="A"><sensor id="1"><t:kind>rain</t:kind>3.5</sensor><sensor id="2">x</sensor></site>` +
				`<site id="B"><sensor id="1">  7 </sensor><sensor>1</sensor><other/></site></report>`,
			records: []want{
				{"report/site[1]/sensor[1]", "A|1", `{"site":"A","sensor":"1","kind":"rain","reading":3.5,"at":"2026-11-26T08:30:00+08:00"}`},
				{"report/site[2]/sensor[1]", "B|1", `{"site":"B","sensor":"1","kind":null,"reading":7,"at":"2026-11-26T08:30:00+08:00"}`},
			},
			rejects: []wantReject{
				{"report/site[1]/sensor[2]", `field reading (from "."): "x" is not a number`},
				{"report/site[2]/sensor[2]", `key field sensor (from "@id") is missing`},
			},
		},
	})
}

func TestCSV(t *testing.T) {
	const feed = `
kind: feed
name: hko.wind.test
department: HKO
fields:
  - {name: station, type: string, required: true}
  - {name: direction, type: string}
  - {name: speed, type: float64, unit: km/h, min: 0}
  - {name: gust, type: float64, unit: km/h, min: 0}
  - {name: at, type: time, required: true}
key: [station]
event_time: at
interval: 10m
`
	cat := load(t, feed+`---
kind: connector
name: hko.wind.header
feed: hko.wind.test
url: https://data.weather.gov.hk/weatherAPI/hko_data/regional-weather/latest_10min_wind.csv
format: csv
fields:
  - {field: at, from: Date time, format: "200601021504"}
  - {field: station, from: Automatic Weather Station}
  - {field: direction, from: "10-Minute Mean Wind Direction(Compass points)", null: [N/A]}
  - {field: speed, from: "10-Minute Mean Speed(km/hour)", null: [N/A]}
  - {field: gust, from: "10-minute maximum gust(km/hour)", null: [N/A]}
---
kind: connector
name: hko.wind.columns
feed: hko.wind.test
url: https://example.org/wind.txt
format: csv
header: false
delimiter: ";"
fields:
  - {field: at, from: "1", format: unix_ms}
  - {field: station, from: "2"}
  - {field: speed, from: "4"}
`)
	wind := string(sample(t, "hko_latest_10min_wind.csv"))
	windRecords := []want{
		{"line 2", "Central Pier", `{"station":"Central Pier","direction":"East","speed":23,"gust":32,"at":"2026-09-25T17:00:00+08:00"}`},
		{"line 3", "Chek Lap Kok", `{"station":"Chek Lap Kok","direction":"Southeast","speed":19,"gust":27,"at":"2026-09-25T17:00:00+08:00"}`},
		{"line 4", "Cheung Chau", `{"station":"Cheung Chau","direction":"Southeast","speed":27,"gust":30,"at":"2026-09-25T17:00:00+08:00"}`},
		{"line 5", "Kai Tak", `{"station":"Kai Tak","direction":"Southeast","speed":18,"gust":24,"at":"2026-09-25T17:00:00+08:00"}`},
		{"line 6", "Stanley", `{"station":"Stanley","direction":"Northeast","speed":null,"gust":null,"at":"2026-09-25T17:00:00+08:00"}`},
		{"line 7", "Tate's Cairn", `{"station":"Tate's Cairn","direction":null,"speed":22,"gust":30,"at":"2026-09-25T17:00:00+08:00"}`},
	}
	runCases(t, cat, []parseCase{
		{name: "HKO regional wind sample, N/A is null", connector: "hko.wind.header", payload: wind, records: windRecords},
		{name: "with a BOM and CRLF", connector: "hko.wind.header", payload: "\ufeff" + strings.ReplaceAll(wind, "\n", "\r\n"), records: windRecords},
		{
			name: "bad rows rejected, short rows null, blank lines skipped", connector: "hko.wind.header",
			payload: "Date time,Automatic Weather Station,10-Minute Mean Wind Direction(Compass points),10-Minute Mean Speed(km/hour),10-Minute Maximum Gust(km/hour)\n" +
				"202609251700,Sai Kung,North,fast,3\n\n202609251700,Sha Tin\n2026-09-25,Tai Po,North,1,2\n",
			records: []want{{"line 4", "Sha Tin", `{"station":"Sha Tin","direction":null,"speed":null,"gust":null,"at":"2026-09-25T17:00:00+08:00"}`}},
			rejects: []wantReject{
				{"line 2", `field speed (from "10-Minute Mean Speed(km/hour)"): "fast" is not a number`},
				{"line 5", `field at (from "Date time"): "2026-09-25" is not a time like "200601021504"`},
			},
		},
		{
			name: "no header: columns by number, another delimiter", connector: "hko.wind.columns",
			payload: "1795653000000;Sai Kung;x;12.5\n1795653000000;;x;1\n",
			records: []want{{"line 1", "Sai Kung", `{"station":"Sai Kung","speed":12.5,"at":"2026-11-26T08:30:00+08:00"}`}},
			rejects: []wantReject{{"line 2", `key field station (from "2") is missing`}},
		},
	})
}

// A payload that is not what the spec says fails as a whole, with a
// reason and, where known, a position.
func TestPayloadErrors(t *testing.T) {
	cat := load(t, `
kind: feed
name: city.items
department: X
fields:
  - {name: id, type: string, required: true}
  - {name: at, type: time, required: true}
key: [id]
event_time: at
interval: 1m
---
{kind: connector, name: city.json, feed: city.items, url: "https://x.org/a", format: json, records: "data.items[]", fields: [{field: id, from: id}, {field: at, from: at}]}
---
{kind: connector, name: city.xml, feed: city.items, url: "https://x.org/a", format: xml, records: "list/item", fields: [{field: id, from: "@id"}, {field: at, from: at}]}
---
{kind: connector, name: city.csv, feed: city.items, url: "https://x.org/a", format: csv, fields: [{field: id, from: id}, {field: at, from: at}]}
`)
	for _, tc := range []struct {
		connector, payload string
		kind               error
		msg                string
	}{
		{"city.json", "", connector.ErrMalformed, "city.json: the payload is empty"},
		{"city.json", "<html>oops</html>", connector.ErrMalformed, "city.json: not JSON: invalid character '<' looking for beginning of value at byte 1"},
		{"city.json", `{"data": {"items": [{"id": "a"`, connector.ErrTruncated, "city.json: truncated: the JSON ends before its values are closed at byte 30"},
		{"city.json", `{"data": {"things": []}}`, connector.ErrMalformed, `city.json: data has no member "items" at byte 9 (records path data.items[])`},
		{"city.json", `[1, 2]`, connector.ErrMalformed, `city.json: the root is a list, not an object with member "data" at byte 0 (records path data.items[])`},
		{"city.json", `{"data": {"items": {}}} x`, connector.ErrMalformed, "city.json: not JSON: data after the JSON document at byte 24"},
		{"city.xml", `{"json": true}`, connector.ErrMalformed, "city.xml: text outside the root element; is this XML? at byte 0"},
		{"city.xml", `<other/>`, connector.ErrMalformed, `city.xml: the root element is <other>, not <list> as the records path "list/item" says at byte 0`},
		{"city.xml", `<list><item id="1">`, connector.ErrTruncated, "city.xml: truncated: the document ends before its elements are closed at byte 19"},
		{"city.xml", `<list><item></list>`, connector.ErrMalformed, "city.xml: not well-formed XML: line 1: element <item> closed by </list> at byte 19"},
		{"city.csv", "", connector.ErrMalformed, "city.csv: the CSV is empty; a header row was expected"},
		{"city.csv", "id,when\n1,2\n", connector.ErrMalformed, `city.csv: the header has no column "at" (field at); its columns are id, when`},
		{"city.csv", "\xff\xfei\x00d\x00", connector.ErrMalformed, "city.csv: the CSV is UTF-16; only UTF-8 is read"},
	} {
		t.Run(tc.connector+" "+tc.payload, func(t *testing.T) {
			_, err := parse(t, cat, tc.connector, []byte(tc.payload))
			if !errors.Is(err, tc.kind) || err.Error() != tc.msg {
				t.Errorf("got %v\nwant %q (%v)", err, tc.msg, tc.kind)
			}
		})
	}
}
