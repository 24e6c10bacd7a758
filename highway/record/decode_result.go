package record

// What the JSON decoder hands back of the record it last accepted, so no
// caller parses the record again: its Kafka key (AppendKey), its event time
// (EventMillis) and its identity (Identity, decode_identity.go). Each reads
// the decoder's slots, which hold the record from a successful Append until
// the next one; the values refer to the record's bytes, which must be
// unchanged meanwhile.

// AppendKey appends the Kafka key of the record the decoder last accepted
// to dst: JoinKey of its key fields' values in the feed's order, a string
// as it is (unescaped), any other value as written in the JSON. That is the
// key the push API has always given a record; a connector's parser keys
// its records itself (connector.Record.Key).
func (d *Decoder) AppendKey(dst []byte) []byte {
	for i, k := range d.keyIdx {
		if i > 0 {
			dst = append(dst, KeySep...)
		}
		s := &d.slots[k]
		if len(s.raw) > 0 && s.raw[0] != '"' {
			dst = append(dst, s.raw...)
		} else {
			dst = append(dst, s.str...)
		}
	}
	return dst
}

// EventMillis is the event time of the record the decoder last accepted,
// in Unix milliseconds.
func (d *Decoder) EventMillis() int64 { return d.slots[d.event].i }
