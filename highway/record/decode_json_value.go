package record

import (
	"strconv"
	"strings"

	"github.com/cityhighway/highway/highway/catalog"
)

func (d *Decoder) scan(data []byte) error {
	p := scanner{data: data}
	p.skipSpace()
	if !p.eat('{') {
		return &Reject{Offset: p.pos, Reason: "a record must be a JSON object starting with '{'"}
	}
	p.skipSpace()
	prev := -1 // the field of the previous key
	if !p.eat('}') {
		for {
			if p.pos >= len(data) || data[p.pos] != '"' {
				p.skipSpace()
			}
			start := p.pos
			if p.peek() != '"' {
				return &Reject{Offset: p.pos, Reason: "expected a field name in double quotes"}
			}
			// Most keys are the one that followed the previous key last
			// time, written plainly and followed by the colon: compare
			// `"name":` in place. (Field names are [a-z][a-z0-9_]*, so
			// that is the key.)
			idx := d.after[prev+1]
			var key []byte
			if k := d.keyColons[idx]; len(data)-start > len(k) && string(data[start:start+len(k)]) == k {
				key, p.pos = data[start+1:start+len(k)-2], start+len(k)
			} else {
				var buf []byte
				var err error
				key, buf, _, err = p.stringValue(d.keyBuf[:0])
				d.keyBuf = buf
				if err != nil {
					return err
				}
				var ok bool
				if idx, ok = d.index[string(key)]; !ok {
					p.skipSpace()
					if !p.eat(':') {
						return &Reject{Offset: p.pos, Reason: "expected ':' after field name " + strconv.Quote(string(key))}
					}
					return &Reject{Field: string(key), Offset: start, Reason: "unknown field; the feed " + d.feed.Name + " has " + d.fieldList()}
				}
				d.after[prev+1] = idx
				p.skipSpace()
				if !p.eat(':') {
					return &Reject{Offset: p.pos, Reason: "expected ':' after field name " + strconv.Quote(string(key))}
				}
			}
			if p.pos >= len(data) || data[p.pos] <= ' ' {
				p.skipSpace()
			}
			prev = idx
			if d.slots[idx].set {
				return &Reject{Field: string(key), Offset: start, Reason: "appears twice in the record"}
			}
			if err := d.value(&p, idx); err != nil {
				return err
			}
			if p.pos < len(data) && data[p.pos] == ',' {
				p.pos++
				continue
			}
			p.skipSpace()
			if p.eat(',') {
				continue
			}
			if p.eat('}') {
				break
			}
			return &Reject{Offset: p.pos, Reason: "expected ',' or '}' after a value"}
		}
	}
	p.skipSpace()
	if p.pos != len(p.data) {
		return &Reject{Offset: p.pos, Reason: "unexpected data after the end of the record"}
	}
	return nil
}

func (d *Decoder) fieldList() string {
	names := make([]string, len(d.feed.Fields))
	for i, f := range d.feed.Fields {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

// value parses the value at p into slot idx, converting to the field's type.
func (d *Decoder) value(p *scanner, idx int) error {
	f := &d.feed.Fields[idx]
	s := &d.slots[idx]
	s.set = true
	start := p.pos
	bad := func(reason string) error {
		end := min(p.pos, len(p.data))
		if end <= start {
			end = min(start+1, len(p.data))
		}
		return &Reject{Field: f.Name, Value: shorten(p.data[start:end]), Offset: start, Reason: reason}
	}
	switch c := p.peek(); {
	case c == 'n':
		if !p.literal("null") {
			return bad("not a JSON value")
		}
		s.null = true
	case c == 't' || c == 'f':
		v, word := c == 't', "false"
		if v {
			word = "true"
		}
		if !p.literal(word) {
			return bad("not a JSON value")
		}
		if d.kinds[idx] != kindBool {
			return bad("must be " + typeWords(f.Type) + ", not true or false")
		}
		s.b, s.raw = v, p.data[start:p.pos]
	case c == '"':
		var err error
		s.str, s.buf, s.ascii, err = p.stringValue(s.buf[:0])
		if err != nil {
			err.(*Reject).Field = f.Name
			return err
		}
		s.raw = p.data[start:p.pos]
		switch d.kinds[idx] {
		case kindString:
		case kindTime:
			// Records of one snapshot share their times: parse a time
			// only when it differs from this field's last one.
			last := &d.lastTimes[idx]
			if !last.ok || string(last.text) != string(s.str) {
				ms, ok := parseTimeMillis(s.str)
				if !ok {
					return bad("not a time: write RFC 3339 with an offset, like \"2026-11-26T08:30:00+08:00\", or milliseconds since 1970")
				}
				last.text, last.ms, last.ok = append(last.text[:0], s.str...), ms, true
			}
			s.i = last.ms
		default:
			return bad("must be " + typeWords(f.Type) + ", not a string")
		}
	case c == '-' || (c >= '0' && c <= '9'):
		var parts numberParts
		num, ok := p.number(&parts)
		s.raw = num
		if !ok {
			return bad("not a JSON number")
		}
		switch d.kinds[idx] {
		case kindFloat64:
			v, ok := parts.float()
			if !ok {
				if v, ok = parseFloat(num); !ok {
					return bad("not a number")
				}
			}
			s.num = v
		case kindInt64, kindTime:
			v, ok := parts.int()
			if !ok {
				if v, ok = parseInt(num); !ok {
					return bad("must be a whole number")
				}
			}
			s.i, s.num = v, float64(v)
		default:
			return bad("must be " + typeWords(f.Type) + ", not a number")
		}
	case c == '{' || c == '[':
		return bad("nested objects and lists are not supported; flatten the record")
	default:
		return bad("not a JSON value")
	}
	return nil
}

func typeWords(t catalog.FieldType) string {
	switch t {
	case catalog.String:
		return "a string"
	case catalog.Int64:
		return "a whole number"
	case catalog.Float64:
		return "a number"
	case catalog.Bool:
		return "true or false"
	case catalog.Time:
		return "a time"
	}
	return string(t)
}
