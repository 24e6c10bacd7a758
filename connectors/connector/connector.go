// Package connector holds what the source-specific connectors (hko, td, epd)
// share: the records and rejects a parser produces, the JSON writer that
// builds records, the Validator that checks them against their feed's spec,
// and the documented errors a parser returns when a payload as a whole cannot
// be read.
//
// A parser is a pure function from one payload (plus, where the source needs
// it, the time the payload was fetched) to a Result. It never does I/O and
// never consults the catalogue: polling, de-duplication across polls and
// producing to Kafka belong to the runtime that calls it.
package connector

import "github.com/cityhighway/highway/highway/record"

// Record is one record of one feed, ready to be produced to the feed's topic.
type Record struct {
	// Feed is the name of the feed the record belongs to.
	Feed string
	// Key identifies the thing the record is about: the values of the feed's
	// key fields in their declared order, joined with KeySep.
	Key string
	// Value is one flat JSON object: keys are field names, times are RFC 3339
	// strings with an offset, and a known but missing value is null.
	Value []byte
	// Where says which part of the payload the record came from, in the
	// terms of the source ("rainfall.data[3]", "period 21:27:00, detector
	// AID01101, lane 2"), so a reject found later can point at it.
	Where string
}

// KeySep separates the values of a compound key in Record.Key: it is
// record.KeySep, the one rule of Kafka keys.
const KeySep = record.KeySep

// JoinKey joins the values of a compound key (record.JoinKey).
func JoinKey(parts ...string) string { return record.JoinKey(parts...) }

// Reject is one item of a payload that could not become a record.
type Reject struct {
	// Feed is the feed the item was meant for.
	Feed string
	// Where locates the item in the payload, as Record.Where does.
	Where string
	// Reason says what is wrong, in words a department can act on.
	Reason string
	// Raw is the item as published (the JSON object, the XML element, the CSV
	// line), cut to at most MaxRaw bytes; nil when there is no single item to
	// show.
	Raw []byte
}

// MaxRaw is the most bytes of an item a Reject carries.
const MaxRaw = 4096

// Result is what a parser makes of one payload. Within each feed, records
// and rejects keep the order of the payload. Both empty is a valid result:
// a payload with nothing in it (no warnings in force, UV at night).
type Result struct {
	Records []Record
	Rejects []Reject
}

// Add appends a record.
func (r *Result) Add(rec Record) { r.Records = append(r.Records, rec) }

// Reject appends a reject. Raw is copied (and cut to MaxRaw), so the caller
// may pass a slice of a buffer it reuses.
func (r *Result) Reject(feed, where, reason string, raw []byte) {
	r.Rejects = append(r.Rejects, Reject{Feed: feed, Where: where, Reason: reason, Raw: clip(raw)})
}

func clip(raw []byte) []byte {
	if raw == nil {
		return nil
	}
	return append([]byte(nil), raw[:min(len(raw), MaxRaw)]...)
}
