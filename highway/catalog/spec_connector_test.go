package catalog_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
)

// connectorFeed is the feed the connector cases map; it is 10 lines long,
// so a connector document after it and "---" starts on line 12.
const connectorFeed = `kind: feed
name: city.bins
department: FEHD
fields:
  - {name: bin, type: string, required: true}
  - {name: fill, type: float64, min: 0, max: 100}
  - {name: at, type: time, required: true}
key: [bin]
event_time: at
interval: 15m
`

// TestConnectorDefaultZone: a connector that names no timezone reads local
// times in Hong Kong's, the same default as a job's schedule.
func TestConnectorDefaultZone(t *testing.T) {
	c, err := catalog.Parse("c.yaml", []byte(connectorFeed+`---
kind: connector
name: city.bins.poll
feed: city.bins
url: https://example.org/bins.json
format: json
records: $.bins[]
fields:
  - {field: bin, from: id}
  - {field: at, from: t}
`))
	if err != nil {
		t.Fatal(err)
	}
	k := c.Connector("city.bins.poll")
	if k.TimeZone != catalog.DefaultTimeZone || k.Location == nil || k.Location.String() != "Asia/Hong_Kong" {
		t.Errorf("connector without a timezone: TimeZone %q, Location %v; want Asia/Hong_Kong", k.TimeZone, k.Location)
	}
}

func TestParseConnector(t *testing.T) {
	c, err := catalog.Parse("c.yaml", []byte(connectorFeed+`---
kind: connector
name: city.bins.poll
feed: city.bins
url: https://example.org/bins.json?district=all
format: json
records: $.data.sites[].bins[]
timezone: UTC
fields:
  - {field: bin, from: "$.data.sites[].id"}
  - {field: fill, from: level.pct, null: ["-"]}
  - {field: at, from: t, format: "2006-01-02 15:04"}
`))
	if err != nil {
		t.Fatal(err)
	}
	k := c.Connector("city.bins.poll")
	if k == nil || len(c.Connectors()) != 1 {
		t.Fatalf("connectors: %v", c.Connectors())
	}
	if k.Feed != "city.bins" || k.Interval != 15*time.Minute || k.Format != "json" || k.Location.String() != "UTC" || k.Line != 12 {
		t.Errorf("connector %+v", k)
	}
	steps := k.Records.Steps
	if len(steps) != 5 || steps[2] != (catalog.PathStep{Kind: catalog.StepEach}) || steps[3].Name != "bins" || !k.Records.Root {
		t.Errorf("records path %+v", k.Records)
	}
	if f := k.Fields[0]; !f.Path.Root || len(f.Path.Steps) != 4 || f.HasValue {
		t.Errorf("fields[0] %+v", f)
	}
	if f := k.Fields[1]; f.Path.Root || len(f.Path.Steps) != 2 || f.Null[0] != "-" || f.Line != 21 {
		t.Errorf("fields[1] %+v", f)
	}
	if got := c.Counts()["connector"]; got != 1 {
		t.Errorf("counts %v", c.Counts())
	}
}

func TestParseConnectorErrors(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"unknown key, missing keys", "kind: connector\nname: city.x\nfeed: city.bins\nurl: https://x.org\nformat: json\nrecords: a[]\ncolour: red\n",
			[]string{`c.yaml:12: fields: missing (list of {field, from | value, format, null})`, `c.yaml:18: colour: unknown key; valid keys are kind, name, feed, url, interval, format, records, header, delimiter, timezone, fields`}},
		{"bad values", "kind: connector\nname: City\nfeed: nope.feed\nurl: ftp://x.org/a\nformat: yaml\ntimezone: Mars/Olympus\nfields: [{field: bin, from: x}]\n",
			[]string{
				`c.yaml:13: name: "City" is not a valid connector name: use dotted lower-case words, e.g. "td.carpark.vacancy"`,
				`c.yaml:14: feed: no feed called "nope.feed"; declare the feed (kind: feed) in this or another spec file`,
				`c.yaml:15: url: "ftp://x.org/a" is not an absolute http or https URL`,
				`c.yaml:16: format: must be json, xml or csv, not "yaml"`,
				`c.yaml:17: timezone: unknown time zone "Mars/Olympus"; use an IANA name such as Asia/Hong_Kong or UTC`,
			}},
		{"records paths", "kind: connector\nname: city.x\nfeed: city.bins\nurl: https://x.org\nformat: json\nrecords: data.items\nfields: [{field: bin, from: id}, {field: at, from: t}]\n",
			[]string{`c.yaml:17: records: "data.items" selects one value, not a list of records; end it with [] (each item of a list) or * (each member)`}},
		{"bad JSON path", "kind: connector\nname: city.x\nfeed: city.bins\nurl: https://x.org\nformat: json\nrecords: data..items[x]\nfields: [{field: bin, from: id}, {field: at, from: t}]\n",
			[]string{`c.yaml:17: records: "data..items[x]" has an empty step (two dots, or a dot at an end)`}},
		{"field paths that select many", "kind: connector\nname: city.x\nfeed: city.bins\nurl: https://x.org\nformat: json\nrecords: data[]\nfields:\n  - {field: bin, from: \"ids[]\"}\n  - {field: at, from: \"$.other[].t\"}\n  - {field: fill, from: \"$.data[].f\"}\n",
			[]string{
				`c.yaml:19: fields[0].from: "ids[]" selects several values; a field's path may use [] or * only where it follows the records path "data[]" (to name the record's own enclosing item)`,
				`c.yaml:20: fields[1].from: "$.other[].t" selects several values; a field's path may use [] or * only where it follows the records path "data[]" (to name the record's own enclosing item)`,
			}},
		{"XML paths", "kind: connector\nname: city.x\nfeed: city.bins\nurl: https://x.org\nformat: xml\nrecords: \"@id/item\"\nheader: true\nfields:\n  - {field: bin, from: \"@id/x\"}\n  - {field: at, from: \"a//b\"}\n",
			[]string{
				`c.yaml:17: records: "@id/item": an attribute (@name) can only be the last step of a field's path`,
				`c.yaml:18: header: is for csv, not xml`,
				`c.yaml:20: fields[0].from: "@id/x": an attribute (@name) can only be the last step of a field's path`,
				`c.yaml:21: fields[1].from: "a//b" has an empty step`,
			}},
		{"CSV", "kind: connector\nname: city.x\nfeed: city.bins\nurl: https://x.org\nformat: csv\nrecords: rows\nheader: false\ndelimiter: \";;\"\nfields:\n  - {field: bin, from: Bin}\n  - {field: at, from: \"2\"}\n",
			[]string{
				`c.yaml:17: records: csv has no records path: every row after the header is a record`,
				`c.yaml:19: delimiter: must be one character other than a quote or a line end, not ";;"`,
				`c.yaml:21: fields[0].from: without a header, from is a column number (1 for the first), not "Bin"`,
			}},
		{"mappings against the feed", "kind: connector\nname: city.x\nfeed: city.bins\nurl: https://x.org\nformat: csv\nfields:\n  - {field: fill, value: full}\n  - {field: bin, from: a, value: b}\n  - {field: colour, from: c}\n  - {field: fill, from: f, format: unix}\n  - {field: at, from: t, format: \"tomorrow\"}\n  - {field: bin}\n",
			[]string{
				`c.yaml:18: fields[0].value: cannot be a value of float64 field "fill": "full" is not a number`,
				`c.yaml:19: fields[1]: give from or value, not both`,
				`c.yaml:20: fields[2].field: "colour" is not a field of feed city.bins`,
				`c.yaml:21: fields[3].field: field "fill" is already mapped at line 18`,
				`c.yaml:21: fields[3].format: only time fields have a format; "fill" is a float64`,
				`c.yaml:22: fields[4].format: "tomorrow" is not a time format: use rfc3339, unix, unix_ms or a Go layout such as "2006-01-02 15:04:05"`,
				`c.yaml:23: fields[5]: give from (where the value is) or value (a constant)`,
				`c.yaml:23: fields[5].field: field "bin" is already mapped at line 19`,
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := catalog.Parse("c.yaml", []byte(connectorFeed+"---\n"+tc.doc))
			if err == nil {
				t.Fatal("no error")
			}
			got := errorStrings(t, err)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestParseValue(t *testing.T) {
	hk, _ := time.LoadLocation("Asia/Hong_Kong")
	at := time.Date(2026, 11, 26, 8, 30, 0, 0, hk)
	for _, tc := range []struct {
		typ          catalog.FieldType
		text, format string
		want         any
		err          string
	}{
		{catalog.String, " a b ", "", "a b", ""},
		{catalog.Int64, "12", "", int64(12), ""},
		{catalog.Int64, "12.0", "", int64(12), ""},
		{catalog.Int64, "1e3", "", int64(1000), ""},
		{catalog.Int64, "1.5", "", nil, `"1.5" is not a whole number`},
		{catalog.Float64, "-0.25", "", -0.25, ""},
		{catalog.Float64, "NaN", "", nil, `"NaN" is not a number`},
		{catalog.Float64, "0x10", "", nil, `"0x10" is not a number`},
		{catalog.Bool, "Y", "", true, ""},
		{catalog.Bool, "no", "", false, ""},
		{catalog.Bool, "maybe", "", nil, `"maybe" is not true or false (or yes/no, y/n, 1/0)`},
		{catalog.Time, "2026-11-26T00:30:00Z", "", at, ""},
		{catalog.Time, "2026-11-26 08:30:00", "", at, ""},
		{catalog.Time, "2026-11-26 8:30:00", "", at, ""},
		{catalog.Time, "2026-11-26T08:30:00", "rfc3339", nil, `"2026-11-26T08:30:00" is not an RFC 3339 time like 2026-11-26T08:30:00+08:00`},
		{catalog.Time, "1795653000", "unix", at, ""},
		{catalog.Time, "1795653000000", "unix_ms", at, ""},
		{catalog.Time, "26/11/2026 08:30", "02/01/2006 15:04", at, ""},
		{catalog.Time, "yesterday", "", nil, `"yesterday" is not a time like 2026-11-26T08:30:00+08:00 or 2026-11-26 08:30:00; give the field a format`},
	} {
		got, err := catalog.ParseValue(tc.typ, tc.text, tc.format, hk)
		switch {
		case tc.err != "":
			if err == nil || err.Error() != tc.err {
				t.Errorf("%s %q: error %v, want %q", tc.typ, tc.text, err, tc.err)
			}
		case err != nil:
			t.Errorf("%s %q: %v", tc.typ, tc.text, err)
		case tc.typ == catalog.Time:
			if !got.(time.Time).Equal(tc.want.(time.Time)) {
				t.Errorf("%s %q = %v, want %v", tc.typ, tc.text, got, tc.want)
			}
		case got != tc.want:
			t.Errorf("%s %q = %#v, want %#v", tc.typ, tc.text, got, tc.want)
		}
	}
}

// FuzzConnector checks that connector specs never make Parse panic and that
// it returns a catalogue or located problems. Seeded with the examples.
func FuzzConnector(f *testing.F) {
	for _, name := range []string{"../../docs/examples/td-carpark-vacancy.yaml", "../../docs/examples/mtr-next-train.yaml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(connectorFeed + "---\nkind: connector\nname: city.x\nfeed: city.bins\nurl: https://x.org\nformat: xml\nrecords: a/*/b\nfields: [{field: bin, from: \"/a/*/@id\"}, {field: at, from: ., format: unix}]\n"))
	f.Add([]byte(connectorFeed + "---\nkind: connector\nname: city.x\nfeed: city.bins\nurl: https://x.org\nformat: csv\nheader: false\ndelimiter: \"\\t\"\nfields: [{field: bin, from: 1}, {field: at, value: \"2026-01-01\"}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := catalog.Parse("f.yaml", data)
		if err != nil {
			for _, msg := range errorStrings(t, err) {
				if !strings.HasPrefix(msg, "f.yaml") {
					t.Fatalf("unlocated problem %q", msg)
				}
			}
			return
		}
		for _, k := range c.Connectors() {
			if c.Feed(k.Feed) == nil || k.Interval <= 0 || k.Location == nil {
				t.Fatalf("connector %s loaded without its feed, interval or zone: %+v", k.Name, k)
			}
		}
	})
}
