package bus

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/snappy"
	"github.com/segmentio/kafka-go/compress"
)

// maxInflated is the default bound of one record batch once decompressed,
// so that a batch crafted to inflate without end (a decompression bomb) is
// an error rather than the end of the process. Kafka's own limit on a
// batch is message.max.bytes (1 MiB by default) compressed.
const maxInflated = 256 << 20

// inflate decompresses a record batch's records; more than limit bytes is
// an error. Snappy has a path of its own (inflateSnappy). Other codecs use
// kafka-go's, into a new buffer sized by the last batch's
// inflated-to-compressed ratio (updated), so it is allocated once rather
// than grown.
func (f *fetchMemory) inflate(codec compress.Compression, data []byte, limit int) ([]byte, error) {
	if codec == compress.Snappy {
		return inflateSnappy(data, limit, f.buffer)
	}
	c := codec.Codec()
	if c == nil {
		return nil, fmt.Errorf("unknown compression codec %d", codec)
	}
	r := c.NewReader(bytes.NewReader(data))
	defer r.Close()
	guess := max(f.ratio, 2) * float64(len(data)) * 1.05
	out := bytes.NewBuffer(make([]byte, 0, int(min(guess, float64(limit)))+bytes.MinRead))
	if _, err := out.ReadFrom(io.LimitReader(r, int64(limit)+1)); err != nil {
		return nil, fmt.Errorf("decompressing (%s): %w", c.Name(), err)
	}
	if out.Len() > limit {
		return nil, fmt.Errorf("decompressing (%s): a record batch of %d bytes inflates past %d bytes", c.Name(), len(data), limit)
	}
	if len(data) > 0 {
		f.ratio = float64(out.Len()) / float64(len(data))
	}
	return out.Bytes(), nil
}

// xerialMagic starts snappy data in the xerial framing Kafka's clients
// write: the magic, a version and a compatible version (4 bytes each), then
// blocks, each a big-endian 4-byte length and a snappy block.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// inflateSnappy decodes a snappy record batch, framed (xerial) or one bare
// block, straight into one buffer of the inflated size from buffer: each
// block's header gives its size, so there is no growing and no copying.
func inflateSnappy(data []byte, limit int, buffer func(n int) []byte) ([]byte, error) {
	if !bytes.HasPrefix(data, xerialMagic) {
		n, err := snappy.DecodedLen(data)
		if err != nil {
			return nil, fmt.Errorf("decompressing (snappy): %w", err)
		}
		if n > limit {
			return nil, fmt.Errorf("decompressing (snappy): a record batch of %d bytes inflates past %d bytes", len(data), limit)
		}
		out, err := snappy.Decode(buffer(n), data)
		if err != nil {
			return nil, fmt.Errorf("decompressing (snappy): %w", err)
		}
		return out, nil
	}
	if len(data) < 16 {
		return nil, errors.New("decompressing (snappy): the xerial header is cut off")
	}
	total := 0
	for rest := data[16:]; len(rest) > 0; {
		block, after, err := xerialBlock(rest)
		if err != nil {
			return nil, err
		}
		n, err := snappy.DecodedLen(block)
		if err != nil {
			return nil, fmt.Errorf("decompressing (snappy): %w", err)
		}
		if total += n; total > limit {
			return nil, fmt.Errorf("decompressing (snappy): a record batch of %d bytes inflates past %d bytes", len(data), limit)
		}
		rest = after
	}
	out := buffer(total)
	pos := 0
	for rest := data[16:]; len(rest) > 0; {
		block, after, _ := xerialBlock(rest)
		n, _ := snappy.DecodedLen(block)
		got, err := snappy.Decode(out[pos:pos+n], block)
		if err != nil {
			return nil, fmt.Errorf("decompressing (snappy): %w", err)
		}
		if len(got) != n {
			return nil, fmt.Errorf("decompressing (snappy): a block inflated to %d bytes, its header says %d", len(got), n)
		}
		pos += n
		rest = after
	}
	return out, nil
}

// xerialBlock splits the first length-prefixed block off rest.
func xerialBlock(rest []byte) (block, after []byte, err error) {
	if len(rest) < 4 {
		return nil, nil, errors.New("decompressing (snappy): a xerial block length is cut off")
	}
	n := int(binary.BigEndian.Uint32(rest))
	if n > len(rest)-4 {
		return nil, nil, fmt.Errorf("decompressing (snappy): a xerial block of %d bytes has only %d", n, len(rest)-4)
	}
	return rest[4 : 4+n], rest[4+n:], nil
}
