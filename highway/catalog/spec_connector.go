package catalog

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // connector time zones must resolve on machines without a zoneinfo database

	"gopkg.in/yaml.v3"
)

// Connector declares a generic HTTP connector (httppoll): where to fetch a
// department's payload, how often, in which format, where its records are
// and how their values become the fields of one feed. A department adds a
// feed with YAML alone: a feed spec and a connector spec.
type Connector struct {
	// Name identifies the connector in logs, metrics and its state file.
	Name string
	// Feed is the feed the connector makes records of.
	Feed string
	// URL is fetched at every poll (http or https).
	URL string
	// Interval is how often to poll; zero in the YAML means the feed's
	// interval, which the catalogue fills in once the feed is known.
	Interval time.Duration
	// Format is json, xml or csv.
	Format string
	// Records is where the records are (json and xml; empty for csv, where
	// every row after the header is one).
	Records Path
	// Header says whether the first CSV row names the columns (default true).
	Header bool
	// Delimiter separates CSV columns (default ',').
	Delimiter rune
	// TimeZone reads times written without an offset (default
	// Asia/Hong_Kong); Location is it loaded.
	TimeZone string
	Location *time.Location
	// Fields say where each field of the feed comes from.
	Fields []Mapping
	File   string
	Line   int
	// feedLine and fieldsLine are the lines of the feed and fields keys,
	// for the cross-check's messages.
	feedLine, fieldsLine int
}

// Mapping fills one field of the feed: from a value of the source (From) or
// with a constant (Value).
type Mapping struct {
	// Field is the feed's field.
	Field string
	// From is where the value is, as written: a path relative to the record
	// (json and xml), from the root ("$.a.b", "/a/b") through the record's
	// own enclosing elements, or a CSV column (its header name; its number,
	// from 1, without a header). Path is From parsed (json and xml); Column
	// is the CSV column number (0 when named).
	From   string
	Path   Path
	Column int
	// Value is a constant, as written; HasValue tells it from "".
	Value    string
	HasValue bool
	// Format reads a time: rfc3339, unix, unix_ms or a Go layout such as
	// "2006-01-02 15:04:05". Empty reads RFC 3339, or a local
	// "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04" or
	// "2006-01-02" in the connector's time zone.
	Format string
	// Null lists source values that mean "no value" besides the empty
	// string, e.g. ["-", "N/A"].
	Null []string
	Line int
}

// The connector formats.
const (
	FormatJSON = "json"
	FormatXML  = "xml"
	FormatCSV  = "csv"
)

// The named time formats of a mapping.
const (
	TimeRFC3339 = "rfc3339"
	TimeUnix    = "unix"
	TimeUnixMS  = "unix_ms"
)

// SpecName returns the connector's name.
func (c *Connector) SpecName() string { return c.Name }

// SpecLocation returns where the connector is declared.
func (c *Connector) SpecLocation() (string, int) { return c.File, c.Line }

// Connectors returns every connector, sorted by name.
func (c *Catalog) Connectors() []*Connector {
	specs := c.Specs("connector")
	out := make([]*Connector, len(specs))
	for i, s := range specs {
		out[i] = s.(*Connector)
	}
	return out
}

// Connector returns the connector called name, or nil.
func (c *Catalog) Connector(name string) *Connector {
	k, _ := c.Spec("connector", name).(*Connector)
	return k
}

func init() {
	registerKind(kind{name: "connector", decode: decodeConnector, check: checkConnector})
}

// connectorKeys are the keys of a connector document; lines records the
// line of each key's value, for messages.
func connectorKeys(d *decoder, c *Connector, delim, records *string, lines map[string]int) []key {
	at := func(name string, decode func(*yaml.Node, string)) func(*yaml.Node, string) {
		return func(n *yaml.Node, path string) {
			lines[name] = n.Line
			decode(n, path)
		}
	}
	return []key{
		{name: "kind", required: true, doc: "always \"connector\"", decode: func(*yaml.Node, string) {}},
		{name: "name", required: true, doc: "dotted lower-case name of the connector, e.g. td.carpark.vacancy", decode: at("name", d.str(&c.Name))},
		{name: "feed", required: true, doc: "the feed the connector makes records of", decode: at("feed", d.str(&c.Feed))},
		{name: "url", required: true, doc: "the http(s) URL fetched at every poll", decode: at("url", d.str(&c.URL))},
		{name: "interval", doc: "how often to poll, e.g. 5m (default the feed's interval)", decode: d.duration(&c.Interval, true)},
		{name: "format", required: true, doc: "json, xml or csv", decode: at("format", d.str(&c.Format))},
		{name: "records", doc: `where the records are: a JSON path such as "data.items[]" or "car_park[].vehicle_type[]", an XML element path such as "list/item"; not for csv`, decode: at("records", d.str(records))},
		{name: "header", doc: "csv: true (default) if the first row names the columns", decode: at("header", d.boolean(&c.Header))},
		{name: "delimiter", doc: "csv: the column separator (default \",\")", decode: at("delimiter", d.str(delim))},
		{name: "timezone", doc: "IANA zone of times written without an offset (default Asia/Hong_Kong)", decode: at("timezone", d.str(&c.TimeZone))},
		{name: "fields", required: true, doc: "list of {field, from | value, format, null}", decode: at("fields", d.list(func(n *yaml.Node, path string) {
			m := Mapping{Line: n.Line}
			seen := d.mapping(n, path, mappingKeys(d, &m))
			m.HasValue = seen["value"]
			switch {
			case seen["from"] && seen["value"]:
				d.add(n.Line, path, "give from or value, not both")
			case seen != nil && !seen["from"] && !seen["value"]:
				d.add(n.Line, path, "give from (where the value is) or value (a constant)")
			}
			c.Fields = append(c.Fields, m)
		}))},
	}
}

func mappingKeys(d *decoder, m *Mapping) []key {
	return []key{
		{name: "field", required: true, doc: "the field of the feed", decode: d.str(&m.Field)},
		{name: "from", doc: "where the value is: a path relative to the record, a path from the root ($.a.b in JSON, /a/b in XML), or a CSV column", decode: d.str(&m.From)},
		{name: "value", doc: "a constant value instead", decode: d.str(&m.Value)},
		{name: "format", doc: "time fields: rfc3339, unix, unix_ms or a Go layout like \"2006-01-02 15:04:05\"", decode: d.str(&m.Format)},
		{name: "null", doc: "source values meaning no value, e.g. [\"-\", \"N/A\"]", decode: d.strings(&m.Null)},
	}
}

func decodeConnector(p *problems, root *yaml.Node) Spec {
	d := &decoder{p}
	c := &Connector{File: p.file, Line: root.Line, Header: true, Delimiter: ','}
	var delim, records string
	lines := map[string]int{}
	seen := d.mapping(root, "", connectorKeys(d, c, &delim, &records, lines))
	line := func(key string) int {
		if l, ok := lines[key]; ok {
			return l
		}
		return c.Line
	}
	c.feedLine, c.fieldsLine = line("feed"), line("fields")
	if c.Name != "" && !feedName.MatchString(c.Name) {
		p.add(line("name"), "name", "%q is not a valid connector name: use dotted lower-case words, e.g. \"td.carpark.vacancy\"", c.Name)
	}
	if c.URL != "" {
		if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add(line("url"), "url", "%q is not an absolute http or https URL", c.URL)
		}
	}
	if c.TimeZone == "" {
		c.TimeZone = DefaultTimeZone
	}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		p.add(line("timezone"), "timezone", "unknown time zone %q; use an IANA name such as Asia/Hong_Kong or UTC", c.TimeZone)
	}
	c.Location = loc
	switch c.Format {
	case FormatJSON, FormatXML:
		for _, k := range []string{"header", "delimiter"} {
			if seen[k] {
				p.add(line(k), k, "is for csv, not %s", c.Format)
			}
		}
		if !seen["records"] {
			p.add(c.Line, "records", `missing (where the records are, e.g. "data[]" in JSON or "list/item" in XML)`)
			break
		}
		if c.Records, err = ParsePath(c.Format, records, true); err != nil {
			p.add(line("records"), "records", "%v", err)
			break
		}
		if !hasMany(c.Format, c.Records) {
			p.add(line("records"), "records", "%q selects one value, not a list of records; end it with [] (each item of a list) or * (each member)", records)
		}
	case FormatCSV:
		if seen["records"] {
			p.add(line("records"), "records", "csv has no records path: every row after the header is a record")
		}
		if seen["delimiter"] {
			r := []rune(delim)
			if len(r) != 1 || r[0] == '"' || r[0] == '\r' || r[0] == '\n' {
				p.add(line("delimiter"), "delimiter", "must be one character other than a quote or a line end, not %q", delim)
			} else {
				c.Delimiter = r[0]
			}
		}
	case "":
	default:
		p.add(line("format"), "format", "must be json, xml or csv, not %q", c.Format)
	}
	for i := range c.Fields {
		decodeMapping(p, c, &c.Fields[i], fmt.Sprintf("fields[%d]", i))
	}
	return c
}

// hasMany reports whether a records path selects several values.
func hasMany(format string, p Path) bool {
	for _, s := range p.Steps {
		if s.Many(format) {
			return true
		}
	}
	return false
}

// decodeMapping checks a mapping's source against the connector's format.
func decodeMapping(p *problems, c *Connector, m *Mapping, path string) {
	if m.HasValue || m.From == "" {
		return
	}
	switch c.Format {
	case FormatCSV:
		if !c.Header {
			n, err := strconv.Atoi(strings.TrimSpace(m.From))
			if err != nil || n < 1 {
				p.add(m.Line, path+".from", "without a header, from is a column number (1 for the first), not %q", m.From)
				return
			}
			m.Column = n
		}
	case FormatJSON, FormatXML:
		fp, err := ParsePath(c.Format, m.From, false)
		if err != nil {
			p.add(m.Line, path+".from", "%v", err)
			return
		}
		if err := followsRecords(c.Format, fp, c.Records); err != nil {
			p.add(m.Line, path+".from", "%v", err)
			return
		}
		m.Path = fp
	}
}

// followsRecords checks that a field's path selects one value: a step that
// selects many ([] or *, or an XML element) is only allowed while a path
// from the root follows the records path, where it means the record's own
// enclosing item.
func followsRecords(format string, fp, records Path) error {
	following := fp.Root
	for i, s := range fp.Steps {
		if following && i < len(records.Steps) && s == records.Steps[i] {
			continue
		}
		following = false
		if s.Kind == StepEach || s.Kind == StepMembers {
			return fmt.Errorf("%q selects several values; a field's path may use [] or * only where it follows the records path %q (to name the record's own enclosing item)", fp.Text, records.Text)
		}
	}
	return nil
}

// checkConnector checks the connector against its feed: the feed exists,
// every mapped field is one of it and every constant fits its type, and
// every required field is filled. It fills in the interval.
func checkConnector(cat *Catalog, s Spec, r *crossProblems) {
	c := s.(*Connector)
	feed := cat.Feed(c.Feed)
	if feed == nil {
		r.add(c.File, c.feedLine, "feed", "no feed called %q; declare the feed (kind: feed) in this or another spec file", c.Feed)
		return
	}
	if c.Interval == 0 {
		c.Interval = feed.Interval
	}
	mapped := map[string]int{}
	for i, m := range c.Fields {
		path := fmt.Sprintf("fields[%d]", i)
		f := feed.Field(m.Field)
		if f == nil {
			if m.Field != "" {
				r.add(c.File, m.Line, path+".field", "%q is not a field of feed %s", m.Field, feed.Name)
			}
			continue
		}
		if prev, dup := mapped[m.Field]; dup {
			r.add(c.File, m.Line, path+".field", "field %q is already mapped at line %d", m.Field, prev)
		}
		mapped[m.Field] = m.Line
		if m.Format != "" {
			if f.Type != Time {
				r.add(c.File, m.Line, path+".format", "only time fields have a format; %q is a %s", m.Field, f.Type)
			} else if err := checkTimeFormat(m.Format); err != nil {
				r.add(c.File, m.Line, path+".format", "%v", err)
			}
		}
		if m.HasValue && f.Type != "" {
			if _, err := ParseValue(f.Type, m.Value, m.Format, c.Location); err != nil {
				r.add(c.File, m.Line, path+".value", "cannot be a value of %s field %q: %v", f.Type, m.Field, err)
			}
		}
	}
	for _, f := range feed.Fields {
		if _, ok := mapped[f.Name]; f.Required && !ok && len(c.Fields) > 0 {
			r.add(c.File, c.fieldsLine, "fields", "required field %q of feed %s is not mapped; every record would be rejected", f.Name, feed.Name)
		}
	}
}

// checkTimeFormat refuses a layout that reads nothing.
func checkTimeFormat(format string) error {
	switch format {
	case TimeRFC3339, TimeUnix, TimeUnixMS:
		return nil
	}
	ref := time.Date(2026, 11, 26, 8, 30, 0, 0, time.UTC)
	if ref.Format(format) == format {
		return fmt.Errorf("%q is not a time format: use rfc3339, unix, unix_ms or a Go layout such as \"2006-01-02 15:04:05\"", format)
	}
	return nil
}
