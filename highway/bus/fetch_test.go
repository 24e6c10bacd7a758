package bus

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"net"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/klauspost/compress/snappy"
	"github.com/segmentio/kafka-go/compress"
	kafkasnappy "github.com/segmentio/kafka-go/compress/snappy"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testRecord is one record for encodeBatch.
type testRecord struct {
	key, value []byte
	headers    [][2]string
}

// encodeBatch builds an uncompressed record batch (format 2) at base.
func encodeBatch(base int64, baseTime int64, control bool, recs []testRecord) []byte {
	var body []byte
	for i, r := range recs {
		var rec []byte
		rec = append(rec, 0) // attributes
		rec = binary.AppendVarint(rec, int64(i)*10)
		rec = binary.AppendVarint(rec, int64(i))
		rec = appendVarBytes(rec, r.key)
		rec = appendVarBytes(rec, r.value)
		rec = binary.AppendVarint(rec, int64(len(r.headers)))
		for _, h := range r.headers {
			rec = appendVarBytes(rec, []byte(h[0]))
			rec = appendVarBytes(rec, []byte(h[1]))
		}
		body = binary.AppendVarint(body, int64(len(rec)))
		body = append(body, rec...)
	}
	attrs := uint16(0)
	if control {
		attrs |= 0x20
	}
	var after []byte // from attributes on: what the CRC covers
	after = binary.BigEndian.AppendUint16(after, attrs)
	after = binary.BigEndian.AppendUint32(after, uint32(max(len(recs)-1, 0)))
	after = binary.BigEndian.AppendUint64(after, uint64(baseTime))
	after = binary.BigEndian.AppendUint64(after, uint64(baseTime))
	after = binary.BigEndian.AppendUint64(after, ^uint64(0)) // producer id -1
	after = binary.BigEndian.AppendUint16(after, 0xffff)
	after = binary.BigEndian.AppendUint32(after, 0xffffffff)
	after = binary.BigEndian.AppendUint32(after, uint32(len(recs)))
	after = append(after, body...)
	var b []byte
	b = binary.BigEndian.AppendUint64(b, uint64(base))
	b = binary.BigEndian.AppendUint32(b, uint32(4+1+4+len(after)))
	b = binary.BigEndian.AppendUint32(b, 0) // leader epoch
	b = append(b, 2)
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(after, castagnoli))
	return append(b, after...)
}

func appendVarBytes(b, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(b, -1)
	}
	return append(binary.AppendVarint(b, int64(len(v))), v...)
}

// encodeResponse builds a Fetch v4 response body (after the correlation
// id) for one topic and partition.
func encodeResponse(topic string, partition int, code int16, hwm int64, records []byte) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint32(b, 0) // throttle
	b = binary.BigEndian.AppendUint32(b, 1)
	b = appendString(b, topic)
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint32(b, uint32(partition))
	b = binary.BigEndian.AppendUint16(b, uint16(code))
	b = binary.BigEndian.AppendUint64(b, uint64(hwm))
	b = binary.BigEndian.AppendUint64(b, uint64(hwm))
	b = binary.BigEndian.AppendUint32(b, 0xffffffff) // no aborted transactions
	b = binary.BigEndian.AppendUint32(b, uint32(len(records)))
	return append(b, records...)
}

func threeRecords() []testRecord {
	return []testRecord{
		{key: []byte("k0"), value: []byte(`{"a":0}`), headers: [][2]string{{"content-type", "application/json"}}},
		{key: nil, value: []byte(`{"a":1}`)},
		{key: []byte("k2"), value: []byte{}, headers: [][2]string{{"x", ""}, {"y", "2"}}},
	}
}

func TestParseFetchResponse(t *testing.T) {
	batch := encodeBatch(100, 1_795_651_200_000, false, threeRecords())
	control := encodeBatch(103, 1_795_651_200_000, true, []testRecord{{key: []byte("ctl"), value: []byte("ctl")}})
	later := encodeBatch(104, 1_795_651_300_000, false, threeRecords()[:1])
	bad := append([]byte(nil), batch...)
	bad[len(bad)-1] ^= 1
	// A batch of one record whose value inflates to 128 KiB, past the
	// 64 KiB limit the cases run with.
	bomb := compressBatch(t, encodeBatch(103, 0, false, []testRecord{{value: make([]byte, 128<<10)}}), compress.Zstd)
	for _, tc := range []struct {
		name       string
		records    []byte
		code       int16
		from       int64
		offsets    []int64
		next       int64
		wantErr    error
		wantErrMsg string
		bad        string // the BadBatchError wanted, "" for none
	}{
		{name: "one batch", records: batch, from: 100, offsets: []int64{100, 101, 102}, next: 103},
		{name: "from inside a batch", records: batch, from: 102, offsets: []int64{102}, next: 103},
		{name: "past a batch", records: batch, from: 103, offsets: nil, next: 103},
		{name: "control batch skipped", records: concat(batch, control, later), from: 101, offsets: []int64{101, 102, 104}, next: 105},
		{name: "only a control batch", records: control, from: 103, offsets: nil, next: 104},
		{name: "a cut-off batch is left for the next fetch", records: concat(batch, later[:len(later)-3]), from: 100, offsets: []int64{100, 101, 102}, next: 103},
		{name: "no records", records: nil, from: 7, offsets: nil, next: 7},
		{name: "a broker error", records: nil, code: 1, from: 7, wantErr: errOffsetOutOfRange()},
		{name: "a broken CRC", records: bad, from: 100, offsets: nil, next: 100,
			bad: "the record batch at offsets 100-102 of t/3 cannot be read: it fails its CRC"},
		{name: "a broken CRC between good batches: those before it, and resume at the next", records: concat(encodeBatch(90, 0, false, threeRecords()), bad, later), from: 90,
			offsets: []int64{90, 91, 92}, next: 93, bad: "the record batch at offsets 100-103 of t/3 cannot be read: it fails its CRC"},
		{name: "a batch that inflates past the limit", records: concat(batch, bomb), from: 100, offsets: []int64{100, 101, 102}, next: 103,
			bad: "the record batch at offsets 103-103 of t/3 cannot be read: decompressing (zstd): a record batch of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := parseFetchResponse(encodeResponse("t", 3, tc.code, 200, tc.records), "t", 3, tc.from, &fetchMemory{limit: 1 << 16})
			switch {
			case tc.wantErr != nil || tc.wantErrMsg != "":
				if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) || (tc.wantErrMsg != "" && !strings.Contains(err.Error(), tc.wantErrMsg)) {
					t.Fatalf("err = %v, want %v %q", err, tc.wantErr, tc.wantErrMsg)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			var got []int64
			for _, m := range res.messages {
				got = append(got, m.Offset)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.offsets) || res.next != tc.next || res.highWatermark != 200 {
				t.Fatalf("offsets %v, next %d, hwm %d; want %v, %d, 200", got, res.next, res.highWatermark, tc.offsets, tc.next)
			}
			switch {
			case tc.bad == "" && res.bad != nil:
				t.Fatalf("unexpected bad batch: %v", res.bad)
			case tc.bad != "" && (res.bad == nil || !strings.HasPrefix(res.bad.Error(), tc.bad)):
				t.Fatalf("bad batch %v, want %q", res.bad, tc.bad)
			}
		})
	}

	res, err := parseFetchResponse(encodeResponse("t", 3, 0, 200, batch), "t", 3, 100, &fetchMemory{})
	if err != nil {
		t.Fatal(err)
	}
	m := res.messages
	if string(m[0].Key) != "k0" || string(m[0].Value) != `{"a":0}` || string(m[0].Header("content-type")) != "application/json" ||
		m[1].Key != nil || m[1].Headers != nil || len(m[2].Value) != 0 || m[2].Value == nil || string(m[2].Header("y")) != "2" ||
		!m[1].Time.Equal(time.UnixMilli(1_795_651_200_010)) || m[0].Topic != "t" || m[0].Partition != 3 {
		t.Fatalf("messages decoded as %+v", m)
	}
}

func errOffsetOutOfRange() error { return kafkaError(1) }

func concat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// FuzzParseFetchResponse: whatever a broker (or something pretending to be
// one) sends, the parser returns messages or an error, never panics, hands
// out only messages at or after the offset asked for, and an unreadable
// batch moves the reader on.
// FuzzParseFetchResponse checks our fetch decoder against franz-go's, an
// independent implementation: kmsg reads the response, and
// kgo.ProcessFetchPartition (meant for the records of manually issued
// fetches) decodes the partition's batches. Where both read every batch,
// they must hand out the same records (offset, key, value, headers,
// timestamp); where either stops at a batch it cannot read, the records
// both did hand out must agree up to there. Whatever the input, ours never
// hands out a record before the fetch offset, and never reports a bad
// batch that would not move the reader on.
func FuzzParseFetchResponse(f *testing.F) {
	batch := encodeBatch(100, 1_795_651_200_000, false, threeRecords())
	f.Add(encodeResponse("t", 3, 0, 200, batch), int64(100))
	f.Add(encodeResponse("t", 3, 0, 200, concat(batch, encodeBatch(103, 0, true, nil))), int64(101))
	f.Add(encodeResponse("t", 3, 6, -1, nil), int64(0))
	f.Add(encodeResponse("t", 3, 0, 300, kmsgBatch(f, 200, 1_795_651_200_000)), int64(200))
	f.Add(encodeResponse("t", 3, 0, 300, concat(kmsgBatch(f, 200, 1_795_651_200_000), kmsgBatch(f, 203, 1_795_651_300_000))), int64(202))
	f.Fuzz(func(t *testing.T, body []byte, from int64) {
		res, err := parseFetchResponse(body, "t", 3, from, &fetchMemory{})
		if err != nil {
			return
		}
		for _, m := range res.messages {
			if m.Offset < from {
				t.Fatalf("message at offset %d handed out for a fetch from %d", m.Offset, from)
			}
		}
		if b := res.bad; b != nil && (b.Next <= b.First && b.First < math.MaxInt64 || b.Next <= from && from < math.MaxInt64) {
			t.Fatalf("a bad batch %d-%d for a fetch from %d would not move the reader on", b.First, b.Next, from)
		}
		resp := kmsg.FetchResponse{Version: fetchAPIVersion}
		if err := resp.ReadFrom(body); err != nil {
			return // franz-go cannot read the response around the batches
		}
		var rp *kmsg.FetchResponseTopicPartition
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				if p := &resp.Topics[i].Partitions[j]; resp.Topics[i].Topic == "t" && p.Partition == 3 && rp == nil {
					rp = p
				}
			}
		}
		if rp == nil || rp.ErrorCode != 0 {
			return
		}
		fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{Topic: "t", Partition: 3, Offset: from}, rp, kgo.DefaultDecompressor(), nil)
		ours, theirs := res.messages, fp.Records
		complete := res.bad == nil && fp.Err == nil
		if complete && len(ours) != len(theirs) {
			t.Fatalf("we decoded %d records, franz-go %d", len(ours), len(theirs))
		}
		for i := range min(len(ours), len(theirs)) {
			if d := differs(ours[i], theirs[i]); d != "" {
				t.Fatalf("record %d: %s", i, d)
			}
		}
	})
}

// differs says how a message we decoded differs from franz-go's record.
func differs(m Message, r *kgo.Record) string {
	switch {
	case m.Offset != r.Offset:
		return fmt.Sprintf("offset %d, franz-go %d", m.Offset, r.Offset)
	case !bytes.Equal(m.Key, r.Key) || (m.Key == nil) != (r.Key == nil):
		return fmt.Sprintf("key %q, franz-go %q", m.Key, r.Key)
	case !bytes.Equal(m.Value, r.Value):
		return fmt.Sprintf("value %q, franz-go %q", m.Value, r.Value)
	case m.Time.UnixMilli() != r.Timestamp.UnixMilli():
		return fmt.Sprintf("time %d, franz-go %d", m.Time.UnixMilli(), r.Timestamp.UnixMilli())
	case len(m.Headers) != len(r.Headers):
		return fmt.Sprintf("%d headers, franz-go %d", len(m.Headers), len(r.Headers))
	}
	for i, h := range m.Headers {
		if h.Key != r.Headers[i].Key || !bytes.Equal(h.Value, r.Headers[i].Value) {
			return fmt.Sprintf("header %d %q=%q, franz-go %q=%q", i, h.Key, h.Value, r.Headers[i].Key, r.Headers[i].Value)
		}
	}
	return ""
}

// kmsgBatch is a record batch of three records at base encoded by kmsg,
// not by encodeBatch, with its CRC: a seed our own encoder did not make.
func kmsgBatch(tb testing.TB, base, ms int64) []byte {
	tb.Helper()
	var records []byte
	for i, r := range threeRecords() {
		rec := kmsg.Record{TimestampDelta64: int64(i) * 7, OffsetDelta: int32(i), Key: r.key, Value: r.value}
		for _, h := range r.headers {
			rec.Headers = append(rec.Headers, kmsg.Header{Key: h[0], Value: []byte(h[1])})
		}
		rec.Length = int32(len(rec.AppendTo(nil)) - 1) // AppendTo writes a varint length first; 1 byte while under 64
		records = rec.AppendTo(records)
	}
	b := kmsg.RecordBatch{FirstOffset: base, Magic: 2, LastOffsetDelta: 2, FirstTimestamp: ms, MaxTimestamp: ms + 14,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: 3, Records: records}
	raw := b.AppendTo(nil)
	b.Length = int32(len(raw) - 12) // after FirstOffset and Length
	raw = b.AppendTo(nil)
	b.CRC = int32(crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b.AppendTo(nil)
}

// TestDecompressRefusesABomb: a batch that inflates past the limit is an
// error, read no further than the limit; one within it inflates whole.
func TestDecompressRefusesABomb(t *testing.T) {
	for _, codec := range []compress.Compression{compress.Gzip, compress.Snappy, compress.Lz4, compress.Zstd} {
		var packed bytes.Buffer
		w := codec.Codec().NewWriter(&packed)
		if _, err := w.Write(make([]byte, 2<<20)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		inf := &fetchMemory{}
		if _, err := inf.inflate(codec, packed.Bytes(), 1<<20); err == nil || !strings.Contains(err.Error(), "inflates past 1048576 bytes") {
			t.Errorf("%s: 2 MiB with a 1 MiB limit: err = %v", codec, err)
		}
		out, err := inf.inflate(codec, packed.Bytes(), 4<<20)
		if err != nil || len(out) != 2<<20 {
			t.Errorf("%s: 2 MiB with a 4 MiB limit: %d bytes, %v", codec, len(out), err)
		}
	}
}

// TestInflateSnappy checks the snappy path against kafka-go's reader on
// what kafka-go's writer makes, framed and bare, and refuses broken framing
// with a message that names it.
func TestInflateSnappy(t *testing.T) {
	text := bytes.Repeat([]byte(`{"detector_id":"AID01101","lane_id":"Fast Lane","speed":67.5},`), 3000) // ~190 KB: several xerial blocks
	pack := func(framing kafkasnappy.Framing, data []byte) []byte {
		var b bytes.Buffer
		w := (&kafkasnappy.Codec{Framing: framing}).NewWriter(&b)
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	framed := pack(kafkasnappy.Framed, text)
	if !bytes.HasPrefix(framed, xerialMagic) {
		t.Fatalf("kafka-go's framed snappy does not start with the xerial magic: % x", framed[:8])
	}
	header := framed[:16]
	block := snappy.Encode(nil, []byte("hello"))
	frame := func(blocks ...[]byte) []byte {
		out := append([]byte{}, header...)
		for _, b := range blocks {
			out = binary.BigEndian.AppendUint32(out, uint32(len(b)))
			out = append(out, b...)
		}
		return out
	}
	tests := []struct {
		name string
		in   []byte
		want []byte // nil: err must contain wantErr
		err  string
	}{
		{"framed, several blocks", framed, text, ""},
		{"bare block", pack(kafkasnappy.Unframed, text), text, ""},
		{"framed, two hand-made blocks", frame(block, block), []byte("hellohello"), ""},
		{"framed, no blocks", frame(), []byte{}, ""},
		{"header cut off", framed[:12], nil, "xerial header is cut off"},
		{"block length cut off", append(frame(block), 0, 0), nil, "block length is cut off"},
		{"block longer than the data", frame(block)[:16+4+len(block)-1], nil, "has only"},
		{"corrupt block", frame([]byte{0x05, 0xff, 0xff}), nil, "snappy"},
		{"bare corrupt block", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, nil, "snappy"},
		{"past the limit", frame(snappy.Encode(nil, make([]byte, 2<<20))), nil, "inflates past 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := inflateSnappy(tt.in, 1<<20, func(n int) []byte { return make([]byte, n) })
			if tt.want == nil {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("inflated %d bytes, want %d", len(got), len(tt.want))
			}
			// kafka-go's own reader agrees.
			r := compress.Snappy.Codec().NewReader(bytes.NewReader(tt.in))
			defer r.Close()
			ref, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(ref, got) {
				t.Fatalf("kafka-go's reader: %d bytes, %v", len(ref), err)
			}
		})
	}
}

// compressBatch rewrites a batch made by encodeBatch with its records
// compressed by codec.
func compressBatch(t *testing.T, batch []byte, codec compress.Compression) []byte {
	t.Helper()
	var packed bytes.Buffer
	w := codec.Codec().NewWriter(&packed)
	if _, err := w.Write(batch[12+recordBatchHeader:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out := append([]byte{}, batch[:12+recordBatchHeader]...)
	out = append(out, packed.Bytes()...)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	attrs := binary.BigEndian.Uint16(out[21:]) | uint16(codec)
	binary.BigEndian.PutUint16(out[21:], attrs)
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], castagnoli))
	return out
}

// TestFetchReusesOnlyUnviewedBuffers: a response buffer is read into again
// only when every batch in it was compressed; messages from an
// uncompressed batch keep their bytes through later fetches.
func TestFetchReusesOnlyUnviewedBuffers(t *testing.T) {
	batch := func(base int64, value string) []byte {
		return encodeBatch(base, 1000, false, []testRecord{{key: []byte("k"), value: []byte(value)}})
	}
	// Each response is the same size, so a spare buffer would fit the next.
	c := fakeBroker(t,
		encodeResponse("t", 0, 0, 10, batch(0, "plain-AAAA")),
		encodeResponse("t", 0, 0, 10, batch(1, "plain-BBBB")),
		encodeResponse("t", 0, 0, 10, compressBatch(t, batch(2, "snap-CCCCC"), compress.Snappy)),
		encodeResponse("t", 0, 0, 10, compressBatch(t, batch(3, "snap-DDDDD"), compress.Snappy)),
	)
	responses := 4
	var kept []Message
	wantSpare := []bool{false, false, true, true}
	for i := range responses {
		res, err := c.fetch("t", 0, int64(i), time.Second, 1<<20, &fetchMemory{})
		if err != nil {
			t.Fatalf("fetch %d: %v", i, err)
		}
		if len(res.messages) != 1 {
			t.Fatalf("fetch %d: %d messages", i, len(res.messages))
		}
		kept = append(kept, res.messages[0])
		if got := c.spare != nil; got != wantSpare[i] {
			t.Errorf("fetch %d: kept a spare buffer = %v, want %v", i, got, wantSpare[i])
		}
	}
	for i, want := range []string{"plain-AAAA", "plain-BBBB", "snap-CCCCC", "snap-DDDDD"} {
		if string(kept[i].Value) != want || string(kept[i].Key) != "k" {
			t.Errorf("message %d now reads %q/%q, want k/%q", i, kept[i].Key, kept[i].Value, want)
		}
	}
}

// TestDecoderVarint agrees with binary.Varint on one-byte values (the fast
// path), longer ones, and says where a cut-off varint is.
func TestDecoderVarint(t *testing.T) {
	var in []byte
	var want []int64
	for v := int64(-70); v <= 70; v++ {
		in = binary.AppendVarint(in, v)
		want = append(want, v)
	}
	for _, v := range []int64{300, -300, 1 << 40, -(1 << 62), 1<<63 - 1} {
		in = binary.AppendVarint(in, v)
		want = append(want, v)
	}
	d := decoder{b: in}
	for i, w := range want {
		if got := d.varint(); got != w || d.err != nil {
			t.Fatalf("varint %d = %d (%v), want %d", i, got, d.err, w)
		}
	}
	if d.pos != len(in) {
		t.Fatalf("read %d of %d bytes", d.pos, len(in))
	}
	cut := decoder{b: []byte{0x80, 0x80}}
	if cut.varint(); cut.err == nil || !strings.Contains(cut.err.Error(), "bad varint at byte 0") {
		t.Fatalf("cut-off varint: err = %v", cut.err)
	}
}

// fakeBroker returns a connection to a broker that answers each request
// with the next of responses (Fetch response bodies).
func fakeBroker(t *testing.T, responses ...[]byte) *fetchConn {
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close() })
	go func() {
		for corr, body := range responses {
			var size [4]byte
			if _, err := io.ReadFull(server, size[:]); err != nil {
				return
			}
			if _, err := io.CopyN(io.Discard, server, int64(binary.BigEndian.Uint32(size[:]))); err != nil {
				return
			}
			resp := binary.BigEndian.AppendUint32(nil, uint32(4+len(body)))
			resp = binary.BigEndian.AppendUint32(resp, uint32(corr+1))
			server.Write(append(resp, body...))
		}
	}()
	return &fetchConn{conn: client, r: bufio.NewReader(client)}
}

// TestInflatedBuffersRecycledOnlyWhenDone drives a partition reader as
// Claim.Fetch does (release, then messages) over responses of two snappy
// batches each, taking three messages per round: a message (key, value,
// headers) stays intact until the round after the one that handed it out,
// and buffers are reused.
func TestInflatedBuffersRecycledOnlyWhenDone(t *testing.T) {
	value := func(off int) string { return fmt.Sprintf("value-%03d", off) } // one length: every buffer fits every batch
	batch := func(base int) []byte {
		rec := testRecord{key: []byte("k"), value: []byte(value(base)), headers: [][2]string{{"h", value(base)}}}
		return compressBatch(t, encodeBatch(int64(base), 1000, false, []testRecord{rec}), compress.Snappy)
	}
	const responses = 8
	var bodies [][]byte
	for i := range responses {
		bodies = append(bodies, encodeResponse("t", 0, 0, 2*responses, append(batch(2*i), batch(2*i+1)...)))
	}
	r := &partitionReader{topic: "t", partition: 0, offset: 0, hwm: -1, conn: fakeBroker(t, bodies...)}
	var previous, current []Message
	reused := false
	for round := 0; round*3 < 2*responses; round++ {
		r.release()
		previous, current = current, nil
		for range min(3, 2*responses-round*3) {
			m, err := r.next(context.Background(), time.Second)
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			current = append(current, m)
			for _, p := range previous {
				if unsafe.SliceData(p.Value) == unsafe.SliceData(m.Value) {
					reused = true
				}
			}
		}
		for _, m := range current { // the whole round is intact at its end
			if want := value(int(m.Offset)); string(m.Value) != want || string(m.Key) != "k" || string(m.Header("h")) != want {
				t.Fatalf("round %d: message %d reads %q/%q, header h %q, want k/%q", round, m.Offset, m.Key, m.Value, m.Header("h"), want)
			}
		}
	}
	if !reused {
		t.Error("no inflated buffer was reused")
	}
}

// TestClaimFetchReportsABadBatchOnceAndGoesOn: a claim hands out the
// messages before an unreadable batch, then the *BadBatchError alone, then
// the messages after it: the partition is not stuck on it.
func TestClaimFetchReportsABadBatchOnceAndGoesOn(t *testing.T) {
	recs := func(n int) []testRecord {
		out := make([]testRecord, n)
		for i := range out {
			out[i] = testRecord{key: []byte("k"), value: fmt.Appendf(nil, "v%d", i)}
		}
		return out
	}
	corrupt := encodeBatch(3, 0, false, recs(3))
	corrupt[len(corrupt)-1] ^= 1
	r := &partitionReader{topic: "t", partition: 0, offset: 0, hwm: -1, conn: fakeBroker(t,
		encodeResponse("t", 0, 0, 9, concat(encodeBatch(0, 0, false, recs(3)), corrupt)),
		encodeResponse("t", 0, 0, 9, encodeBatch(6, 0, false, recs(3))),
	)}
	c := &Claim{Topic: "t", Partition: 0, reader: r}
	ctx := context.Background()
	offsets := func(msgs []Message) []int64 {
		var out []int64
		for _, m := range msgs {
			out = append(out, m.Offset)
		}
		return out
	}
	msgs, err := c.Fetch(ctx, 100, 1<<20, 50*time.Millisecond)
	if err != nil || fmt.Sprint(offsets(msgs)) != "[0 1 2]" {
		t.Fatalf("first Fetch = %v, %v; want [0 1 2]", offsets(msgs), err)
	}
	_, err = c.Fetch(ctx, 100, 1<<20, 50*time.Millisecond)
	var bad *BadBatchError
	if !errors.As(err, &bad) || bad.First != 3 || bad.Next != 6 {
		t.Fatalf("second Fetch: err = %v, want the bad batch 3-5", err)
	}
	msgs, err = c.Fetch(ctx, 3, 1<<20, 50*time.Millisecond) // 3: the fake broker has nothing more to say
	if err != nil || fmt.Sprint(offsets(msgs)) != "[6 7 8]" {
		t.Fatalf("third Fetch = %v, %v; want [6 7 8]", offsets(msgs), err)
	}
}

// TestShedLetsGoOnlyAtThePartitionsEnd: once every message fetched is
// handed out and the partition has no more, the reader gives back the
// slices and buffers it kept for the next batch (a partition gone quiet
// after a burst holds a small fetch's worth); while the partition has more
// (a backlog), or messages are pending, it keeps them.
func TestShedLetsGoOnlyAtThePartitionsEnd(t *testing.T) {
	const n = 2000
	recs := make([]testRecord, n)
	for i := range recs {
		recs[i] = testRecord{key: []byte("k"), value: bytes.Repeat([]byte("v"), 100)}
	}
	body := compressBatch(t, encodeBatch(0, 1000, false, recs), compress.Snappy)
	for _, tt := range []struct {
		name  string
		hwm   int64
		taken int
		shed  bool
	}{
		{"at the partition's end", n, n, true},
		{"a backlog behind", 10 * n, n, false},
		{"messages pending", n, n - 1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := &partitionReader{topic: "t", partition: 0, offset: 0, hwm: -1, fetchBytes: fetchMaxBytes,
				conn: fakeBroker(t, encodeResponse("t", 0, 0, tt.hwm, body))}
			for range tt.taken {
				if _, err := r.next(context.Background(), time.Second); err != nil {
					t.Fatal(err)
				}
			}
			kept := func() (n int) {
				for _, b := range append(r.mem.free, r.current.bufs...) {
					n += cap(b)
				}
				return n + cap(r.mem.messages)*int(unsafe.Sizeof(Message{})) + cap(r.conn.spare)
			}
			before := kept()
			if got := r.shed(); got != tt.shed {
				t.Fatalf("shed() = %v, want %v", got, tt.shed)
			}
			after := kept()
			switch {
			case tt.shed && after > minFetchBytes:
				t.Errorf("kept %d bytes after shedding (%d before), want at most %d", after, before, minFetchBytes)
			case !tt.shed && after != before:
				t.Errorf("kept %d bytes, %d before: nothing may go while the partition has more", after, before)
			}
		})
	}
}
