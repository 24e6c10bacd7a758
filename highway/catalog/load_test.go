package catalog_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
)

// The valid keys, as every "unknown key" message lists them.
const (
	feedKeys  = "kind, name, department, title, description, licence, version, fields, key, event_time, interval, access, retention, expected"
	fieldKeys = "name, type, unit, description, required, min, max, enum, personal"
)

// validKinds are the kinds in the registry, which grows as kinds are added.
var validKinds = catalog.KindList()

func TestKindsIncludeFeed(t *testing.T) {
	if !slices.Contains(strings.Split(validKinds, ", "), "feed") {
		t.Errorf("valid kinds %q do not include feed", validKinds)
	}
}

// validFeed is the smallest valid feed; most cases below are it with one
// line changed, so the lines in their messages can be read off it.
const validFeed = `kind: feed
name: city.test.feed
department: TEST
fields:
  - {name: id, type: string, required: true}
  - {name: at, type: time, required: true}
key: [id]
event_time: at
interval: 1m
`

// feedWith returns validFeed with its text old, which must stand in it once,
// replaced by new: most cases below are the smallest valid feed with one
// line changed, so the lines in their messages can be read off validFeed.
func feedWith(t *testing.T, old, new string) string {
	t.Helper()
	if n := strings.Count(validFeed, old); n != 1 {
		t.Fatalf("feedWith: %q stands %d times in validFeed, want once", old, n)
	}
	return strings.Replace(validFeed, old, new, 1)
}

// withField returns validFeed with one more field, line 7, after its last.
func withField(t *testing.T, field string) string {
	t.Helper()
	return feedWith(t, "  - {name: at, type: time, required: true}\n", "  - {name: at, type: time, required: true}\n"+field+"\n")
}

// errorStrings returns the messages of the ErrorList err, checking on the way
// that every entry is a *SpecError that matches ErrInvalidSpec.
func errorStrings(t *testing.T, err error) []string {
	t.Helper()
	var list catalog.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error is a %T, not an ErrorList: %v", err, err)
	}
	if !errors.Is(err, catalog.ErrInvalidSpec) {
		t.Errorf("error does not match ErrInvalidSpec: %v", err)
	}
	var first *catalog.SpecError
	if !errors.As(err, &first) || first != list[0] {
		t.Errorf("errors.As does not find the first *SpecError of the list")
	}
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = e.Error()
	}
	if got := strings.Join(out, "\n"); got != err.Error() {
		t.Errorf("ErrorList.Error() = %q, want its entries one per line %q", err.Error(), got)
	}
	return out
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "unknown key at the top level",
			yaml: validFeed + "colour: red\n",
			want: []string{`f.yaml:10: colour: unknown key; valid keys are ` + feedKeys},
		},
		{
			name: "unknown key in a field",
			yaml: feedWith(t, "  - {name: id, type: string, required: true}", "  - {name: id, type: string, required: true, colour: red}"),
			want: []string{`f.yaml:5: fields[0].colour: unknown key; valid keys are ` + fieldKeys},
		},
		{
			name: "key twice",
			yaml: validFeed + "interval: 5m\n",
			want: []string{`f.yaml:10: interval: key appears twice`},
		},
		{
			name: "list where a string is expected",
			yaml: feedWith(t, "department: TEST", "department: [TEST, OPS]"),
			want: []string{`f.yaml:3: department: must be a string, not a list`},
		},
		{
			name: "mapping where a string is expected",
			yaml: feedWith(t, "name: city.test.feed", "name: {city: test}"),
			want: []string{`f.yaml:2: name: must be a string, not a mapping`},
		},
		{
			name: "empty value",
			yaml: feedWith(t, "department: TEST", "department:"),
			want: []string{`f.yaml:3: department: must be a string, not empty`},
		},
		{
			name: "missing required keys of a feed",
			yaml: "kind: feed\nname: city.test.feed\n",
			want: []string{
				`f.yaml:1: department: missing (the owning department, e.g. HKO; only it may push records)`,
				`f.yaml:1: fields: missing (the list of fields)`,
				`f.yaml:1: key: missing (the fields that identify what a record is about)`,
				`f.yaml:1: event_time: missing (the time field that says when the observation was made)`,
				`f.yaml:1: interval: missing (how often the source publishes, e.g. 1m, 1h)`,
				`f.yaml:1: fields: a feed needs at least one field`,
			},
		},
		{
			name: "missing required keys of a field",
			yaml: withField(t, "  - {unit: km/h}"),
			want: []string{
				`f.yaml:7: fields[2].name: missing (lower-case name of the column)`,
				`f.yaml:7: fields[2].type: missing (one of string, int64, float64, bool, time)`,
			},
		},
		{
			name: "fields not a list",
			yaml: feedWith(t, "fields:\n  - {name: id, type: string, required: true}\n  - {name: at, type: time, required: true}", "fields: id"),
			want: []string{
				`f.yaml:1: fields: a feed needs at least one field`,
				`f.yaml:1: key[0]: "id" is not a field of this feed; key fields must be declared under fields`,
				`f.yaml:1: event_time: "at" is not a field of this feed`,
				`f.yaml:4: fields: must be a list, not "id"`,
			},
		},
		{
			name: "field not a mapping",
			yaml: feedWith(t, "  - {name: at, type: time, required: true}", "  - at"),
			want: []string{
				`f.yaml:1: event_time: "at" is not a field of this feed`,
				`f.yaml:6: fields[1]: must be a mapping of keys to values, not "at"`,
			},
		},
		{
			name: "unknown field type",
			yaml: feedWith(t, "  - {name: id, type: string, required: true}", "  - {name: id, type: text, required: true}"),
			want: []string{`f.yaml:5: fields[0].type: unknown type "text"; valid types are string, int64, float64, bool, time`},
		},
		{
			name: "enum and event time on a field without a type",
			yaml: feedWith(t, "  - {name: at, type: time, required: true}", "  - {name: at, required: true, enum: [now]}"),
			want: []string{`f.yaml:6: fields[1].type: missing (one of string, int64, float64, bool, time)`},
		},
		{
			name: "min greater than max",
			yaml: withField(t, "  - {name: speed, type: float64, min: 10, max: 5}"),
			want: []string{`f.yaml:7: fields[2]: min 10 is greater than max 5`},
		},
		{
			name: "min on a string field",
			yaml: feedWith(t, "  - {name: id, type: string, required: true}", "  - {name: id, type: string, required: true, min: 0}"),
			want: []string{`f.yaml:5: fields[0]: min and max apply only to int64 and float64 fields, not string`},
		},
		{
			name: "min not a number",
			yaml: withField(t, "  - {name: speed, type: float64, min: low}"),
			want: []string{`f.yaml:7: fields[2].min: must be a number, not "low"`},
		},
		{
			name: "infinite max",
			yaml: withField(t, "  - {name: speed, type: float64, max: inf}"),
			want: []string{`f.yaml:7: fields[2]: min and max must be finite numbers`},
		},
		{
			name: "enum on a non-string field",
			yaml: withField(t, "  - {name: lanes, type: int64, enum: [1, 2]}"),
			want: []string{`f.yaml:7: fields[2].enum: enum applies only to string fields, not int64`},
		},
		{
			name: "required not a bool",
			yaml: feedWith(t, "  - {name: id, type: string, required: true}", "  - {name: id, type: string, required: yes}"),
			want: []string{
				`f.yaml:5: fields[0].required: must be true or false, not "yes"`,
				`f.yaml:5: key[0]: key field "id" must be required: true`,
			},
		},
		{
			name: "key field not a field",
			yaml: feedWith(t, "key: [id]", "key: [id, lane]"),
			want: []string{`f.yaml:1: key[1]: "lane" is not a field of this feed; key fields must be declared under fields`},
		},
		{
			name: "key field listed twice",
			yaml: feedWith(t, "key: [id]", "key: [id, id]"),
			want: []string{`f.yaml:1: key[1]: "id" is listed twice`},
		},
		{
			name: "key field not required",
			yaml: feedWith(t, "  - {name: id, type: string, required: true}", "  - {name: id, type: string}"),
			want: []string{`f.yaml:5: key[0]: key field "id" must be required: true`},
		},
		{
			name: "float key",
			yaml: feedWith(t, "  - {name: id, type: string, required: true}", "  - {name: id, type: float64, required: true}"),
			want: []string{`f.yaml:5: key[0]: key field "id" is a float64; keys must be string, int64, bool or time`},
		},
		{
			name: "event time not a field",
			yaml: feedWith(t, "event_time: at", "event_time: when"),
			want: []string{`f.yaml:1: event_time: "when" is not a field of this feed`},
		},
		{
			name: "event time not a time",
			yaml: feedWith(t, "event_time: at", "event_time: id"),
			want: []string{`f.yaml:5: event_time: field "id" is a string; the event time must be a time field`},
		},
		{
			name: "event time not required",
			yaml: feedWith(t, "  - {name: at, type: time, required: true}", "  - {name: at, type: time}"),
			want: []string{`f.yaml:6: event_time: field "at" must be required: true`},
		},
		{
			name: "event time also a key",
			yaml: feedWith(t, "key: [id]", "key: [id, at]"),
			want: []string{`f.yaml:1: key: the event time "at" must not also be a key field`},
		},
		{
			name: "interval in words",
			yaml: strings.Replace(validFeed, "interval: 1m", "interval: 5 minutes", 1),
			want: []string{`f.yaml:9: interval: "5 minutes" is not a duration: use a Go duration like "90s", "5m", "1h" or days like "30d"`},
		},
		{
			name: "interval zero",
			yaml: strings.Replace(validFeed, "interval: 1m", "interval: 0s", 1),
			want: []string{`f.yaml:9: interval: must be more than zero, not "0s"`},
		},
		{
			name: "retention in fractional days",
			yaml: validFeed + "retention: 1.5d\n",
			want: []string{`f.yaml:10: retention: "1.5d" is not a duration: use a whole number of days like "30d" or a Go duration like "90s", "5m", "1h"`},
		},
		{
			name: "negative retention",
			yaml: validFeed + "retention: -1h\n",
			want: []string{`f.yaml:1: retention: must not be negative`},
		},
		{
			name: "bad access",
			yaml: validFeed + "access: public\n",
			want: []string{`f.yaml:1: access: must be open or restricted, not "public"`},
		},
		{
			name: "version zero",
			yaml: validFeed + "version: 0\n",
			want: []string{`f.yaml:1: version: must be 1 or more, not 0`},
		},
		{
			name: "version not a whole number",
			yaml: validFeed + "version: 1.5\n",
			want: []string{`f.yaml:10: version: must be a whole number, not "1.5"`},
		},
		{
			name: "bad feed name",
			yaml: strings.Replace(validFeed, "name: city.test.feed", "name: Traffic", 1),
			want: []string{`f.yaml:1: name: "Traffic" is not a valid feed name: use dotted lower-case words, e.g. "td.traffic.detectors"`},
		},
		{
			name: "feed name without a dot",
			yaml: strings.Replace(validFeed, "name: city.test.feed", "name: traffic", 1),
			want: []string{`f.yaml:1: name: "traffic" is not a valid feed name: use dotted lower-case words, e.g. "td.traffic.detectors"`},
		},
		{
			name: "bad field name",
			yaml: withField(t, "  - {name: Lane-ID, type: string}"),
			want: []string{`f.yaml:7: fields[2].name: "Lane-ID" is not a valid field name: use lower-case letters, digits and _, starting with a letter`},
		},
		{
			name: "duplicate field",
			yaml: withField(t, "  - {name: id, type: int64}"),
			want: []string{`f.yaml:7: fields[2].name: field "id" is already declared at line 5`},
		},
		{
			name: "duplicate feed across two documents",
			yaml: validFeed + "---\n" + validFeed,
			want: []string{`f.yaml:11: name: feed "city.test.feed" is already declared at f.yaml:1`},
		},
		{
			// A duplicate is reported even when its document has other problems.
			name: "duplicate feed in a document with another problem",
			yaml: validFeed + "---\n" + strings.Replace(validFeed, "interval: 1m", "interval: 0s", 1),
			want: []string{
				`f.yaml:11: name: feed "city.test.feed" is already declared at f.yaml:1`,
				`f.yaml:19: interval: must be more than zero, not "0s"`,
			},
		},
		{
			name: "invalid YAML",
			yaml: "kind: feed\nname: city.test.feed\ndepartment: TEST: OPS\n",
			want: []string{`f.yaml:3: not valid YAML: line 3: mapping values are not allowed in this context`},
		},
		{
			name: "invalid YAML in a later document",
			yaml: validFeed + "---\nkind: feed\nname: city.other\ndepartment: TEST: OPS\n",
			want: []string{`f.yaml:13: not valid YAML: line 13: mapping values are not allowed in this context`},
		},
		{
			// yaml.v3 counts the lines of parser (not scanner) errors from 0
			// (go-yaml/yaml#205): the unclosed '[' is on line 12, not 11.
			name: "unclosed list, a line early",
			yaml: validFeed + "---\nkind: feed\nname: [city.other\n",
			want: []string{`f.yaml:11: not valid YAML: line 11: did not find expected ',' or ']'`},
		},
		{
			// yaml.v3 gives no line for this one.
			name: "unknown anchor",
			yaml: "kind: feed\nname: *feed\n",
			want: []string{`f.yaml: not valid YAML: unknown anchor 'feed' referenced`},
		},
		{
			name: "document not a mapping",
			yaml: "- kind: feed\n- name: city.test.feed\n",
			want: []string{`f.yaml:1: a spec must be a mapping with a kind (` + validKinds + `), not a list`},
		},
		{
			name: "null document",
			yaml: validFeed + "--- ~\n",
			want: []string{`f.yaml:10: a spec must be a mapping with a kind (` + validKinds + `), not empty`},
		},
		{
			name: "missing kind",
			yaml: strings.TrimPrefix(validFeed, "kind: feed\n"),
			want: []string{`f.yaml:1: kind: missing; say what this document declares, e.g. "kind: feed"`},
		},
		{
			name: "unknown kind",
			yaml: strings.Replace(validFeed, "kind: feed", "kind: feeds", 1),
			want: []string{`f.yaml:1: kind: unknown kind "feeds"; valid kinds are ` + validKinds},
		},
		{
			name: "kinds are case-sensitive",
			yaml: strings.Replace(validFeed, "kind: feed", "kind: Feed", 1),
			want: []string{`f.yaml:1: kind: unknown kind "Feed"; valid kinds are ` + validKinds},
		},
		{
			name: "several errors, all reported in line order",
			yaml: `kind: feed
name: City.Test
department: [TEST]
fields:
  - {name: id, type: float64, required: true, enum: [a]}
  - {name: at, type: time}
  - {name: id, type: text, min: 5, max: 1}
key: [id, lane]
event_time: at
interval: 5 minutes
access: public
colour: red
`,
			want: []string{
				`f.yaml:1: name: "City.Test" is not a valid feed name: use dotted lower-case words, e.g. "td.traffic.detectors"`,
				`f.yaml:1: access: must be open or restricted, not "public"`,
				`f.yaml:1: key[1]: "lane" is not a field of this feed; key fields must be declared under fields`,
				`f.yaml:3: department: must be a string, not a list`,
				`f.yaml:5: fields[0].enum: enum applies only to string fields, not float64`,
				`f.yaml:5: key[0]: key field "id" is a float64; keys must be string, int64, bool or time`,
				`f.yaml:6: event_time: field "at" must be required: true`,
				`f.yaml:7: fields[2].type: unknown type "text"; valid types are string, int64, float64, bool, time`,
				`f.yaml:7: fields[2]: min and max apply only to int64 and float64 fields, not text`,
				`f.yaml:7: fields[2]: min 5 is greater than max 1`,
				`f.yaml:7: fields[2].name: field "id" is already declared at line 5`,
				`f.yaml:10: interval: "5 minutes" is not a duration: use a Go duration like "90s", "5m", "1h" or days like "30d"`,
				`f.yaml:12: colour: unknown key; valid keys are ` + feedKeys,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := catalog.Parse("f.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded with feeds %v; want errors:\n%s", feedNames(c), strings.Join(tt.want, "\n"))
			}
			if c != nil {
				t.Errorf("Parse returned a catalog with its errors")
			}
			got := errorStrings(t, err)
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestParseFeed(t *testing.T) {
	const spec = `# A comment before the document.
kind: feed
name: city.parking.spaces
department: TD
description: Free spaces per car park.
licence: open
version: 3
fields:
  - {name: car_park, type: string, required: true, description: Car park code}
  - name: vacancy
    type: int64
    unit: spaces
    min: 0
    max: 5000
  - {name: kind, type: string, enum: [public, private], personal: false}
  - {name: occupancy, type: float64, min: -1.5}
  - {name: open, type: bool}
  - {name: owner, type: string, personal: true}
  - {name: updated, type: time, required: true}
key: car_park
event_time: updated
interval: 90s
access: restricted
retention: 30d
`
	c, err := catalog.Parse("parking.yaml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	f := c.Feed("city.parking.spaces")
	if f == nil {
		t.Fatalf("feed missing; have %v", feedNames(c))
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"File", f.File, "parking.yaml"},
		{"Line", f.Line, 2},
		{"Department", f.Department, "TD"},
		{"Description", f.Description, "Free spaces per car park."},
		{"Licence", f.Licence, "open"},
		{"Version", f.Version, 3},
		{"Key", strings.Join(f.Key, ","), "car_park"},
		{"EventTime", f.EventTime, "updated"},
		{"Interval", f.Interval, 90 * time.Second},
		{"Access", f.Access, catalog.Restricted},
		{"Retention", f.Retention, 30 * 24 * time.Hour},
		{"len(Fields)", len(f.Fields), 7},
	}
	for _, chk := range checks {
		if chk.got != chk.want {
			t.Errorf("%s = %v, want %v", chk.what, chk.got, chk.want)
		}
	}

	vacancy := f.Field("vacancy")
	if vacancy == nil {
		t.Fatal(`Field("vacancy") = nil`)
	}
	if vacancy.Type != catalog.Int64 || vacancy.Unit != "spaces" || vacancy.Required || vacancy.Line != 10 {
		t.Errorf("vacancy = %+v", vacancy)
	}
	if vacancy.Min == nil || *vacancy.Min != 0 || vacancy.Max == nil || *vacancy.Max != 5000 {
		t.Errorf("vacancy bounds = %v, %v; want 0, 5000", vacancy.Min, vacancy.Max)
	}
	if occ := f.Field("occupancy"); occ.Min == nil || *occ.Min != -1.5 || occ.Max != nil {
		t.Errorf("occupancy bounds = %v, %v; want -1.5, nil", occ.Min, occ.Max)
	}
	if kind := f.Field("kind"); !slices.Equal(kind.Enum, []string{"public", "private"}) || kind.Personal {
		t.Errorf("kind = %+v", kind)
	}
	if owner := f.Field("owner"); !owner.Personal {
		t.Errorf("owner is not personal")
	}
	if cp := f.Field("car_park"); !cp.Required || cp.Description != "Car park code" || cp.Line != 9 {
		t.Errorf("car_park = %+v", cp)
	}
	if got := f.FieldIndex("updated"); got != 6 {
		t.Errorf(`FieldIndex("updated") = %d, want 6`, got)
	}
	if f.Field("nothing") != nil || f.FieldIndex("nothing") != -1 {
		t.Errorf("an unknown field is found")
	}
}

func TestParseDefaults(t *testing.T) {
	c, err := catalog.Parse("f.yaml", []byte(validFeed))
	if err != nil {
		t.Fatal(err)
	}
	f := c.Feed("city.test.feed")
	if f.Version != 1 || f.Access != catalog.Open || f.Retention != 0 {
		t.Errorf("defaults: version %d, access %q, retention %v; want 1, open, 0", f.Version, f.Access, f.Retention)
	}
}

func TestParseTrailingSeparator(t *testing.T) {
	c, err := catalog.Parse("f.yaml", []byte("---\n"+validFeed+"---\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := feedNames(c); !slices.Equal(got, []string{"city.test.feed"}) {
		t.Errorf("feeds %v, want city.test.feed", got)
	}
}

func TestParseNoFeeds(t *testing.T) {
	for _, data := range []string{"", "# only a comment\n", "---\n", "---\n# nothing\n---\n"} {
		c, err := catalog.Parse("f.yaml", []byte(data))
		if err != nil {
			t.Errorf("Parse(%q): %v", data, err)
			continue
		}
		if len(c.Feeds()) != 0 {
			t.Errorf("Parse(%q) = %v, want no feeds", data, feedNames(c))
		}
	}
}

// builtinFeeds are the feeds shipped in builtin/, sorted by name.
var builtinFeeds = []string{
	"epd.air.pollutants",
	"epd.aqhi.stations",
	"hko.weather.forecast",
	"hko.weather.humidity",
	"hko.weather.rainfall",
	"hko.weather.temperature",
	"hko.weather.uv",
	"hko.weather.warnings",
	"td.traffic.detectors",
	"td.traffic.journeytimes",
	"td.traffic.segments",
}

func TestBuiltin(t *testing.T) {
	c, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if got := feedNames(c); !slices.Equal(got, builtinFeeds) {
		t.Errorf("builtin feeds:\n%v\nwant:\n%v", got, builtinFeeds)
	}
	for _, f := range c.Feeds() {
		dept := strings.ToUpper(strings.SplitN(f.Name, ".", 2)[0])
		if f.Department != dept {
			t.Errorf("%s: department %q, want %q", f.Name, f.Department, dept)
		}
		if want := "builtin/" + strings.ToLower(dept) + ".yaml"; f.File != want {
			t.Errorf("%s: file %q, want %q", f.Name, f.File, want)
		}
		if f.Interval <= 0 || f.Retention <= 0 || f.Access != catalog.Open {
			t.Errorf("%s: interval %v, retention %v, access %q", f.Name, f.Interval, f.Retention, f.Access)
		}
	}
	td := c.Feed("td.traffic.detectors")
	if !slices.Equal(td.Key, []string{"detector_id", "lane_id"}) || td.EventTime != "period_from" || td.Line != 2 {
		t.Errorf("td.traffic.detectors: key %v, event time %q, line %d", td.Key, td.EventTime, td.Line)
	}
}

// writeFile writes data to dir/name, making the folders it needs.
func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFolder(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.yaml", validFeed)
	writeFile(t, dir, "more/b.yml", strings.Replace(validFeed, "city.test.feed", "city.other.feed", 1))
	writeFile(t, dir, "README.md", "not a spec: {")

	c, err := catalog.Load(nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := feedNames(c), []string{"city.other.feed", "city.test.feed"}; !slices.Equal(got, want) {
		t.Errorf("feeds %v, want %v", got, want)
	}
	if got, want := c.Feed("city.other.feed").File, filepath.Join(dir, "more", "b.yml"); got != want {
		t.Errorf("file %q, want %q", got, want)
	}
}

func TestLoadFilesOnBase(t *testing.T) {
	base, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := writeFile(t, dir, "city.yaml", validFeed)
	c, err := catalog.Load(base, file)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Feeds()) != len(builtinFeeds)+1 || c.Feed("city.test.feed") == nil || c.Feed("td.traffic.detectors") == nil {
		t.Errorf("feeds %v", feedNames(c))
	}
	if len(base.Feeds()) != len(builtinFeeds) {
		t.Errorf("Load changed its base: %v", feedNames(base))
	}

	clash := writeFile(t, dir, "td.yaml", "# redeclares a builtin feed\n"+strings.Replace(validFeed, "city.test.feed", "td.traffic.detectors", 1))
	_, err = catalog.Load(base, clash)
	want := []string{clash + `:2: name: feed "td.traffic.detectors" is already declared at builtin/td.yaml:2`}
	if got := errorStrings(t, err); !slices.Equal(got, want) {
		t.Errorf("errors %q, want %q", got, want)
	}
}

func TestLoadDuplicateAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.yaml", validFeed)
	b := writeFile(t, dir, "b.yaml", "# the same feed again\n\n"+validFeed)
	_, err := catalog.Load(nil, dir)
	want := []string{b + `:3: name: feed "city.test.feed" is already declared at ` + a + `:1`}
	if got := errorStrings(t, err); !slices.Equal(got, want) {
		t.Errorf("errors %q, want %q", got, want)
	}
}

func TestLoadErrorsInFileOrder(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.yaml", validFeed+"colour: red\n")
	b := writeFile(t, dir, "b.yaml", "kind: feeds\n")
	// Listed in reverse; the errors still come in file order.
	_, err := catalog.Load(nil, b, a)
	want := []string{
		a + `:10: colour: unknown key; valid keys are ` + feedKeys,
		b + `:1: kind: unknown kind "feeds"; valid kinds are ` + validKinds,
	}
	if got := errorStrings(t, err); !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoadMissingPath(t *testing.T) {
	_, err := catalog.Load(nil, filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
	if !errors.Is(err, os.ErrNotExist) || errors.Is(err, catalog.ErrInvalidSpec) {
		t.Errorf("error %v: want an I/O error that is not ErrInvalidSpec", err)
	}
}

func TestLoadFS(t *testing.T) {
	fsys := fstest.MapFS{
		"specs/city.yaml":     {Data: []byte(validFeed)},
		"specs/bad/kind.yaml": {Data: []byte("kind: Feed\n")},
		"other/skip.yaml":     {Data: []byte("not: [valid")},
	}
	_, err := catalog.LoadFS(nil, fsys, "specs")
	want := []string{`specs/bad/kind.yaml:1: kind: unknown kind "Feed"; valid kinds are ` + validKinds}
	if got := errorStrings(t, err); !slices.Equal(got, want) {
		t.Errorf("errors %q, want %q", got, want)
	}

	delete(fsys, "specs/bad/kind.yaml")
	c, err := catalog.LoadFS(nil, fsys, "specs")
	if err != nil {
		t.Fatal(err)
	}
	if f := c.Feed("city.test.feed"); f == nil || f.File != "specs/city.yaml" {
		t.Errorf("feeds %v", feedNames(c))
	}
}

func TestSelect(t *testing.T) {
	c, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	all, err := c.Select()
	if err != nil || len(all) != len(builtinFeeds) {
		t.Errorf("Select() = %d feeds, %v; want all %d", len(all), err, len(builtinFeeds))
	}
	some, err := c.Select("td.traffic.segments", "epd.aqhi.stations")
	if err != nil {
		t.Fatal(err)
	}
	if len(some) != 2 || some[0].Name != "td.traffic.segments" || some[1].Name != "epd.aqhi.stations" {
		t.Errorf("Select returned %v, want the two feeds in the order asked", some)
	}
	_, err = c.Select("td.traffic.segments", "td.traffic.lights")
	want := `no feed called "td.traffic.lights"; known feeds: ` + strings.Join(builtinFeeds, ", ")
	if err == nil || err.Error() != want {
		t.Errorf("Select of an unknown feed: %v, want %q", err, want)
	}
}

func TestDerivedNames(t *testing.T) {
	tests := []struct{ feed, topic, dlq, table string }{
		{"td.traffic.detectors", "td.traffic.detectors", "td.traffic.detectors.dlq", "td_traffic_detectors"},
		{"epd.air.pm2_5", "epd.air.pm2_5", "epd.air.pm2_5.dlq", "epd_air_pm2_5"},
		{"a.b", "a.b", "a.b.dlq", "a_b"},
	}
	for _, tt := range tests {
		f := &catalog.Feed{Name: tt.feed}
		if got := f.Topic(); got != tt.topic {
			t.Errorf("%s: Topic() = %q, want %q", tt.feed, got, tt.topic)
		}
		if got := f.DLQTopic(); got != tt.dlq {
			t.Errorf("%s: DLQTopic() = %q, want %q", tt.feed, got, tt.dlq)
		}
		if got := f.Table(); got != tt.table {
			t.Errorf("%s: Table() = %q, want %q", tt.feed, got, tt.table)
		}
	}
}

func TestParseDuration(t *testing.T) {
	const (
		day      = 24 * time.Hour
		goWords  = ` is not a duration: use a Go duration like "90s", "5m", "1h" or days like "30d"`
		dayWords = ` is not a duration: use a whole number of days like "30d" or a Go duration like "90s", "5m", "1h"`
	)
	maxDays := int64(math.MaxInt64 / int64(day))
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{in: "90s", want: 90 * time.Second},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "250ms", want: 250 * time.Millisecond},
		{in: "0s", want: 0},
		{in: "0", want: 0},
		{in: "-5m", want: -5 * time.Minute},
		{in: " 5m ", want: 5 * time.Minute},
		{in: "30d", want: 30 * day},
		{in: "0d", want: 0},
		{in: "365d", want: 365 * day},
		{in: " 7d", want: 7 * day},
		{in: "106751d", want: time.Duration(maxDays) * day},
		{in: "106752d", wantErr: `"106752d"` + dayWords},
		{in: "99999999999999999999d", wantErr: `"99999999999999999999d"` + dayWords},
		{in: "-1d", wantErr: `"-1d"` + dayWords},
		{in: "1.5d", wantErr: `"1.5d"` + dayWords},
		{in: "d", wantErr: `"d"` + dayWords},
		{in: "1h30d", wantErr: `"1h30d"` + dayWords},
		{in: "5 minutes", wantErr: `"5 minutes"` + goWords},
		{in: "5", wantErr: `"5"` + goWords},
		{in: "1y", wantErr: `"1y"` + goWords},
		{in: "", wantErr: `""` + goWords},
	}
	for _, tt := range tests {
		got, err := catalog.ParseDuration(tt.in)
		switch {
		case tt.wantErr != "":
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseDuration(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
		case err != nil || got != tt.want:
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestSpecErrorFormat(t *testing.T) {
	tests := []struct {
		err  catalog.SpecError
		want string
	}{
		{catalog.SpecError{File: "f.yaml", Line: 3, Path: "fields[1].type", Msg: "bad"}, "f.yaml:3: fields[1].type: bad"},
		{catalog.SpecError{File: "f.yaml", Line: 3, Msg: "bad"}, "f.yaml:3: bad"},
		{catalog.SpecError{File: "f.yaml", Path: "name", Msg: "bad"}, "f.yaml: name: bad"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func feedNames(c *catalog.Catalog) []string {
	if c == nil {
		return nil
	}
	var names []string
	for _, f := range c.Feeds() {
		names = append(names, f.Name)
	}
	return names
}
