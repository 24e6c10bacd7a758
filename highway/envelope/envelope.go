// Package envelope is the one definition of what travels with a record on
// Kafka beside its key and value: the message headers, their names, how
// each is written and how it is read back. An Envelope says how the value
// is encoded, where the record came from (its provenance, which the
// processor stores with the row: see store.Provenance), and, on a dead
// letter, where the rejected record was in Kafka and why it was rejected.
//
// Everyone that writes or reads these headers goes through this package:
// the connectors' poller (provenance), the push API (pushed-by), the
// processors (provenance into columns; a rejected row of an Arrow message),
// bus.DeadLetter and bus.Bus.LastDeadLetter (the reject), and the quality
// ledger's dead-letter copy. The package imports nothing of ours, so the
// bus, which knows no record, and the catalogue can use it too.
package envelope

import (
	"iter"
	"math"
	"strconv"
	"time"
)

// Header names, as they appear on Kafka messages.
const (
	// HeaderContentType is the encoding of the value (record.ContentTypeJSON,
	// the default, or record.ContentTypeArrow).
	HeaderContentType = "content-type"
	// HeaderSource is the URL the record was fetched from.
	HeaderSource = "highway-source"
	// HeaderETag is the ETag (or Last-Modified) of the fetched payload.
	HeaderETag = "highway-etag"
	// HeaderFetchedAt is when the payload was fetched, RFC 3339 in UTC.
	HeaderFetchedAt = "highway-fetched-at"
	// HeaderSchemaVersion is the feed version the record was made for.
	HeaderSchemaVersion = "highway-schema-version"
	// HeaderPushedBy is the department that pushed the record (the push API).
	HeaderPushedBy = "highway-pushed-by"
	// HeaderSourceRow is the row within the source message, on a reject of
	// one row of a message that carries many (an Arrow batch).
	HeaderSourceRow = "highway-source-row"
	// HeaderReason says why a dead letter was rejected.
	HeaderReason = "highway-reason"
	// HeaderSourceTopic is the topic a dead letter was meant for.
	HeaderSourceTopic = "highway-source-topic"
	// HeaderRejectedAt is when a dead letter was rejected, RFC 3339 with
	// nanoseconds in UTC.
	HeaderRejectedAt = "highway-rejected-at"
	// HeaderSourcePartition and HeaderSourceOffset say where a rejected
	// record was in Kafka; a record rejected before it reached Kafka (by a
	// connector or the push API) has neither.
	HeaderSourcePartition = "highway-source-partition"
	HeaderSourceOffset    = "highway-source-offset"
)

// WholeRecord is the row of a reject that stands for its whole source
// record (no HeaderSourceRow). It sorts after every row of the record, as
// the processor sends a record's row rejects before its own.
const WholeRecord = math.MaxInt32

// dlqSuffix ends the name of every dead-letter topic.
const dlqSuffix = ".dlq"

// DLQTopic is the dead-letter topic of a feed topic: where the rejects of
// the records meant for topic go.
func DLQTopic(topic string) string { return topic + dlqSuffix }

// Envelope is what travels with one record beside its key and value. The
// zero value carries nothing; Headers writes only what is set, and
// ParseHeaders leaves unset what a message lacks (or cannot be read).
type Envelope struct {
	// ContentType is the encoding of the value; "" means
	// record.ContentTypeJSON.
	ContentType string
	Provenance
	// Row, when HasRow, is the row of the source message this message
	// stands for: the processor's reject of one row of an Arrow message.
	// Without it a message is its whole record (WholeRecord).
	Row    int
	HasRow bool
	// Reject is set on a dead letter: why and when the record was
	// rejected and where it was; nil on other messages.
	Reject *Reject
}

// Provenance says where a record came from before it reached Kafka. The
// processor stores it with the row (store.Provenance.Add), except PushedBy.
type Provenance struct {
	// Source is the URL the record was fetched from; "" for a pushed one.
	Source string
	// ETag is the ETag or Last-Modified of the fetched payload.
	ETag string
	// FetchedAt is when the payload was fetched; it travels to the second.
	FetchedAt time.Time
	// SchemaVersion is the feed version the record was made for; 0 when
	// unknown (the processor then takes the feed's version).
	SchemaVersion int
	// PushedBy is the department that pushed the record.
	PushedBy string
}

// Reject is what a dead letter carries beside the rejected message's own
// headers.
type Reject struct {
	// Reason says why, in words a department can act on.
	Reason string
	// At is when the record was rejected.
	At time.Time
	// Topic is the topic the record was meant for (or came from).
	Topic string
	// Partition and Offset are where the record was in Kafka; Offset < 0
	// (and Partition -1, as read) for a record that never reached it.
	Partition int
	Offset    int64
}

// InKafka says whether the rejected record was read from Kafka (the
// processor's reject), as opposed to rejected on its way in.
func (r *Reject) InKafka() bool { return r.Offset >= 0 }

// Headers yields the headers that carry e, name and value, in a fixed
// order: content type, provenance, row, then the reject's. Times are
// written in UTC: FetchedAt to the second, a reject's At to the
// nanosecond.
func (e *Envelope) Headers() iter.Seq2[string, []byte] {
	return func(yield func(string, []byte) bool) {
		put := func(key, value string) bool { return value == "" || yield(key, []byte(value)) }
		p := &e.Provenance
		if !put(HeaderContentType, e.ContentType) || !put(HeaderSource, p.Source) {
			return
		}
		if !p.FetchedAt.IsZero() && !yield(HeaderFetchedAt, []byte(p.FetchedAt.UTC().Format(time.RFC3339))) {
			return
		}
		if p.SchemaVersion != 0 && !yield(HeaderSchemaVersion, strconv.AppendInt(nil, int64(p.SchemaVersion), 10)) {
			return
		}
		if !put(HeaderETag, p.ETag) || !put(HeaderPushedBy, p.PushedBy) {
			return
		}
		if e.HasRow && !yield(HeaderSourceRow, strconv.AppendInt(nil, int64(e.Row), 10)) {
			return
		}
		r := e.Reject
		if r == nil {
			return
		}
		if !yield(HeaderReason, []byte(r.Reason)) || !yield(HeaderSourceTopic, []byte(r.Topic)) ||
			!yield(HeaderRejectedAt, []byte(r.At.UTC().Format(time.RFC3339Nano))) {
			return
		}
		if r.InKafka() && yield(HeaderSourcePartition, strconv.AppendInt(nil, int64(r.Partition), 10)) {
			yield(HeaderSourceOffset, strconv.AppendInt(nil, r.Offset, 10))
		}
	}
}

// ParseHeaders reads the envelope of a message from its headers, name and
// value; the first header of each name counts, names it does not know are
// skipped. It never fails: a value it cannot read is left unset, as the
// readers have always treated it (a fetch time that is not RFC 3339 is
// unknown, a schema version that is not a number is the feed's).
func ParseHeaders(headers iter.Seq2[string, []byte]) Envelope {
	var r Raw
	for k, v := range headers {
		r.Add(k, v)
	}
	return r.Envelope()
}
