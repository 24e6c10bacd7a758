package bus

import (
	"encoding/binary"
	"fmt"
)

// decoder reads Kafka's big-endian and varint encodings from a byte slice;
// after the first error every read returns zero values.
type decoder struct {
	b   []byte
	pos int
	err error
}

func (d *decoder) need(n int) bool {
	if d.err == nil && (n < 0 || n > len(d.b)-d.pos) {
		d.err = fmt.Errorf("%w: %d bytes wanted at byte %d of %d", errMalformed, n, d.pos, len(d.b))
	}
	return d.err == nil
}

func (d *decoder) int16() int16 {
	if !d.need(2) {
		return 0
	}
	v := int16(binary.BigEndian.Uint16(d.b[d.pos:]))
	d.pos += 2
	return v
}

func (d *decoder) int32() int32 {
	if !d.need(4) {
		return 0
	}
	v := int32(binary.BigEndian.Uint32(d.b[d.pos:]))
	d.pos += 4
	return v
}

func (d *decoder) int64() int64 {
	if !d.need(8) {
		return 0
	}
	v := int64(binary.BigEndian.Uint64(d.b[d.pos:]))
	d.pos += 8
	return v
}

// count reads an array length; -1 (null) is 0.
func (d *decoder) count() int {
	n := int(d.int32())
	if n < 0 {
		return 0
	}
	if !d.need(n) { // every element is at least a byte
		return 0
	}
	return n
}

func (d *decoder) str() string {
	n := int(d.int16())
	if n < 0 || !d.need(n) {
		return ""
	}
	s := string(d.b[d.pos : d.pos+n])
	d.pos += n
	return s
}

// bytes reads int32-length bytes; null is nil.
func (d *decoder) bytes() []byte {
	n := int(d.int32())
	if n < 0 || !d.need(n) {
		return nil
	}
	b := d.b[d.pos : d.pos+n : d.pos+n]
	d.pos += n
	return b
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	// Most varints in a record (lengths, deltas, header counts) are one
	// byte: zig-zag values -64..63.
	if d.pos < len(d.b) && d.b[d.pos] < 0x80 {
		u := int64(d.b[d.pos])
		d.pos++
		return u>>1 ^ -(u & 1)
	}
	v, n := binary.Varint(d.b[min(d.pos, len(d.b)):])
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad varint at byte %d", errMalformed, d.pos)
		return 0
	}
	d.pos += n
	return v
}

// varBytes reads varint-length bytes (records' keys, values, headers);
// -1 is nil.
func (d *decoder) varBytes() []byte {
	n := d.varint()
	if n == -1 {
		return nil
	}
	if !d.need(int(min(n, 1<<31))) {
		return nil
	}
	b := d.b[d.pos : d.pos+int(n) : d.pos+int(n)]
	d.pos += int(n)
	return b
}
