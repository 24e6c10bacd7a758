package connector

import (
	"errors"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/record"
)

// Validator checks records against the specs of their feeds with the same
// decoder the processors use (highway/record), so a record it passes is one
// the platform accepts. Parsers do not call it: they leave ranges, enums and
// required fields to the spec in force, which the runtime knows and they do
// not. A Validator is not safe for concurrent use; Release frees it.
type Validator struct {
	feeds    map[string]*catalog.Feed
	decoders map[string]*record.Decoder
	pending  int
}

// flushEvery bounds the Arrow memory a Validator holds: the decoders append
// every record they accept, and the batches are only dropped.
const flushEvery = 4096

// NewValidator returns a validator for the given feeds.
func NewValidator(feeds ...*catalog.Feed) *Validator {
	v := &Validator{feeds: map[string]*catalog.Feed{}, decoders: map[string]*record.Decoder{}}
	for _, f := range feeds {
		v.feeds[f.Name] = f
	}
	return v
}

// Validate checks one record. It returns nil when the record fits its feed,
// and otherwise the reason: a *record.Reject when the record does not fit,
// an error when the feed is not one the validator knows.
func (v *Validator) Validate(rec Record) error {
	_, err := v.validate(rec)
	return err
}

// validate checks rec and returns the decoder that accepted it, which
// still holds what it read of it.
func (v *Validator) validate(rec Record) (*record.Decoder, error) {
	d, ok := v.decoders[rec.Feed]
	if !ok {
		f := v.feeds[rec.Feed]
		if f == nil {
			return nil, errors.New("feed " + rec.Feed + " is not in the catalogue")
		}
		d = record.NewDecoder(f)
		v.decoders[rec.Feed] = d
	}
	if err := d.Append(rec.Value); err != nil {
		return nil, err
	}
	if v.pending++; v.pending >= flushEvery {
		v.flush()
	}
	return d, nil
}

// Check returns res with every record that does not fit its feed moved to
// the rejects, after the parser's own, with the decoder's reason (for
// example "field temperature: value 99: above the maximum 50").
func (v *Validator) Check(res Result) Result {
	checked, out := v.CheckDecoded(res)
	out.Records = make([]Record, len(checked))
	for i, c := range checked {
		out.Records[i] = c.Record
	}
	return out
}

// Checked is a record the Validator passed, with what its decoder read of
// it, so the caller need not parse the record again.
type Checked struct {
	Record
	// EventMillis is the record's event time, in Unix milliseconds.
	EventMillis int64
	// Identity is the record's identity (record.Identity: key fields and
	// event second), by which the platform tells one record from another.
	Identity record.Identity
}

// CheckDecoded is Check, handing back each record that fits with what the
// decoder read of it; the Result holds the rejects only.
func (v *Validator) CheckDecoded(res Result) ([]Checked, Result) {
	checked := make([]Checked, 0, len(res.Records))
	out := Result{Rejects: res.Rejects}
	for _, rec := range res.Records {
		d, err := v.validate(rec)
		if err != nil {
			out.Reject(rec.Feed, rec.Where, err.Error(), rec.Value)
			continue
		}
		checked = append(checked, Checked{Record: rec, EventMillis: d.EventMillis(), Identity: d.Identity()})
	}
	return checked, out
}

func (v *Validator) flush() {
	for _, d := range v.decoders {
		if d.Len() > 0 {
			d.NewRecordBatch().Release()
		}
	}
	v.pending = 0
}

// Release frees the decoders' memory. The Validator can be used again.
func (v *Validator) Release() {
	for name, d := range v.decoders {
		d.Release()
		delete(v.decoders, name)
	}
	v.pending = 0
}
