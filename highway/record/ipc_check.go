package record

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// checkIPCFraming walks the messages of an Arrow IPC stream and checks, in
// each message's flatbuffer metadata, that every table, vector and string it
// reaches lies inside the metadata. arrow-go trusts those lengths (a schema
// can claim billions of child fields and make the reader allocate them), and
// a message is data from outside: a crafted one must be rejected, not crash
// the processor that reads it — and then again at every restart.
func checkIPCFraming(data []byte) error {
	pos := 0
	for n := 0; pos+4 <= len(data); n++ {
		size := int(binary.LittleEndian.Uint32(data[pos:]))
		pos += 4
		if uint32(size) == 0xFFFFFFFF { // the continuation marker
			if pos+4 > len(data) {
				return fmt.Errorf("message %d: cut after its marker", n)
			}
			size = int(int32(binary.LittleEndian.Uint32(data[pos:])))
			pos += 4
		}
		if size == 0 {
			return nil // end of stream
		}
		if size < 8 || size > len(data)-pos {
			return fmt.Errorf("message %d: metadata length %d does not fit in the %d bytes left", n, size, len(data)-pos)
		}
		meta := data[pos : pos+size]
		body, err := checkMessage(meta)
		if err != nil {
			return fmt.Errorf("message %d: %w", n, err)
		}
		pos += size
		if body < 0 || body > int64(len(data)-pos) {
			return fmt.Errorf("message %d: body length %d does not fit in the %d bytes left", n, body, len(data)-pos)
		}
		pos += int(body)
	}
	return nil
}

var errFlatbuffer = errors.New("malformed flatbuffer")

// fb reads a flatbuffer, checking every offset against its length.
type fb struct {
	buf   []byte
	depth int
}

func (b *fb) u32(at int) (int, error) {
	if at < 0 || at+4 > len(b.buf) {
		return 0, errFlatbuffer
	}
	return int(binary.LittleEndian.Uint32(b.buf[at:])), nil
}

// table returns the positions of a table's fields (0 for absent ones).
func (b *fb) table(at int) ([]int, error) {
	if at < 0 || at+4 > len(b.buf) {
		return nil, errFlatbuffer
	}
	vt := at - int(int32(binary.LittleEndian.Uint32(b.buf[at:])))
	if vt < 0 || vt+4 > len(b.buf) {
		return nil, errFlatbuffer
	}
	vsize := int(binary.LittleEndian.Uint16(b.buf[vt:]))
	if vsize < 4 || vt+vsize > len(b.buf) {
		return nil, errFlatbuffer
	}
	fields := make([]int, (vsize-4)/2)
	for i := range fields {
		off := int(binary.LittleEndian.Uint16(b.buf[vt+4+2*i:]))
		if off != 0 {
			if at+off >= len(b.buf) {
				return nil, errFlatbuffer
			}
			fields[i] = at + off
		}
	}
	return fields, nil
}

// ref follows the offset stored at field position at.
func (b *fb) ref(at int) (int, error) {
	off, err := b.u32(at)
	if err != nil {
		return 0, err
	}
	if at+off >= len(b.buf) {
		return 0, errFlatbuffer
	}
	return at + off, nil
}

// vector returns the position of the first element and the length of the
// vector referenced at field position at, checking it fits.
func (b *fb) vector(at, elemSize int) (int, int, error) {
	v, err := b.ref(at)
	if err != nil {
		return 0, 0, err
	}
	n, err := b.u32(v)
	if err != nil || n < 0 || n > (len(b.buf)-v-4)/elemSize {
		return 0, 0, errFlatbuffer
	}
	return v + 4, n, nil
}

// tables checks every table of the vector at field position at with check.
func (b *fb) tables(at int, check func(at int) error) error {
	first, n, err := b.vector(at, 4)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		t, err := b.ref(first + 4*i)
		if err != nil {
			return err
		}
		if err := check(t); err != nil {
			return err
		}
	}
	return nil
}

func field(fields []int, i int) int {
	if i < len(fields) {
		return fields[i]
	}
	return 0
}

// checkMessage checks an Arrow Message table and returns its body length.
// Message: version, header_type, header, bodyLength, custom_metadata.
func checkMessage(meta []byte) (int64, error) {
	b := &fb{buf: meta}
	root, err := b.u32(0)
	if err != nil {
		return 0, err
	}
	msg, err := b.table(root)
	if err != nil {
		return 0, err
	}
	var body int64
	if at := field(msg, 3); at != 0 {
		if at+8 > len(meta) {
			return 0, errFlatbuffer
		}
		body = int64(binary.LittleEndian.Uint64(meta[at:]))
	}
	if at := field(msg, 4); at != 0 {
		if err := b.tables(at, b.keyValue); err != nil {
			return 0, err
		}
	}
	headerType := 0
	if at := field(msg, 1); at != 0 {
		headerType = int(meta[at])
	}
	at := field(msg, 2)
	if at == 0 {
		return body, nil
	}
	header, err := b.ref(at)
	if err != nil {
		return 0, err
	}
	hdr, err := b.table(header)
	if err != nil {
		return 0, err
	}
	switch headerType {
	case 1: // Schema: endianness, fields, custom_metadata, features
		if at := field(hdr, 1); at != 0 {
			if err := b.tables(at, b.field); err != nil {
				return 0, err
			}
		}
		if at := field(hdr, 2); at != 0 {
			if err := b.tables(at, b.keyValue); err != nil {
				return 0, err
			}
		}
		if at := field(hdr, 3); at != 0 {
			if _, _, err := b.vector(at, 8); err != nil {
				return 0, err
			}
		}
	case 3: // RecordBatch: length, nodes (16-byte structs), buffers (16-byte structs), compression
		for _, i := range []int{1, 2} {
			if at := field(hdr, i); at != 0 {
				if _, _, err := b.vector(at, 16); err != nil {
					return 0, err
				}
			}
		}
	case 2, 4, 5: // DictionaryBatch, Tensor, SparseTensor: the feed has no use for them
		return 0, fmt.Errorf("message type %d is not supported in feed records", headerType)
	}
	return body, nil
}

// field checks a Field table: name, nullable, type_type, type, dictionary,
// children, custom_metadata.
func (b *fb) field(at int) error {
	if b.depth++; b.depth > 64 {
		return errors.New("fields nested too deep")
	}
	defer func() { b.depth-- }()
	f, err := b.table(at)
	if err != nil {
		return err
	}
	if at := field(f, 0); at != 0 {
		if _, _, err := b.vector(at, 1); err != nil {
			return err
		}
	}
	if at := field(f, 3); at != 0 {
		t, err := b.ref(at)
		if err != nil {
			return err
		}
		if _, err := b.table(t); err != nil {
			return err
		}
	}
	if at := field(f, 4); at != 0 {
		return errors.New("dictionary-encoded fields are not supported in feed records")
	}
	if at := field(f, 5); at != 0 {
		if err := b.tables(at, b.field); err != nil {
			return err
		}
	}
	if at := field(f, 6); at != 0 {
		return b.tables(at, b.keyValue)
	}
	return nil
}

// keyValue checks a KeyValue table: key, value (strings).
func (b *fb) keyValue(at int) error {
	kv, err := b.table(at)
	if err != nil {
		return err
	}
	for _, i := range []int{0, 1} {
		if at := field(kv, i); at != 0 {
			if _, _, err := b.vector(at, 1); err != nil {
				return err
			}
		}
	}
	return nil
}
