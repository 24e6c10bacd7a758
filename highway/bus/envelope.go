package bus

import (
	"iter"

	"github.com/cityhighway/highway/highway/envelope"
)

// Headers returns the Kafka headers that carry e (see envelope.Envelope.Headers).
func Headers(e envelope.Envelope) []Header {
	var hs []Header
	for k, v := range e.Headers() {
		hs = append(hs, Header{Key: k, Value: v})
	}
	return hs
}

// Envelope reads what travels with m in its headers
// (envelope.ParseHeaders).
func (m *Message) Envelope() envelope.Envelope { return envelope.ParseHeaders(m.headerSeq()) }

// RawEnvelope collects m's envelope headers without parsing or copying
// them, for the processor's hot path (envelope.Raw).
func (m *Message) RawEnvelope() envelope.Raw {
	var r envelope.Raw
	for _, h := range m.Headers {
		r.Add(h.Key, h.Value)
	}
	return r
}

func (m *Message) headerSeq() iter.Seq2[string, []byte] {
	return func(yield func(string, []byte) bool) {
		for _, h := range m.Headers {
			if !yield(h.Key, h.Value) {
				return
			}
		}
	}
}
