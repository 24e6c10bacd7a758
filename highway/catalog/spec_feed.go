package catalog

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// feedKeys and fieldKeys are the keys of a feed document and of one of its
// fields: the single description that drives decoding, validation messages
// and the reference docs (Reference).
func feedKeys(d *decoder, f *Feed) []key {
	return []key{
		{name: "kind", required: true, doc: "always \"feed\"", decode: func(*yaml.Node, string) {}},
		{name: "name", required: true, doc: "dotted lower-case name, e.g. hko.weather.temperature; also the Kafka topic", decode: d.str(&f.Name)},
		{name: "department", required: true, doc: "the owning department, e.g. HKO; only it may push records", decode: d.str(&f.Department)},
		{name: "title", doc: "a short name of the feed for people, a string (English) or per language, e.g. {en: Air temperature, zh-Hant: 氣溫}", decode: d.text(&f.Title, nil)},
		{name: "description", doc: "what the feed is, for the catalogue: a string (English) or per language, as title", decode: d.text(&f.Descriptions, &f.Description)},
		{name: "licence", doc: "the licence of the data, for open data", decode: d.str(&f.Licence)},
		{name: "version", doc: "schema version, a whole number (default 1)", decode: d.integer(&f.Version)},
		{name: "fields", required: true, doc: "the list of fields", decode: d.list(func(n *yaml.Node, path string) {
			fld := Field{Line: n.Line}
			d.mapping(n, path, fieldKeys(d, &fld))
			f.Fields = append(f.Fields, fld)
		})},
		{name: "key", required: true, doc: "the fields that identify what a record is about", decode: d.strings(&f.Key)},
		{name: "event_time", required: true, doc: "the time field that says when the observation was made", decode: d.str(&f.EventTime)},
		{name: "interval", required: true, doc: "how often the source publishes, e.g. 1m, 1h", decode: d.duration(&f.Interval, true)},
		{name: "access", doc: "open (default) or restricted", decode: func(n *yaml.Node, path string) {
			var s string
			d.str(&s)(n, path)
			f.Access = Access(s)
		}},
		{name: "retention", doc: "how long rows are kept, e.g. 365d; 0 keeps them forever", decode: d.duration(&f.Retention, false)},
		{name: "expected", doc: "optional promises the quality ledger measures: keys, drift_mean, drift_nulls", decode: decodeExpected(d, f)},
	}
}

func fieldKeys(d *decoder, fld *Field) []key {
	return []key{
		{name: "name", required: true, doc: "lower-case name of the column", decode: d.str(&fld.Name)},
		{name: "type", required: true, doc: "one of string, int64, float64, bool, time", decode: func(n *yaml.Node, path string) {
			var s string
			d.str(&s)(n, path)
			fld.Type = FieldType(s)
		}},
		{name: "unit", doc: "the unit of the values, e.g. km/h", decode: d.str(&fld.Unit)},
		{name: "description", doc: "what the field means: a string (English) or per language, e.g. {en: Air temperature, zh-Hant: 氣溫}", decode: d.text(&fld.Descriptions, &fld.Description)},
		{name: "required", doc: "true if every record must have a value (default false)", decode: d.boolean(&fld.Required)},
		{name: "min", doc: "smallest valid value of a number field", decode: d.number(&fld.Min)},
		{name: "max", doc: "largest valid value of a number field", decode: d.number(&fld.Max)},
		{name: "enum", doc: "the only values a string field may take", decode: d.strings(&fld.Enum)},
		{name: "personal", doc: "true if the field identifies a person; never in open data", decode: d.boolean(&fld.Personal)},
	}
}

var (
	feedName  = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)
	fieldName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// decodeFeed fills f from a feed document.
func decodeFeed(d *decoder, root *yaml.Node, f *Feed) {
	d.mapping(root, "", feedKeys(d, f))
}

// validateFeed checks the rules that span keys. Lines point at the feed when
// the problem is with the feed as a whole, at the field otherwise.
func validateFeed(p *problems, f *Feed) {
	if f.Access == "" {
		f.Access = Open
	}
	if f.Name != "" && !feedName.MatchString(f.Name) {
		p.add(f.Line, "name", "%q is not a valid feed name: use dotted lower-case words, e.g. \"td.traffic.detectors\"", f.Name)
	}
	if f.Version < 1 {
		p.add(f.Line, "version", "must be 1 or more, not %d", f.Version)
	}
	if f.Access != Open && f.Access != Restricted {
		p.add(f.Line, "access", "must be open or restricted, not %q", f.Access)
	}
	if f.Retention < 0 {
		p.add(f.Line, "retention", "must not be negative")
	}
	validateExpected(p, f.Expected)
	if len(f.Fields) == 0 {
		p.add(f.Line, "fields", "a feed needs at least one field")
	}
	seen := map[string]int{}
	for i := range f.Fields {
		validateField(p, &f.Fields[i], fmt.Sprintf("fields[%d]", i))
		name := f.Fields[i].Name
		if prev, dup := seen[name]; dup && name != "" {
			p.add(f.Fields[i].Line, fmt.Sprintf("fields[%d].name", i), "field %q is already declared at line %d", name, prev)
		}
		seen[name] = f.Fields[i].Line
	}
	for i, k := range f.Key {
		path := fmt.Sprintf("key[%d]", i)
		fld := f.Field(k)
		switch {
		case fld == nil:
			p.add(f.Line, path, "%q is not a field of this feed; key fields must be declared under fields", k)
		case !fld.Required:
			p.add(fld.Line, path, "key field %q must be required: true", k)
		case fld.Type == Float64:
			p.add(fld.Line, path, "key field %q is a float64; keys must be string, int64, bool or time", k)
		}
		if slices.Index(f.Key, k) != i {
			p.add(f.Line, path, "%q is listed twice", k)
		}
	}
	if f.EventTime != "" {
		fld := f.Field(f.EventTime)
		switch {
		case fld == nil:
			p.add(f.Line, "event_time", "%q is not a field of this feed", f.EventTime)
		case fld.Type != Time && fld.Type != "":
			p.add(fld.Line, "event_time", "field %q is a %s; the event time must be a time field", f.EventTime, fld.Type)
		case !fld.Required:
			p.add(fld.Line, "event_time", "field %q must be required: true", f.EventTime)
		case slices.Contains(f.Key, f.EventTime):
			p.add(f.Line, "key", "the event time %q must not also be a key field", f.EventTime)
		}
	}
}

func validateField(p *problems, fld *Field, path string) {
	if fld.Name != "" && !fieldName.MatchString(fld.Name) {
		p.add(fld.Line, path+".name", "%q is not a valid field name: use lower-case letters, digits and _, starting with a letter", fld.Name)
	}
	if fld.Type != "" && !slices.Contains(fieldTypes, fld.Type) {
		p.add(fld.Line, path+".type", "unknown type %q; valid types are %s", fld.Type, typeNames())
	}
	if (fld.Min != nil || fld.Max != nil) && fld.Type != "" && !fld.Type.Numeric() {
		p.add(fld.Line, path, "min and max apply only to int64 and float64 fields, not %s", fld.Type)
	}
	if fld.Min != nil && fld.Max != nil && *fld.Min > *fld.Max {
		p.add(fld.Line, path, "min %v is greater than max %v", *fld.Min, *fld.Max)
	}
	for _, b := range []*float64{fld.Min, fld.Max} {
		if b != nil && (math.IsNaN(*b) || math.IsInf(*b, 0)) {
			p.add(fld.Line, path, "min and max must be finite numbers")
		}
	}
	if len(fld.Enum) > 0 && fld.Type != "" && fld.Type != String {
		p.add(fld.Line, path+".enum", "enum applies only to string fields, not %s", fld.Type)
	}
}

func typeNames() string {
	names := make([]string, len(fieldTypes))
	for i, t := range fieldTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}
