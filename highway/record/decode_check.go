package record

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// check applies the spec's rules to the decoded values.
func (d *Decoder) check() error {
	for i := range d.feed.Fields {
		f := &d.feed.Fields[i]
		s := &d.slots[i]
		if !s.set || s.null {
			if f.Required {
				return &Reject{Field: f.Name, Reason: "required field is missing or null"}
			}
			continue
		}
		switch d.kinds[i] {
		case kindInt64, kindFloat64:
			if f.Min != nil && s.num < *f.Min {
				return &Reject{Field: f.Name, Value: shorten(s.raw), Reason: fmt.Sprintf("below the minimum %v", *f.Min)}
			}
			if f.Max != nil && s.num > *f.Max {
				return &Reject{Field: f.Name, Value: shorten(s.raw), Reason: fmt.Sprintf("above the maximum %v", *f.Max)}
			}
		case kindString:
			if !s.ascii && !utf8.Valid(s.str) {
				return &Reject{Field: f.Name, Reason: "not valid UTF-8"}
			}
			if len(f.Enum) > 0 && !inEnum(f.Enum, s.str) {
				return &Reject{Field: f.Name, Value: shorten(s.raw), Reason: "not one of " + strings.Join(f.Enum, ", ")}
			}
		}
	}
	return nil
}

func inEnum(enum []string, v []byte) bool {
	for _, e := range enum {
		if string(v) == e {
			return true
		}
	}
	return false
}
