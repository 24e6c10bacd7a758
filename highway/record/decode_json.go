package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

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

// Filter sees every record that fits the spec before it is appended, with
// the hash of its key and event time (Identity) and its event time. An error
// it returns rejects the record: a *Reject goes to the dead-letter topic,
// ErrDuplicate drops the record silently.
type Filter func(id Identity, event time.Time) error

// Identity identifies a record by its key fields and event time (to the
// second), the same whether computed from a record or from a row in
// ClickHouse (IdentityOf).
type Identity uint64

// ErrDuplicate is returned by a Filter for a record already seen.
var ErrDuplicate = errors.New("duplicate record")

// lookup fills field `to` from a table keyed by the value of field `from`.
type lookup struct {
	to, from int
	values   map[string]string
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

// SetFilter installs f (nil removes it).
func (d *Decoder) SetFilter(f Filter) { d.filter = f }

// AddLookup makes the decoder fill the string field `field`, where a record
// leaves it empty, with values[v] for the value v of field `from`.
// Enrichment happens before the record is checked against its spec.
func (d *Decoder) AddLookup(field, from string, values map[string]string) error {
	to, src := d.feed.FieldIndex(field), d.feed.FieldIndex(from)
	if to < 0 || src < 0 || d.feed.Fields[to].Type != catalog.String {
		return fmt.Errorf("lookup %s from %s: feed %s needs a string field %s and a field %s", field, from, d.feed.Name, field, from)
	}
	d.lookups = append(d.lookups, lookup{to: to, from: src, values: values})
	return nil
}

func (d *Decoder) enrich() {
	for _, l := range d.lookups {
		to, from := &d.slots[l.to], &d.slots[l.from]
		if (to.set && !to.null) || !from.set || from.null {
			continue
		}
		if v, ok := l.values[string(d.canonical(l.from, nil))]; ok {
			to.set, to.null = true, false
			to.setString(v)
		}
	}
}

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

// identity hashes the key fields' canonical text and the event second.
func (d *Decoder) identity() Identity {
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
		if err := d.filter(d.identity(), time.UnixMilli(d.slots[d.event].i).UTC()); err != nil {
			return err
		}
	}
	d.appendSlots()
	return nil
}

func (d *Decoder) scan(data []byte) error {
	p := scanner{data: data}
	p.skipSpace()
	if !p.eat('{') {
		return &Reject{Offset: p.pos, Reason: "a record must be a JSON object starting with '{'"}
	}
	p.skipSpace()
	prev := -1 // the field of the previous key
	if !p.eat('}') {
		for {
			if p.pos >= len(data) || data[p.pos] != '"' {
				p.skipSpace()
			}
			start := p.pos
			if p.peek() != '"' {
				return &Reject{Offset: p.pos, Reason: "expected a field name in double quotes"}
			}
			// Most keys are the one that followed the previous key last
			// time, written plainly and followed by the colon: compare
			// `"name":` in place. (Field names are [a-z][a-z0-9_]*, so
			// that is the key.)
			idx := d.after[prev+1]
			var key []byte
			if k := d.keyColons[idx]; len(data)-start > len(k) && string(data[start:start+len(k)]) == k {
				key, p.pos = data[start+1:start+len(k)-2], start+len(k)
			} else {
				var buf []byte
				var err error
				key, buf, _, err = p.stringValue(d.keyBuf[:0])
				d.keyBuf = buf
				if err != nil {
					return err
				}
				var ok bool
				if idx, ok = d.index[string(key)]; !ok {
					p.skipSpace()
					if !p.eat(':') {
						return &Reject{Offset: p.pos, Reason: "expected ':' after field name " + strconv.Quote(string(key))}
					}
					return &Reject{Field: string(key), Offset: start, Reason: "unknown field; the feed " + d.feed.Name + " has " + d.fieldList()}
				}
				d.after[prev+1] = idx
				p.skipSpace()
				if !p.eat(':') {
					return &Reject{Offset: p.pos, Reason: "expected ':' after field name " + strconv.Quote(string(key))}
				}
			}
			if p.pos >= len(data) || data[p.pos] <= ' ' {
				p.skipSpace()
			}
			prev = idx
			if d.slots[idx].set {
				return &Reject{Field: string(key), Offset: start, Reason: "appears twice in the record"}
			}
			if err := d.value(&p, idx); err != nil {
				return err
			}
			if p.pos < len(data) && data[p.pos] == ',' {
				p.pos++
				continue
			}
			p.skipSpace()
			if p.eat(',') {
				continue
			}
			if p.eat('}') {
				break
			}
			return &Reject{Offset: p.pos, Reason: "expected ',' or '}' after a value"}
		}
	}
	p.skipSpace()
	if p.pos != len(p.data) {
		return &Reject{Offset: p.pos, Reason: "unexpected data after the end of the record"}
	}
	return nil
}

func (d *Decoder) fieldList() string {
	names := make([]string, len(d.feed.Fields))
	for i, f := range d.feed.Fields {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

// value parses the value at p into slot idx, converting to the field's type.
func (d *Decoder) value(p *scanner, idx int) error {
	f := &d.feed.Fields[idx]
	s := &d.slots[idx]
	s.set = true
	start := p.pos
	bad := func(reason string) error {
		end := min(p.pos, len(p.data))
		if end <= start {
			end = min(start+1, len(p.data))
		}
		return &Reject{Field: f.Name, Value: shorten(p.data[start:end]), Offset: start, Reason: reason}
	}
	switch c := p.peek(); {
	case c == 'n':
		if !p.literal("null") {
			return bad("not a JSON value")
		}
		s.null = true
	case c == 't' || c == 'f':
		v, word := c == 't', "false"
		if v {
			word = "true"
		}
		if !p.literal(word) {
			return bad("not a JSON value")
		}
		if d.kinds[idx] != kindBool {
			return bad("must be " + typeWords(f.Type) + ", not true or false")
		}
		s.b = v
	case c == '"':
		var err error
		s.str, s.buf, s.ascii, err = p.stringValue(s.buf[:0])
		if err != nil {
			err.(*Reject).Field = f.Name
			return err
		}
		s.raw = p.data[start:p.pos]
		switch d.kinds[idx] {
		case kindString:
		case kindTime:
			// Records of one snapshot share their times: parse a time
			// only when it differs from this field's last one.
			last := &d.lastTimes[idx]
			if !last.ok || string(last.text) != string(s.str) {
				ms, ok := parseTimeMillis(s.str)
				if !ok {
					return bad("not a time: write RFC 3339 with an offset, like \"2026-11-26T08:30:00+08:00\", or milliseconds since 1970")
				}
				last.text, last.ms, last.ok = append(last.text[:0], s.str...), ms, true
			}
			s.i = last.ms
		default:
			return bad("must be " + typeWords(f.Type) + ", not a string")
		}
	case c == '-' || (c >= '0' && c <= '9'):
		var parts numberParts
		num, ok := p.number(&parts)
		s.raw = num
		if !ok {
			return bad("not a JSON number")
		}
		switch d.kinds[idx] {
		case kindFloat64:
			v, ok := parts.float()
			if !ok {
				if v, ok = parseFloat(num); !ok {
					return bad("not a number")
				}
			}
			s.num = v
		case kindInt64, kindTime:
			v, ok := parts.int()
			if !ok {
				if v, ok = parseInt(num); !ok {
					return bad("must be a whole number")
				}
			}
			s.i, s.num = v, float64(v)
		default:
			return bad("must be " + typeWords(f.Type) + ", not a number")
		}
	case c == '{' || c == '[':
		return bad("nested objects and lists are not supported; flatten the record")
	default:
		return bad("not a JSON value")
	}
	return nil
}

// check applies the spec's rules to the decoded values.
func (d *Decoder) check() error {
	for i := range d.feed.Fields {
		f := &d.feed.Fields[i]
		s := &d.slots[i]
		if !s.set || s.null {
			if f.Required {
				return &Reject{Field: f.Name, Reason: "required field is missing or null"}
			}
			continue
		}
		switch d.kinds[i] {
		case kindInt64, kindFloat64:
			if f.Min != nil && s.num < *f.Min {
				return &Reject{Field: f.Name, Value: shorten(s.raw), Reason: fmt.Sprintf("below the minimum %v", *f.Min)}
			}
			if f.Max != nil && s.num > *f.Max {
				return &Reject{Field: f.Name, Value: shorten(s.raw), Reason: fmt.Sprintf("above the maximum %v", *f.Max)}
			}
		case kindString:
			if !s.ascii && !utf8.Valid(s.str) {
				return &Reject{Field: f.Name, Reason: "not valid UTF-8"}
			}
			if len(f.Enum) > 0 && !inEnum(f.Enum, s.str) {
				return &Reject{Field: f.Name, Value: shorten(s.raw), Reason: "not one of " + strings.Join(f.Enum, ", ")}
			}
		}
	}
	return nil
}

func inEnum(enum []string, v []byte) bool {
	for _, e := range enum {
		if string(v) == e {
			return true
		}
	}
	return false
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

func typeWords(t catalog.FieldType) string {
	switch t {
	case catalog.String:
		return "a string"
	case catalog.Int64:
		return "a whole number"
	case catalog.Float64:
		return "a number"
	case catalog.Bool:
		return "true or false"
	case catalog.Time:
		return "a time"
	}
	return string(t)
}

// scanner reads JSON tokens from a byte slice.
type scanner struct {
	data []byte
	pos  int
}

func (p *scanner) peek() byte {
	if p.pos < len(p.data) {
		return p.data[p.pos]
	}
	return 0
}

func (p *scanner) eat(c byte) bool {
	if p.peek() == c && p.pos < len(p.data) {
		p.pos++
		return true
	}
	return false
}

func (p *scanner) skipSpace() {
	// Records are mostly written without spaces: one comparison decides.
	for p.pos < len(p.data) && p.data[p.pos] <= ' ' {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *scanner) literal(word string) bool {
	if bytes.HasPrefix(p.data[p.pos:], []byte(word)) {
		p.pos += len(word)
		return true
	}
	p.pos++
	return false
}

// numberParts are the digits of a JSON number, gathered while reading it,
// so that the common numbers need no second pass: mant holds all its digits
// (integer and fraction) as one integer while there are at most 19.
type numberParts struct {
	mant   uint64
	digits int // all digits, integer and fraction
	frac   int // digits after the point
	neg    bool
	exp    bool // an exponent follows
}

// float is the number as a float64 when it is simple (at most 15 digits,
// no exponent: both the digits and the power of ten are exact float64s, so
// one division rounds correctly, as strconv.ParseFloat's own fast path).
func (n *numberParts) float() (float64, bool) {
	if n.exp || n.digits > 15 {
		return 0, false
	}
	f := float64(n.mant) / pow10[n.frac]
	if n.neg {
		f = -f
	}
	return f, true
}

// int is the number as an int64 when it is written as one of at most 18
// digits.
func (n *numberParts) int() (int64, bool) {
	if n.exp || n.frac > 0 || n.digits > 18 {
		return 0, false
	}
	if n.neg {
		return -int64(n.mant), true
	}
	return int64(n.mant), true
}

// number reads a JSON number at p and says whether it follows JSON's
// grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?. On false the
// scanner has consumed the characters a number could be made of.
func (p *scanner) number(n *numberParts) ([]byte, bool) {
	start := p.pos
	ok := true
	*n = numberParts{neg: p.eat('-')}
	switch {
	case p.eat('0'):
		n.digits = 1
	case p.mantissa(n) == 0:
		ok = false
	}
	if p.eat('.') {
		k := p.mantissa(n)
		if k == 0 {
			ok = false
		}
		n.frac = k
	}
	if p.eat('e') || p.eat('E') {
		n.exp = true
		if !p.eat('+') {
			p.eat('-')
		}
		if p.digits() == 0 {
			ok = false
		}
	}
	// Whatever else could continue a number makes it a bad one.
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			break
		}
		p.pos++
		ok = false
	}
	return p.data[start:p.pos], ok
}

// mantissa reads a run of digits into n and returns its length.
func (p *scanner) mantissa(n *numberParts) int {
	// Locals, so the loop runs in registers rather than through p and n.
	data, pos, mant := p.data, p.pos, n.mant
	start := pos
	for pos < len(data) {
		c := data[pos] - '0'
		if c > 9 {
			break
		}
		mant = mant*10 + uint64(c)
		pos++
	}
	p.pos, n.mant = pos, mant
	n.digits += pos - start
	return pos - start
}

// digits skips a run of ASCII digits and returns its length.
func (p *scanner) digits() int {
	data, pos := p.data, p.pos
	for pos < len(data) && data[pos]-'0' <= 9 {
		pos++
	}
	n := pos - p.pos
	p.pos = pos
	return n
}

// stringClass sorts the bytes of a JSON string: 0 for plain ASCII, 1 for
// a byte that ends a plain run (quote, backslash, control character), 2 for
// a byte of a multi-byte UTF-8 sequence.
var stringClass = func() (t [256]uint8) {
	for c := range 0x20 {
		t[c] = 1
	}
	t['"'], t['\\'] = 1, 1
	for c := 0x80; c < 0x100; c++ {
		t[c] = 2
	}
	return t
}()

// plainASCII8 says whether the eight bytes packed in x (little-endian)
// are all plain ASCII string content: no quote, backslash, control
// character or byte >= 0x80. (Bit tricks: a byte b of x is below n when
// (b-n) borrows into its high bit while b's own high bit is clear.)
func plainASCII8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote := x ^ (ones * '"')
	slash := x ^ (ones * '\\')
	return ((quote-ones)&^quote|(slash-ones)&^slash|(x-ones*0x20)&^x|x)&highs == 0
}

// stringValue reads a JSON string at p (which must start with '"') and
// returns its content: a view of p's data when the string has no escapes,
// else its unescaped content appended to dst. It also returns dst (grown
// or not), and whether the content is all ASCII.
func (p *scanner) stringValue(dst []byte) (val, buf []byte, ascii bool, err error) {
	start := p.pos
	p.pos++ // the opening quote
	ascii = true
	escaped := false
	for {
		// The run up to the next quote, backslash or control character:
		// eight plain ASCII bytes at a time, then byte by byte (in locals,
		// so the loops run in registers).
		run := p.pos
		data, pos := p.data, p.pos
		for pos+8 <= len(data) && plainASCII8(binary.LittleEndian.Uint64(data[pos:])) {
			pos += 8
		}
		for pos < len(data) {
			k := stringClass[data[pos]]
			if k == 1 {
				break
			}
			if k != 0 {
				ascii = false
			}
			pos++
		}
		p.pos = pos
		if escaped {
			dst = append(dst, p.data[run:p.pos]...)
		}
		if p.pos >= len(p.data) {
			return dst, dst, ascii, &Reject{Offset: start, Reason: "string is not closed with '\"'"}
		}
		switch c := p.data[p.pos]; {
		case c == '"':
			p.pos++
			if !escaped {
				return p.data[start+1 : p.pos-1], dst, ascii, nil
			}
			return dst, dst, ascii, nil
		case c < 0x20:
			return dst, dst, ascii, &Reject{Offset: p.pos, Reason: "control character in a string; escape it"}
		}
		if !escaped {
			escaped = true
			dst = append(dst, p.data[start+1:p.pos]...)
		}
		// A backslash escape.
		if p.pos+1 >= len(p.data) {
			return dst, dst, ascii, &Reject{Offset: p.pos, Reason: "string is not closed with '\"'"}
		}
		esc := p.data[p.pos+1]
		p.pos += 2
		switch esc {
		case '"', '\\', '/':
			dst = append(dst, esc)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return dst, dst, ascii, &Reject{Offset: p.pos - 2, Reason: "bad \\u escape in a string"}
			}
			if utf16.IsSurrogate(r) {
				// A surrogate that does not pair with the next escape stands
				// for U+FFFD, and the next escape is read on its own.
				r2 := rune(-1)
				if p.pos+1 < len(p.data) && p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
					next := p.pos
					p.pos += 2
					r2, ok = p.hex4()
					if !ok {
						return dst, dst, ascii, &Reject{Offset: p.pos - 2, Reason: "bad \\u escape in a string"}
					}
					if utf16.DecodeRune(r, r2) == utf8.RuneError {
						p.pos = next
					}
				}
				r = utf16.DecodeRune(r, r2)
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, dst, ascii, &Reject{Offset: p.pos - 2, Reason: fmt.Sprintf("unknown escape \\%c in a string", esc)}
		}
	}
}

func (p *scanner) hex4() (rune, bool) {
	if p.pos+4 > len(p.data) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.data[p.pos:p.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.pos += 4
	return rune(v), true
}
