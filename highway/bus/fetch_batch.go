package bus

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"time"
	"unsafe"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
)

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
