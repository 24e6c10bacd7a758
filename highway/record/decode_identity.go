package record

import (
	"errors"
	"strconv"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
)

// Filter sees every record that fits the spec before it is appended, with
// the hash of its key and event time (Identity) and its event time. An error
// it returns rejects the record: a *Reject goes to the dead-letter topic,
// ErrDuplicate drops the record silently.
type Filter func(id Identity, event time.Time) error

// Identity identifies a record by its key fields and event time (to the
// second), the same whether computed from a record (Decoder.Identity) or
// from a row in ClickHouse (IdentityOf): the one definition of "the same
// record" that the connectors, the processors' de-duplication and the
// identities read back from ClickHouse share. The second, not the
// millisecond, because a row's event time is a DateTime.
type Identity uint64

// ErrDuplicate is returned by a Filter for a record already seen.
var ErrDuplicate = errors.New("duplicate record")

// SetFilter installs f (nil removes it).
func (d *Decoder) SetFilter(f Filter) { d.filter = f }

// canonical appends the canonical text of field i's value to buf: strings
// as they are, integers in decimal, booleans as 1 or 0, times in Unix
// seconds — what toString gives in ClickHouse for the stored column.
func (d *Decoder) canonical(i int, buf []byte) []byte {
	s := &d.slots[i]
	switch d.feed.Fields[i].Type {
	case catalog.String:
		return append(buf, s.str...)
	case catalog.Int64:
		return strconv.AppendInt(buf, s.i, 10)
	case catalog.Bool:
		if s.b {
			return append(buf, '1')
		}
		return append(buf, '0')
	case catalog.Time:
		return strconv.AppendInt(buf, s.i/1000, 10)
	}
	return strconv.AppendFloat(buf, s.num, 'g', -1, 64)
}

// Identity is the identity of the record the decoder last read: the hash
// of its key fields' canonical text and its event second, what IdentityOf
// gives for its row. Read it after Append accepted a record (and before
// the next Append); the connectors' poller de-duplicates a payload by it,
// the processors' Filter receives it.
func (d *Decoder) Identity() Identity {
	h := fnvOffset
	var buf [64]byte
	for _, k := range d.keyIdx {
		h = fnvAdd(h, d.canonical(k, buf[:0]))
		h = fnvAdd(h, []byte{0})
	}
	return Identity(fnvAdd(h, strconv.AppendInt(buf[:0], d.slots[d.event].i/1000, 10)))
}

// IdentityOf computes the Identity of a stored row from the canonical text
// of its key fields (in the feed's key order) and its event time.
func IdentityOf(keys []string, event time.Time) Identity {
	h := fnvOffset
	for _, k := range keys {
		h = fnvAdd(h, []byte(k))
		h = fnvAdd(h, []byte{0})
	}
	return Identity(fnvAdd(h, strconv.AppendInt(nil, event.Unix(), 10)))
}

// FNV-1a, 64 bits, inline so hashing a record allocates nothing.
const (
	fnvOffset uint64 = 14695981039346656037
	fnvPrime         = 1099511628211
)

func fnvAdd(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}
