package catalog

import (
	"fmt"
	"math"
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

// Path is a parsed path into a JSON or XML document.
type Path struct {
	// Text is the path as written.
	Text string
	// Root is true for a path from the document's root ("$.a", "/a");
	// records paths always are.
	Root  bool
	Steps []PathStep
}

// PathStep is one step of a Path.
type PathStep struct {
	// Kind says what the step does.
	Kind StepKind
	// Name is the member (JSON), element or attribute (XML) name.
	Name string
	// Index is the list index of an Index step.
	Index int
}

// StepKind is what a path step selects.
type StepKind int

// The kinds of path steps.
const (
	// StepName selects a JSON member or, in XML, the child elements of that
	// name (each of them on a records path, the first in a field's path).
	StepName StepKind = iota
	// StepIndex selects one item of a JSON list: [3].
	StepIndex
	// StepEach selects every item of a JSON list: [].
	StepEach
	// StepMembers selects every member value of a JSON object, or every
	// child element in XML: *.
	StepMembers
	// StepAttr selects an XML attribute: @name (last step only).
	StepAttr
)

// Many reports whether a step selects more than one value on a records
// path.
func (s PathStep) Many(format string) bool {
	return s.Kind == StepEach || s.Kind == StepMembers || (format == "xml" && s.Kind == StepName)
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

// defaultConnectorZone reads times without an offset unless a connector
// names another zone.
const defaultConnectorZone = "Asia/Hong_Kong"

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
		c.TimeZone = defaultConnectorZone
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

// ParsePath parses a path of a JSON or XML document.
//
// JSON: member names separated by dots, "[3]" for an item of a list, "[]"
// for every item, "*" for every member of an object; "$" is the root, so
// "$.data[]" and "data[]" are the same records path. XML: element names
// separated by "/" (namespace prefixes are ignored), "*" for any element,
// "@name" last for an attribute; a leading "/" starts at the root element.
// Records paths (records true) always start at the root. A field's path
// is relative to its record unless it starts at the root.
func ParsePath(format, text string, records bool) (Path, error) {
	p := Path{Text: text, Root: records}
	s := strings.TrimSpace(text)
	if s == "" {
		return p, fmt.Errorf("the path is empty")
	}
	switch format {
	case FormatJSON:
		if rest, ok := strings.CutPrefix(s, "$"); ok {
			p.Root, s = true, strings.TrimPrefix(rest, ".")
		}
		if s == "" {
			return p, nil
		}
		for _, seg := range strings.Split(s, ".") {
			name, brackets, found := strings.Cut(seg, "[")
			if found {
				brackets = "[" + brackets
			}
			switch {
			case name == "*":
				p.Steps = append(p.Steps, PathStep{Kind: StepMembers})
			case name != "":
				if strings.ContainsAny(name, "]$") {
					return p, fmt.Errorf("%q: bad member name %q", text, name)
				}
				p.Steps = append(p.Steps, PathStep{Kind: StepName, Name: name})
			case brackets == "":
				return p, fmt.Errorf("%q has an empty step (two dots, or a dot at an end)", text)
			}
			for brackets != "" {
				end := strings.IndexByte(brackets, ']')
				if brackets[0] != '[' || end < 0 {
					return p, fmt.Errorf("%q: write list steps as [] or [N], as in data[0] or items[]", text)
				}
				inside := brackets[1:end]
				brackets = brackets[end+1:]
				if inside == "" {
					p.Steps = append(p.Steps, PathStep{Kind: StepEach})
					continue
				}
				n, err := strconv.Atoi(inside)
				if err != nil || n < 0 {
					return p, fmt.Errorf("%q: [%s] is not a list index; use [] for every item or [N] with N from 0", text, inside)
				}
				p.Steps = append(p.Steps, PathStep{Kind: StepIndex, Index: n})
			}
		}
	case FormatXML:
		if rest, ok := strings.CutPrefix(s, "/"); ok {
			p.Root, s = true, rest
		}
		if s == "." && !records {
			return p, nil // the record element's own text
		}
		segs := strings.Split(s, "/")
		for i, seg := range segs {
			switch {
			case seg == "":
				return p, fmt.Errorf("%q has an empty step", text)
			case seg == "*":
				p.Steps = append(p.Steps, PathStep{Kind: StepMembers})
			case strings.HasPrefix(seg, "@"):
				if records || i != len(segs)-1 || len(seg) == 1 {
					return p, fmt.Errorf("%q: an attribute (@name) can only be the last step of a field's path", text)
				}
				p.Steps = append(p.Steps, PathStep{Kind: StepAttr, Name: localName(seg[1:])})
			default:
				if strings.ContainsAny(seg, "[]<>\"' ") {
					return p, fmt.Errorf("%q: %q is not an element name", text, seg)
				}
				p.Steps = append(p.Steps, PathStep{Kind: StepName, Name: localName(seg)})
			}
		}
		if records && (len(p.Steps) == 0 || p.Steps[0].Kind != StepName) {
			return p, fmt.Errorf("%q: a records path starts with the name of the root element", text)
		}
	default:
		return p, fmt.Errorf("no paths in format %q", format)
	}
	return p, nil
}

func localName(s string) string {
	if i := strings.IndexByte(s, ':'); i >= 0 && i < len(s)-1 {
		return s[i+1:]
	}
	return s
}

// ParseValue reads text as a value of type t, as a connector mapping does:
// string as is (trimmed); int64 a whole number ("12", "12.0"); float64 a
// decimal number; bool true/false, yes/no, y/n or 1/0 in any case; time with
// format (see Mapping.Format), local times in loc. It returns a string,
// int64, float64, bool or time.Time.
func ParseValue(t FieldType, text, format string, loc *time.Location) (any, error) {
	s := strings.TrimSpace(text)
	switch t {
	case String:
		return s, nil
	case Int64:
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
		f, err := parseNumber(s)
		if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return nil, fmt.Errorf("%q is not a whole number", text)
		}
		return int64(f), nil
	case Float64:
		f, err := parseNumber(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", text)
		}
		return f, nil
	case Bool:
		switch strings.ToLower(s) {
		case "true", "yes", "y", "1":
			return true, nil
		case "false", "no", "n", "0":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not true or false (or yes/no, y/n, 1/0)", text)
	case Time:
		return parseTime(s, format, loc)
	}
	return nil, fmt.Errorf("unknown type %q", t)
}

// parseNumber reads a decimal number; NaN, infinities, hexadecimal and
// underscores are refused.
func parseNumber(s string) (float64, error) {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool {
		return (r < '0' || r > '9') && r != '.' && r != '-' && r != '+' && r != 'e' && r != 'E'
	}) {
		return 0, fmt.Errorf("not a number")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, fmt.Errorf("not a number")
	}
	return f, nil
}

// localLayouts are tried, in loc, when a mapping names no format and the
// value is not RFC 3339.
var localLayouts = []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"}

func parseTime(s, format string, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	switch format {
	case "":
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, nil
		}
		for _, layout := range localLayouts {
			if t, err := time.ParseInLocation(layout, s, loc); err == nil {
				return t, nil
			}
		}
		return time.Time{}, fmt.Errorf("%q is not a time like 2026-11-26T08:30:00+08:00 or 2026-11-26 08:30:00; give the field a format", s)
	case TimeRFC3339:
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time like 2026-11-26T08:30:00+08:00", s)
		}
		return t, nil
	case TimeUnix, TimeUnixMS:
		f, err := parseNumber(s)
		if err != nil || math.Abs(f) > 1e15 {
			unit := "milliseconds"
			if format == TimeUnix {
				unit = "seconds"
			}
			return time.Time{}, fmt.Errorf("%q is not a number of %s since 1970", s, unit)
		}
		if format == TimeUnix {
			return time.UnixMilli(int64(math.Round(f * 1000))), nil
		}
		return time.UnixMilli(int64(math.Round(f))), nil
	}
	t, err := time.ParseInLocation(format, s, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a time like %q", s, format)
	}
	return t, nil
}
