package connector

import (
	"math"
	"strconv"
	"time"

	"github.com/cityhighway/highway/internal/jsonstr"
)

// Object builds the flat JSON object of one record at a time. It carves the
// finished objects out of large shared chunks, so a record costs no
// allocation of its own; the bytes End returns stay valid and unchanged for
// good. The zero value is ready to use. An Object is not safe for concurrent
// use.
//
//	var o connector.Object
//	o.Begin()
//	o.String("station", "King's Park")
//	o.Float("temperature", 22.5)
//	o.Time("record_time", t)
//	value := o.End() // {"station":"King's Park","temperature":22.5,"record_time":"2019-12-11T11:00:00+08:00"}
type Object struct {
	buf   []byte // the object being built
	chunk []byte // finished objects; handed out as capped sub-slices
	n     int    // fields written in the current object
}

// chunkSize is the size of the chunks finished objects are copied into.
const chunkSize = 64 << 10

// Begin starts a new object, discarding one not ended.
func (o *Object) Begin() {
	o.buf = append(o.buf[:0], '{')
	o.n = 0
}

func (o *Object) name(name string) {
	if o.n > 0 {
		o.buf = append(o.buf, ',')
	}
	o.n++
	o.buf = jsonstr.Append(o.buf, name)
	o.buf = append(o.buf, ':')
}

// String writes a string field.
func (o *Object) String(name, v string) {
	o.name(name)
	o.buf = jsonstr.Append(o.buf, v)
}

// StringOrNull writes a string field, or null when v is empty.
func (o *Object) StringOrNull(name, v string) {
	if v == "" {
		o.Null(name)
		return
	}
	o.String(name, v)
}

// Float writes a number field; a NaN or infinity, which JSON cannot carry,
// is written as null.
func (o *Object) Float(name string, v float64) {
	o.name(name)
	o.buf = appendFloat(o.buf, v)
}

// Int writes a whole-number field.
func (o *Object) Int(name string, v int64) {
	o.name(name)
	o.buf = strconv.AppendInt(o.buf, v, 10)
}

// Bool writes a true/false field.
func (o *Object) Bool(name string, v bool) {
	o.name(name)
	o.buf = strconv.AppendBool(o.buf, v)
}

// Time writes a time field as RFC 3339 in Hong Kong time (+08:00), with
// fractional seconds only when there are any.
func (o *Object) Time(name string, t time.Time) {
	o.name(name)
	o.buf = append(o.buf, '"')
	o.buf = t.In(HKT).AppendFormat(o.buf, time.RFC3339Nano)
	o.buf = append(o.buf, '"')
}

// Null writes a null field: the value is known to be missing.
func (o *Object) Null(name string) {
	o.name(name)
	o.buf = append(o.buf, "null"...)
}

// Opt writes a number field when ok, null otherwise.
func (o *Object) Opt(name string, v float64, ok bool) {
	if !ok {
		o.Null(name)
		return
	}
	o.Float(name, v)
}

// OptInt writes a whole-number field when ok, null otherwise.
func (o *Object) OptInt(name string, v int64, ok bool) {
	if !ok {
		o.Null(name)
		return
	}
	o.Int(name, v)
}

// OptBool writes a true/false field when ok, null otherwise.
func (o *Object) OptBool(name string, v, ok bool) {
	if !ok {
		o.Null(name)
		return
	}
	o.Bool(name, v)
}

// OptTime writes a time field, or null for the zero time.
func (o *Object) OptTime(name string, t time.Time) {
	if t.IsZero() {
		o.Null(name)
		return
	}
	o.Time(name, t)
}

// End closes the object and returns its bytes, which the Object never
// touches again.
func (o *Object) End() []byte {
	o.buf = append(o.buf, '}')
	n := len(o.buf)
	if cap(o.chunk)-len(o.chunk) < n {
		o.chunk = make([]byte, 0, max(chunkSize, n))
	}
	start := len(o.chunk)
	o.chunk = append(o.chunk, o.buf...)
	return o.chunk[start : start+n : start+n]
}

func appendFloat(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	// The shortest form that reads back as v, as encoding/json writes it.
	format := byte('f')
	if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(b, v, format, -1, 64)
}
