package record

import (
	"fmt"

	"github.com/cityhighway/highway/highway/catalog"
)

// lookup fills field `to` from a table keyed by the value of field `from`.
type lookup struct {
	to, from int
	values   map[string]string
}

// AddLookup makes the decoder fill the string field `field`, where a record
// leaves it empty, with values[v] for the value v of field `from`.
// Enrichment happens before the record is checked against its spec.
func (d *Decoder) AddLookup(field, from string, values map[string]string) error {
	to, src := d.feed.FieldIndex(field), d.feed.FieldIndex(from)
	if to < 0 || src < 0 || d.feed.Fields[to].Type != catalog.String {
		return fmt.Errorf("lookup %s from %s: feed %s needs a string field %s and a field %s", field, from, d.feed.Name, field, from)
	}
	d.lookups = append(d.lookups, lookup{to: to, from: src, values: values})
	return nil
}

func (d *Decoder) enrich() {
	for _, l := range d.lookups {
		to, from := &d.slots[l.to], &d.slots[l.from]
		if (to.set && !to.null) || !from.set || from.null {
			continue
		}
		if v, ok := l.values[string(d.canonical(l.from, nil))]; ok {
			to.set, to.null = true, false
			to.setString(v)
		}
	}
}
