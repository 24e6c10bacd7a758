package record

import (
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/cityhighway/highway/highway/catalog"
)

// Decoder appends JSON records of one feed to an Arrow record batch under
// construction. A record is one flat JSON object whose keys are field names;
// times are RFC 3339 strings with an offset or integer milliseconds since the
// Unix epoch. A record that does not fit is rejected whole (nothing of it is
// appended) with a *Reject, and the decoder carries on with the next one.
//
// The hot path allocates nothing per record but the strings it keeps: no
// maps, no reflection. A Decoder is not safe for concurrent use.
type Decoder struct {
	feed   *catalog.Feed
	schema *arrow.Schema
	cols   []column // the batch under construction
	kinds  []kind   // the fields' types
	rows   int      // its length
	index  map[string]int
	slots  []slot
	keyBuf []byte
	// after[i+1] is the field whose key followed field i's in the last
	// record (after[0]: the first key): records of one producer keep their
	// key order, so one comparison usually finds the field without the map.
	after []int
	// keyColons[i] is field i's key as most records write it: `"name":`.
	keyColons []string
	lookups   []lookup
	filter    Filter
	event     int // index of the event-time field
	keyIdx    []int
	// lastTimes[i] is field i's last time text and its value.
	lastTimes []parsedTime
	// lastRows and lastData (string bytes per column) describe the last
	// batch made, to size the next one's buffers.
	lastRows int
	lastData []int
}

// parsedTime is a time text and the milliseconds it stands for.
type parsedTime struct {
	text []byte
	ms   int64
	ok   bool
}

// slot holds one field's value of the record being decoded.
type slot struct {
	set  bool
	null bool
	// ascii says the JSON string had no byte >= 0x80, so str is valid UTF-8
	// without a check (escapes decode to valid UTF-8).
	ascii bool
	// str is the string value: a view of the record's bytes when the JSON
	// string has no escapes, else buf.
	str []byte
	buf []byte // owned storage for unescaped or copied strings
	num float64
	i   int64
	b   bool
	raw []byte // the value as written, for messages
}

// NewDecoder returns a decoder for feed's records. Its batches live in Go
// memory, which the garbage collector frees once they are released and
// unreachable.
func NewDecoder(feed *catalog.Feed) *Decoder {
	schema := Schema(feed)
	d := &Decoder{
		feed:      feed,
		schema:    schema,
		cols:      make([]column, len(feed.Fields)),
		kinds:     make([]kind, len(feed.Fields)),
		index:     make(map[string]int, len(feed.Fields)),
		slots:     make([]slot, len(feed.Fields)),
		after:     make([]int, len(feed.Fields)+1),
		lastTimes: make([]parsedTime, len(feed.Fields)),
	}
	for i, f := range feed.Fields {
		d.keyColons = append(d.keyColons, strconv.Quote(f.Name)+":")
		d.kinds[i] = kindOf(f.Type)
		d.cols[i] = newColumn(d.kinds[i])
		d.index[f.Name] = i
		d.after[i] = i // until seen otherwise: the spec's order
	}
	d.event = feed.FieldIndex(feed.EventTime)
	for _, k := range feed.Key {
		d.keyIdx = append(d.keyIdx, feed.FieldIndex(k))
	}
	return d
}

// Schema is the Arrow schema of the batches the decoder builds.
func (d *Decoder) Schema() *arrow.Schema { return d.schema }

// Len is the number of records appended since the last NewRecordBatch.
func (d *Decoder) Len() int { return d.rows }

// NewRecordBatch returns the records appended so far as a batch (which the
// caller must Release) and starts a new one.
func (d *Decoder) NewRecordBatch() arrow.RecordBatch {
	n := d.rows
	arrays := make([]arrow.Array, len(d.cols))
	d.lastRows = n
	d.lastData = d.lastData[:0]
	for i := range d.cols {
		d.lastData = append(d.lastData, len(d.cols[i].data))
		arrays[i] = d.cols[i].array(n)
	}
	d.rows = 0
	rec := array.NewRecordBatch(d.schema, arrays, int64(n))
	for _, a := range arrays {
		a.Release()
	}
	return rec
}

// Reserve makes room for n more records in the batch under construction,
// so its buffers are allocated once at their size rather than grown record
// by record. String data is reserved at the previous batch's bytes per row.
func (d *Decoder) Reserve(n int) {
	for i := range d.cols {
		data := 0
		if d.lastRows > 0 && i < len(d.lastData) {
			data = d.lastData[i] * n / d.lastRows
		}
		d.cols[i].reserve(d.rows, n, data)
	}
}

// Release drops the batch under construction.
func (d *Decoder) Release() {
	for i := range d.cols {
		d.cols[i] = newColumn(d.cols[i].kind)
	}
	d.rows = 0
}

// Append decodes one JSON record and appends it, or returns a *Reject and
// appends nothing.
func (d *Decoder) Append(data []byte) error {
	d.resetSlots()
	if err := d.scan(data); err != nil {
		return err
	}
	return d.finish()
}

func (d *Decoder) resetSlots() {
	for i := range d.slots {
		s := &d.slots[i]
		s.set, s.null, s.str, s.raw = false, false, nil, nil
	}
}

// setString copies v into the slot's own buffer and makes it the value.
func (s *slot) setString(v string) {
	s.buf = append(s.buf[:0], v...)
	s.str, s.ascii = s.buf, false
}

// finish enriches, checks and filters the decoded record, then appends it.
func (d *Decoder) finish() error {
	d.enrich()
	if err := d.check(); err != nil {
		return err
	}
	if d.filter != nil {
		if err := d.filter(d.Identity(), time.UnixMilli(d.slots[d.event].i).UTC()); err != nil {
			return err
		}
	}
	d.appendSlots()
	return nil
}

func (d *Decoder) appendSlots() {
	n := d.rows
	for i := range d.cols {
		s := &d.slots[i]
		c := &d.cols[i]
		if !s.set || s.null {
			c.appendNull(n)
			continue
		}
		c.setValid(n, true)
		switch c.kind {
		case kindString:
			c.data = append(c.data, s.str...)
			c.offsets = append(c.offsets, int32(len(c.data)))
		case kindInt64, kindTime:
			c.ints = append(c.ints, s.i)
		case kindFloat64:
			c.floats = append(c.floats, s.num)
		case kindBool:
			c.setBool(n, s.b)
		}
	}
	d.rows++
}
