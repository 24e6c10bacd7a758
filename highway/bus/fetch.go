package bus

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"net"
	"time"
	"unsafe"

	"github.com/klauspost/compress/snappy"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
)

// Fetching without kafka-go's message reader. kafka-go reads a fetch
// response byte by byte through a bufio.Reader and allocates every key and
// value: about 1 µs of CPU per message, a third of a processor's work at
// 300k messages/s (docs/BENCHMARKS.md). Here one Fetch request (version 4,
// the oldest Kafka 4 serves and enough for record batches) is read whole
// into one buffer, and the messages' keys, values and headers are slices
// of it; record batches are decompressed with kafka-go's codecs. kafka-go
// still finds the leader, coordinates the group and produces.
//
// Messages point into the buffers they were read from. A response buffer is
// read into again only when no message points into it (every batch in it
// was compressed). Snappy batches, the bus's default, are inflated into
// buffers a partition reader's fetchMemory recycles once their messages
// are done with (see Claim.Fetch), and so are the slices of messages and
// headers; other codecs get new buffers.

const (
	apiKeyFetch     = 1
	fetchAPIVersion = 4
	clientID        = "highway"
	// recordBatchHeader is the size of a record batch's fields from its
	// partition leader epoch to its record count.
	recordBatchHeader = 49
)

// fetchConn is a connection to a partition's leader for Fetch requests.
type fetchConn struct {
	conn net.Conn
	r    *bufio.Reader
	corr int32
	req  []byte
	// spare is the last response's buffer when no message points into it.
	spare []byte
}

// dialFetch connects to the broker at addr.
func dialFetch(addr string, timeout time.Duration) (*fetchConn, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	return &fetchConn{conn: conn, r: bufio.NewReaderSize(conn, 64<<10)}, nil
}

func (c *fetchConn) close() error { return c.conn.Close() }

// fetchResult is what one fetch brought for one partition.
type fetchResult struct {
	messages []Message
	// highWatermark is the offset after the partition's last message.
	highWatermark int64
	// next is the offset to fetch next: past the last message decoded, or
	// past batches that held none for us (control batches, compacted ones).
	next int64
	// viewsResponse says some message points into the response buffer
	// (it came in an uncompressed batch).
	viewsResponse bool
	// bad is a record batch that cannot be read, after messages (and
	// next) that come before it; nothing after it was decoded.
	bad *BadBatchError
}

// BadBatchError says a record batch cannot be read: it fails its CRC, is in
// an unknown format, does not inflate or inflates past the limit, or its
// records do not parse. Its records cannot be handed out; reading resumes
// at Next. Retrying the fetch cannot help: the broker stores the batch as
// it is.
type BadBatchError struct {
	Topic     string
	Partition int
	First     int64 // the batch's first offset
	Next      int64 // the offset after it
	Reason    string
}

func (e *BadBatchError) Error() string {
	return fmt.Sprintf("the record batch at offsets %d-%d of %s/%d cannot be read: %s", e.First, e.Next-1, e.Topic, e.Partition, e.Reason)
}

// kafkaError is an error code a broker answered a fetch with.
type kafkaError int16

// Error names the common codes as kafka-go does.
func (e kafkaError) Error() string { return kafka.Error(e).Error() }

// Unwrap lets errors.Is match kafka-go's error values (kafka.OffsetOutOfRange, ...).
func (e kafkaError) Unwrap() error { return kafka.Error(e) }

// fetch asks for topic/partition from offset, waiting at most maxWait for
// at least one byte, and decodes the messages at or after offset.
func (c *fetchConn) fetch(topic string, partition int, offset int64, maxWait time.Duration, maxBytes int, mem *fetchMemory) (fetchResult, error) {
	c.corr++
	req := c.req[:0]
	req = append(req, 0, 0, 0, 0) // size, filled below
	req = binary.BigEndian.AppendUint16(req, apiKeyFetch)
	req = binary.BigEndian.AppendUint16(req, fetchAPIVersion)
	req = binary.BigEndian.AppendUint32(req, uint32(c.corr))
	req = appendString(req, clientID)
	req = binary.BigEndian.AppendUint32(req, 0xffffffff) // replica id -1: a consumer
	req = binary.BigEndian.AppendUint32(req, uint32(max(maxWait.Milliseconds(), 1)))
	req = binary.BigEndian.AppendUint32(req, 1) // min bytes
	req = binary.BigEndian.AppendUint32(req, uint32(maxBytes))
	req = append(req, 0)                        // isolation level: read uncommitted
	req = binary.BigEndian.AppendUint32(req, 1) // one topic
	req = appendString(req, topic)
	req = binary.BigEndian.AppendUint32(req, 1) // one partition
	req = binary.BigEndian.AppendUint32(req, uint32(partition))
	req = binary.BigEndian.AppendUint64(req, uint64(offset))
	req = binary.BigEndian.AppendUint32(req, uint32(maxBytes))
	binary.BigEndian.PutUint32(req, uint32(len(req)-4))
	c.req = req
	if _, err := c.conn.Write(req); err != nil {
		return fetchResult{}, fmt.Errorf("sending a fetch request: %w", err)
	}

	var head [8]byte
	if _, err := io.ReadFull(c.r, head[:]); err != nil {
		return fetchResult{}, fmt.Errorf("reading a fetch response: %w", err)
	}
	size := int(int32(binary.BigEndian.Uint32(head[:4])))
	if corr := int32(binary.BigEndian.Uint32(head[4:])); corr != c.corr {
		return fetchResult{}, fmt.Errorf("fetch response %d for request %d", corr, c.corr)
	}
	if size < 4 || size > maxBytes+(1<<20) {
		return fetchResult{}, fmt.Errorf("a fetch response of %d bytes", size)
	}
	var body []byte
	if cap(c.spare) >= size-4 {
		body = c.spare[:size-4]
	} else {
		body = make([]byte, size-4)
	}
	c.spare = nil
	if _, err := io.ReadFull(c.r, body); err != nil {
		return fetchResult{}, fmt.Errorf("reading a fetch response: %w", err)
	}
	res, err := parseFetchResponse(body, topic, partition, offset, mem)
	if err == nil && !res.viewsResponse {
		c.spare = body
	}
	return res, err
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// errMalformed says a response did not parse.
var errMalformed = errors.New("malformed fetch response")

// parseFetchResponse decodes a Fetch v4 response body (after the
// correlation id) for one topic and partition.
func parseFetchResponse(body []byte, topic string, partition int, offset int64, mem *fetchMemory) (fetchResult, error) {
	d := decoder{b: body}
	d.int32() // throttle time
	res := fetchResult{next: offset, highWatermark: -1}
	var records []byte
	found := false
	for range d.count() {
		name := d.str()
		for range d.count() {
			p := d.int32()
			code := d.int16()
			hwm := d.int64()
			d.int64() // last stable offset
			for range d.count() {
				d.int64() // aborted transactions: producer id,
				d.int64() // first offset (not read: read uncommitted)
			}
			recs := d.bytes()
			if name == topic && int(p) == partition && !found {
				found = true
				if code != 0 {
					return res, kafkaError(code)
				}
				res.highWatermark, records = hwm, recs
			}
		}
	}
	if d.err != nil {
		return res, d.err
	}
	if !found {
		return res, fmt.Errorf("%w: no partition %s/%d in it", errMalformed, topic, partition)
	}
	err := decodeRecordBatches(records, topic, partition, offset, mem, &res)
	return res, err
}

// decodeRecordBatches appends the messages at or after offset in the
// record batches of records to res. A batch cut off at the end (the broker
// stops at the byte limit) is left for the next fetch. A batch that cannot
// be read ends the decoding: res.bad says which.
func decodeRecordBatches(records []byte, topic string, partition int, offset int64, mem *fetchMemory, res *fetchResult) error {
	res.messages = mem.messageSlice(countRecords(records))
	// badBatch notes the batch at base as unreadable, drops what it had
	// appended, and says where reading resumes: at end, the batch's end by
	// its header, when that is trusted; else at the next batch in the
	// response, else at end if it lies within the partition.
	badBatch := func(base, end int64, trusted bool, rest []byte, kept int, reason string) {
		if !trusted {
			switch {
			case len(rest) >= 8:
				end = int64(binary.BigEndian.Uint64(rest))
			case end > base && end <= res.highWatermark:
			default:
				end = base + 1
			}
		}
		for _, at := range []int64{base, offset} { // never back
			if at < math.MaxInt64 {
				end = max(end, at+1)
			}
		}
		res.messages = res.messages[:kept]
		res.bad = &BadBatchError{Topic: topic, Partition: partition, First: base, Next: end, Reason: reason}
	}
	for len(records) >= 12 {
		base := int64(binary.BigEndian.Uint64(records))
		size := int(int32(binary.BigEndian.Uint32(records[8:])))
		if size < recordBatchHeader || size > len(records)-12 {
			if size < recordBatchHeader {
				return fmt.Errorf("%w: a record batch of %d bytes at offset %d", errMalformed, size, base)
			}
			break // cut off
		}
		batch := records[12 : 12+size]
		records = records[12+size:]
		kept := len(res.messages)
		lastDelta := int64(int32(binary.BigEndian.Uint32(batch[11:])))
		if magic := batch[4]; magic != 2 {
			badBatch(base, 0, false, records, kept, fmt.Sprintf("record batch format %d (Kafka 4 writes only format 2)", magic))
			return nil
		}
		if crc32.Checksum(batch[9:], castagnoli) != binary.BigEndian.Uint32(batch[5:]) {
			badBatch(base, base+lastDelta+1, false, records, kept, "it fails its CRC")
			return nil
		}
		attributes := binary.BigEndian.Uint16(batch[9:])
		baseTime := int64(binary.BigEndian.Uint64(batch[15:]))
		count := int(int32(binary.BigEndian.Uint32(batch[45:])))
		end := base + lastDelta + 1
		if end <= offset {
			continue // all before the requested offset
		}
		if attributes&0x20 != 0 { // a control batch (transaction marker)
			res.next = max(res.next, end)
			continue
		}
		if lastDelta < 0 {
			badBatch(base, 0, false, records, kept, fmt.Sprintf("its last offset delta is %d", lastDelta))
			return nil
		}
		data := batch[recordBatchHeader:]
		if codec := compress.Compression(attributes & 7); codec != compress.None {
			var err error
			if data, err = mem.inflate(codec, data, mem.batchLimit()); err != nil {
				badBatch(base, end, true, records, kept, err.Error())
				return nil
			}
		} else {
			res.viewsResponse = true
		}
		if count < 0 || count > len(data) {
			badBatch(base, end, true, records, kept, fmt.Sprintf("it claims %d records in %d bytes", count, len(data)))
			return nil
		}
		if err := decodeRecords(data, count, base, baseTime, topic, partition, offset, mem, res); err != nil {
			badBatch(base, end, true, records, kept, err.Error())
			return nil
		}
		res.next = max(res.next, end)
	}
	return nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maxInflated is the default bound of one record batch once decompressed,
// so that a batch crafted to inflate without end (a decompression bomb) is
// an error rather than the end of the process. Kafka's own limit on a
// batch is message.max.bytes (1 MiB by default) compressed.
const maxInflated = 256 << 20

// countRecords adds up the record counts in the headers of the whole
// record batches of records, to size the message slice once.
func countRecords(records []byte) int {
	n := 0
	for len(records) >= 12+recordBatchHeader {
		size := int(int32(binary.BigEndian.Uint32(records[8:])))
		if size < recordBatchHeader || size > len(records)-12 {
			break
		}
		n += max(int(int32(binary.BigEndian.Uint32(records[12+45:]))), 0)
		records = records[12+size:]
	}
	return min(n, 1<<20)
}

// fetchMemory is the memory a partition reader's fetches reuse: buffers
// that snappy batches inflate into, slabs of headers and the slice of a
// response's messages. What it hands out is noted in used until takeUsed;
// recycle gives it back once no message points into it.
type fetchMemory struct {
	// ratio is the last record batch's inflated-to-compressed size.
	ratio       float64
	free        [][]byte
	freeHeaders [][]kafka.Header
	used        usedMemory
	// messages is the last response's message slice; messages are handed
	// out by value, so it is free once they all are.
	messages []Message
	// limit bounds a record batch once inflated; maxInflated when 0.
	limit int
}

func (f *fetchMemory) batchLimit() int {
	if f.limit > 0 {
		return f.limit
	}
	return maxInflated
}

// usedMemory is memory fetched messages point into.
type usedMemory struct {
	bufs    [][]byte
	headers [][]kafka.Header
}

func (u *usedMemory) add(v usedMemory) {
	u.bufs = append(u.bufs, v.bufs...)
	u.headers = append(u.headers, v.headers...)
}

// maxFreeBytes bounds the buffers kept for reuse: enough for the inflated
// responses of a micro-batch or two. maxFreeHeaders bounds header slabs.
const (
	maxFreeBytes   = 16 << 20
	maxFreeHeaders = 64
)

// takeFree pops slices off free until one has room for n and returns it
// (nil when none has); the smaller ones popped on the way are dropped.
func takeFree[T any](free *[][]T, n int) []T {
	for len(*free) > 0 {
		last := (*free)[len(*free)-1]
		(*free)[len(*free)-1] = nil
		*free = (*free)[:len(*free)-1]
		if cap(last) >= n {
			return last
		}
	}
	return nil
}

// buffer returns n bytes, recycled when one given back is large enough
// (their content is whatever it was).
func (f *fetchMemory) buffer(n int) []byte {
	b := takeFree(&f.free, n)
	if b == nil {
		b = make([]byte, n)
	}
	b = b[:n]
	f.used.bufs = append(f.used.bufs, b)
	return b
}

// headerSlab returns an empty slice of headers with room for n.
func (f *fetchMemory) headerSlab(n int) []kafka.Header {
	h := takeFree(&f.freeHeaders, n)
	if h == nil {
		h = make([]kafka.Header, 0, n)
	}
	h = h[:0]
	f.used.headers = append(f.used.headers, h)
	return h
}

// messageSlice returns an empty slice of messages with room for n, the
// last response's when that is large enough.
func (f *fetchMemory) messageSlice(n int) []Message {
	if cap(f.messages) < n {
		f.messages = make([]Message, 0, n)
	}
	return f.messages[:0]
}

// takeUsed returns what was handed out since the last call.
func (f *fetchMemory) takeUsed() usedMemory {
	used := f.used
	f.used = usedMemory{}
	return used
}

// recycle makes u available again: nothing points into it any more.
func (f *fetchMemory) recycle(u usedMemory) {
	kept := 0
	for _, b := range f.free {
		kept += cap(b)
	}
	for _, b := range u.bufs {
		if kept += cap(b); kept > maxFreeBytes {
			break
		}
		f.free = append(f.free, b)
	}
	f.freeHeaders = append(f.freeHeaders, u.headers[:min(len(u.headers), max(maxFreeHeaders-len(f.freeHeaders), 0))]...)
}

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

// decodeRecords reads count records of a batch into res.
func decodeRecords(data []byte, count int, base, baseTime int64, topic string, partition int, offset int64, mem *fetchMemory, res *fetchResult) error {
	d := decoder{b: data}
	var headers []kafka.Header // one slab for the batch's headers
	for range count {
		length := d.varint()
		start := d.pos
		d.pos++ // attributes
		timeDelta := d.varint()
		offsetDelta := d.varint()
		key := d.varBytes()
		value := d.varBytes()
		nh := d.varint()
		if d.err != nil || nh < 0 || nh > int64(len(d.b)) {
			return fmt.Errorf("%w: record %d", errMalformed, len(res.messages))
		}
		var hs []kafka.Header
		if nh > 0 {
			if cap(headers)-len(headers) < int(nh) {
				headers = mem.headerSlab(max(int(nh)*count, 64))
			}
			for range nh {
				k := d.varBytes()
				v := d.varBytes()
				headers = append(headers, kafka.Header{Key: unsafeString(k), Value: v})
			}
			hs = headers[len(headers)-int(nh) : len(headers) : len(headers)]
		}
		if d.err != nil || int64(d.pos-start) != length {
			return fmt.Errorf("%w: record %d is not %d bytes long", errMalformed, len(res.messages), length)
		}
		off := base + offsetDelta
		if off < offset {
			continue
		}
		res.messages = append(res.messages, Message{Topic: topic, Partition: partition, Offset: off,
			Key: key, Value: value, Headers: hs, Time: time.UnixMilli(baseTime + timeDelta)})
	}
	return d.err
}

// unsafeString views b as a string; b is part of a response buffer nothing
// writes to again.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

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
