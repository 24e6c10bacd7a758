package bus

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/segmentio/kafka-go"
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

// dialFetch connects to the broker at addr, encrypted and authenticated
// as sec says (dialBroker).
func dialFetch(ctx context.Context, addr string, sec security) (*fetchConn, error) {
	conn, err := dialBroker(ctx, addr, sec)
	if err != nil {
		return nil, err
	}
	// Responses are read whole with io.ReadFull, which bypasses the buffer
	// for anything larger: it only serves the small reads, so it is small
	// (one per claimed partition: 64 KiB each was 27 MB with 400).
	return &fetchConn{conn: conn, r: bufio.NewReaderSize(conn, 4<<10)}, nil
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
	// The broker sends a first record batch larger than maxBytes whole.
	if size < 4 || size > max(maxBytes, fetchMaxBytes)+(1<<20) {
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
