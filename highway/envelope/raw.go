package envelope

import (
	"bytes"
	"strconv"
	"time"
)

// field numbers the headers Raw keeps.
type field int

const (
	fContentType field = iota
	fSource
	fETag
	fFetchedAt
	fSchemaVersion
	fPushedBy
	fSourceRow
	fReason
	fSourceTopic
	fRejectedAt
	fSourcePartition
	fSourceOffset
	nFields
)

// fieldOf returns the field a header name carries, or -1.
func fieldOf(key string) field {
	switch key {
	case HeaderContentType:
		return fContentType
	case HeaderSource:
		return fSource
	case HeaderETag:
		return fETag
	case HeaderFetchedAt:
		return fFetchedAt
	case HeaderSchemaVersion:
		return fSchemaVersion
	case HeaderPushedBy:
		return fPushedBy
	case HeaderSourceRow:
		return fSourceRow
	case HeaderReason:
		return fReason
	case HeaderSourceTopic:
		return fSourceTopic
	case HeaderRejectedAt:
		return fRejectedAt
	case HeaderSourcePartition:
		return fSourcePartition
	case HeaderSourceOffset:
		return fSourceOffset
	}
	return -1
}

// Raw holds the envelope headers of one message as they are, before they
// are parsed: the processor's hot path collects them without allocating
// and parses them once per run of messages whose provenance is the same
// (SameProvenance). Its zero value holds nothing; Add fills it. The values
// are views of the message's bytes.
type Raw struct {
	vals [nFields][]byte
	seen uint16
}

// Add keeps value if key is an envelope header not seen before in this
// message (the first of each name counts). It reports whether it kept it.
func (r *Raw) Add(key string, value []byte) bool {
	f := fieldOf(key)
	if f < 0 || r.seen&(1<<f) != 0 {
		return false
	}
	r.seen |= 1 << f
	r.vals[f] = value
	return true
}

func (r *Raw) has(f field) bool { return r.seen&(1<<f) != 0 }

// ContentType is the raw content-type header ("" when absent).
func (r *Raw) ContentType() []byte { return r.vals[fContentType] }

// SameProvenance says whether r and o carry the same provenance, header
// for header: the records of one poll (or one push) arrive together with
// the same headers, and their provenance need be parsed once.
func (r *Raw) SameProvenance(o *Raw) bool {
	for _, f := range [...]field{fSource, fETag, fFetchedAt, fSchemaVersion, fPushedBy} {
		if r.has(f) != o.has(f) || !bytes.Equal(r.vals[f], o.vals[f]) {
			return false
		}
	}
	return true
}

// Provenance parses the provenance headers.
func (r *Raw) Provenance() Provenance {
	p := Provenance{Source: string(r.vals[fSource]), ETag: string(r.vals[fETag]), PushedBy: string(r.vals[fPushedBy])}
	if t, err := time.Parse(time.RFC3339Nano, string(r.vals[fFetchedAt])); err == nil {
		p.FetchedAt = t
	}
	if n, err := strconv.ParseUint(string(r.vals[fSchemaVersion]), 10, 32); err == nil {
		p.SchemaVersion = int(n)
	}
	return p
}

// Envelope parses every header Raw holds.
func (r *Raw) Envelope() Envelope {
	e := Envelope{ContentType: string(r.vals[fContentType]), Provenance: r.Provenance()}
	if n, err := strconv.Atoi(string(r.vals[fSourceRow])); err == nil && r.has(fSourceRow) {
		e.Row, e.HasRow = n, true
	}
	if r.seen&(1<<fReason|1<<fSourceTopic|1<<fRejectedAt|1<<fSourcePartition|1<<fSourceOffset) == 0 {
		return e
	}
	rj := &Reject{Reason: string(r.vals[fReason]), Topic: string(r.vals[fSourceTopic]), Partition: -1, Offset: -1}
	if t, err := time.Parse(time.RFC3339Nano, string(r.vals[fRejectedAt])); err == nil {
		rj.At = t
	}
	if o, err := strconv.ParseInt(string(r.vals[fSourceOffset]), 10, 64); err == nil {
		rj.Offset = o
		if p, err := strconv.Atoi(string(r.vals[fSourcePartition])); err == nil {
			rj.Partition = p
		}
	}
	e.Reject = rj
	return e
}
