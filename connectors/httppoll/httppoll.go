// Package httppoll is the generic HTTP connector: it reads a department's
// payload — JSON, XML or CSV — into records of one feed as a connector spec
// (kind: connector, see catalog.Connector) says, so that a feed can be added
// with YAML alone. The polling itself (conditional GET, content hash,
// validation, de-duplication, dead letters, backoff) is the runtime's
// (connectors/poll); this package only turns a spec into a poll.Source.
//
// What the parser tolerates on purpose, as real payloads need:
//   - a UTF-8 byte-order mark and white space before the document (TD's
//     car-park vacancy JSON, many CSVs);
//   - JSON with a trailing comma before ] or } (some published fixtures);
//   - CSV with or without a header row, CRLF or LF line ends, short rows
//     (missing columns are null), a custom delimiter;
//   - XML with a default namespace or prefixes (names are matched locally);
//   - values written as strings where numbers are meant ("12") and the
//     other way round, "Y"/"N" and "yes"/"no" booleans, times with or
//     without an offset (without: in the spec's time zone, default
//     Asia/Hong_Kong), unpadded hours ("2023-12-11 0:44:56");
//   - the empty string, and the values a mapping lists under null ("-",
//     "N/A"), as null.
//
// An item that cannot become a record is a reject naming it
// ("car_park[2].vehicle_type[0]", "list/item[3]", "line 7") with the reason,
// the others still come out. A payload that is not the declared format, or
// whose records path does not lead to a list, is an error wrapping
// connector.ErrMalformed (connector.ErrTruncated when it ends early).
package httppoll

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cityhighway/highway/connectors/connector"
	"github.com/cityhighway/highway/connectors/poll"
	"github.com/cityhighway/highway/highway/catalog"
)

// Source returns the polling source of connector spec c, whose feed is
// feed: its name, URL, interval and feed are the spec's, its parser Parse.
func Source(c *catalog.Connector, feed *catalog.Feed) poll.Source {
	p := New(c, feed)
	return poll.Source{
		Name:     c.Name,
		URL:      c.URL,
		Interval: c.Interval,
		Feeds:    []string{feed.Name},
		Parse:    func(payload []byte, _ time.Time) (connector.Result, error) { return p.Parse(payload) },
	}
}

// Parser reads payloads of one connector spec. It is safe for concurrent
// use.
type Parser struct {
	spec *catalog.Connector
	feed *catalog.Feed
	// fields are the feed's fields that the spec maps, in the feed's order,
	// with their mappings.
	fields []mapped
	// keys are the positions in fields of the feed's key fields.
	keys []int
}

type mapped struct {
	field *catalog.Field
	m     *catalog.Mapping
}

// New returns the parser of connector spec c, whose feed is feed. The spec
// is one a catalogue loaded, so it has been checked against the feed.
func New(c *catalog.Connector, feed *catalog.Feed) *Parser {
	p := &Parser{spec: c, feed: feed}
	for i := range feed.Fields {
		f := &feed.Fields[i]
		for j := range c.Fields {
			if c.Fields[j].Field == f.Name {
				p.fields = append(p.fields, mapped{f, &c.Fields[j]})
				break
			}
		}
	}
	for _, k := range feed.Key {
		for i, fm := range p.fields {
			if fm.field.Name == k {
				p.keys = append(p.keys, i)
			}
		}
	}
	return p
}

// Parse reads one payload into records of the spec's feed.
func (p *Parser) Parse(payload []byte) (connector.Result, error) {
	payload = connector.TrimPayload(payload)
	switch p.spec.Format {
	case catalog.FormatJSON:
		return p.parseJSON(payload)
	case catalog.FormatXML:
		return p.parseXML(payload)
	case catalog.FormatCSV:
		return p.parseCSV(payload)
	}
	return connector.Result{}, connector.Malformed(p.spec.Name, "unknown format %q", p.spec.Format)
}

// value is one value read from a payload.
type value struct {
	text string
	kind valueKind
}

type valueKind byte

const (
	missing valueKind = iota // absent, or JSON null
	text                     // a JSON string, XML text, a CSV cell
	number                   // a JSON number, as written
	boolean                  // a JSON true or false
)

// lookup finds the value of a mapping in the current record; a reason
// when the path leads somewhere that holds no value.
type lookup func(m *catalog.Mapping) (value, string)

// build makes the record of one item, or adds a reject saying why it cannot.
func (p *Parser) build(res *connector.Result, o *connector.Object, where string, raw []byte, get lookup) {
	keys := make([]string, len(p.keys))
	o.Begin()
	for i, fm := range p.fields {
		v, reason := p.value(fm, get)
		if reason != "" {
			res.Reject(p.feed.Name, where, fmt.Sprintf("field %s%s: %s", fm.field.Name, from(fm.m), reason), raw)
			return
		}
		for k, pos := range p.keys {
			if pos != i {
				continue
			}
			if v == nil {
				res.Reject(p.feed.Name, where, fmt.Sprintf("key field %s%s is missing", fm.field.Name, from(fm.m)), raw)
				return
			}
			keys[k] = keyText(v)
		}
		write(o, fm.field.Name, v)
	}
	res.Add(connector.Record{Feed: p.feed.Name, Key: connector.JoinKey(keys...), Value: o.End(), Where: where})
}

// from names where a field's value comes from, for reasons.
func from(m *catalog.Mapping) string {
	if m.HasValue {
		return ""
	}
	return fmt.Sprintf(" (from %q)", m.From)
}

// value converts the source value of a field to the field's type; nil is
// null.
func (p *Parser) value(fm mapped, get lookup) (any, string) {
	m, t := fm.m, fm.field.Type
	var v value
	if m.HasValue {
		v = value{text: m.Value, kind: text}
	} else {
		var reason string
		if v, reason = get(m); reason != "" {
			return nil, reason
		}
	}
	if v.kind == missing {
		return nil, ""
	}
	s := strings.TrimSpace(v.text)
	if s == "" {
		return nil, ""
	}
	for _, n := range m.Null {
		if s == strings.TrimSpace(n) {
			return nil, ""
		}
	}
	switch {
	case v.kind == boolean && t == catalog.Int64:
		return nil, fmt.Sprintf("%s is a boolean, not a whole number", s)
	case v.kind == boolean && t == catalog.Float64:
		return nil, fmt.Sprintf("%s is a boolean, not a number", s)
	case v.kind == number && t == catalog.Time && m.Format != catalog.TimeUnix && m.Format != catalog.TimeUnixMS:
		return nil, fmt.Sprintf("%s is a number, not a time; give the field format unix or unix_ms if it counts from 1970", s)
	}
	out, err := catalog.ParseValue(t, s, m.Format, p.spec.Location)
	if err != nil {
		return nil, err.Error()
	}
	return out, ""
}

// write adds a converted value to the record.
func write(o *connector.Object, name string, v any) {
	switch x := v.(type) {
	case nil:
		o.Null(name)
	case string:
		o.String(name, x)
	case int64:
		o.Int(name, x)
	case float64:
		o.Float(name, x)
	case bool:
		o.Bool(name, x)
	case time.Time:
		o.Time(name, x)
	}
}

// keyText is a key value as Record.Key carries it.
func keyText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return ""
}
