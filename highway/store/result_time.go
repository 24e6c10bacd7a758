package store

import (
	"time"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// dateCol is Date (days since 1970 as UInt16) or Date32 (as Int32).
type dateCol[T uint16 | int32, C ~[]T, PC decoder[C]] struct{ fixed[T, C, PC] }

func (c *dateCol[T, C, PC]) appendJSON(b []byte, i int) []byte {
	b = append(b, '"')
	b = appendDate(b, int64(c.v[i]))
	return append(b, '"')
}

func (c *dateCol[T, C, PC]) appendCSV(b []byte, i int) []byte { return appendDate(b, int64(c.v[i])) }

func (c *dateCol[T, C, PC]) arrowType() arrow.DataType { return arrow.FixedWidthTypes.Date32 }

func (c *dateCol[T, C, PC]) appendArrow(b array.Builder, lo, hi int, nulls []uint8) {
	db := b.(*array.Date32Builder)
	db.Reserve(hi - lo)
	for i := lo; i < hi; i++ {
		if nulls != nil && nulls[i] != 0 {
			db.AppendNull()
		} else {
			db.UnsafeAppend(arrow.Date32(c.v[i]))
		}
	}
}

// dateTimeCol is DateTime: seconds since 1970 as UInt32, whatever its time
// zone (which only says how ClickHouse prints it).
type dateTimeCol struct {
	fixed[uint32, proto.ColUInt32, *proto.ColUInt32]
	days dayCache
}

func (c *dateTimeCol) appendJSON(b []byte, i int) []byte {
	b = append(b, '"')
	b = c.days.appendDateTime(b, int64(c.v[i]), 0)
	return append(b, '"')
}

func (c *dateTimeCol) appendCSV(b []byte, i int) []byte {
	return c.days.appendDateTime(b, int64(c.v[i]), 0)
}

func (c *dateTimeCol) arrowType() arrow.DataType {
	return &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
}

func (c *dateTimeCol) appendArrow(b array.Builder, lo, hi int, nulls []uint8) {
	tb := b.(*array.TimestampBuilder)
	tb.Reserve(hi - lo)
	for i := lo; i < hi; i++ {
		if nulls != nil && nulls[i] != 0 {
			tb.AppendNull()
		} else {
			tb.UnsafeAppend(arrow.Timestamp(int64(c.v[i]) * 1000))
		}
	}
}

// dateTime64Col is DateTime64(prec): ticks of 10^-prec seconds as Int64.
type dateTime64Col struct {
	fixed[int64, proto.ColInt64, *proto.ColInt64]
	prec int
	days dayCache
}

var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

func (c *dateTime64Col) split(i int) (sec, nsec int64) {
	scale := pow10[c.prec]
	t := c.v[i]
	sec, frac := t/scale, t%scale
	if frac < 0 {
		sec, frac = sec-1, frac+scale
	}
	return sec, frac * pow10[9-c.prec]
}

func (c *dateTime64Col) appendJSON(b []byte, i int) []byte {
	b = append(b, '"')
	b = c.appendCSV(b, i)
	return append(b, '"')
}

func (c *dateTime64Col) appendCSV(b []byte, i int) []byte {
	sec, nsec := c.split(i)
	return c.days.appendDateTime(b, sec, nsec)
}

func (c *dateTime64Col) arrowType() arrow.DataType {
	return &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
}

func (c *dateTime64Col) appendArrow(b array.Builder, lo, hi int, nulls []uint8) {
	tb := b.(*array.TimestampBuilder)
	tb.Reserve(hi - lo)
	for i := lo; i < hi; i++ {
		if nulls != nil && nulls[i] != 0 {
			tb.AppendNull()
			continue
		}
		sec, nsec := c.split(i)
		tb.UnsafeAppend(arrow.Timestamp(sec*1000 + nsec/1e6))
	}
}

// appendDate appends days since 1970-01-01 as 2006-01-02.
func appendDate(b []byte, days int64) []byte {
	y, m, d := civil(days)
	if y < 0 || y > 9999 {
		return time.Unix(days*86400, 0).UTC().AppendFormat(b, time.DateOnly)
	}
	return append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10))
}

// dayCache keeps the date text of the last day written: the rows of a
// column mostly fall on few days.
type dayCache struct {
	day  int64
	text []byte // "" when day is out of the range written here
	set  bool
}

// appendDateTime appends a time as RFC 3339 in UTC, with fractional
// seconds (trailing zeros dropped) only when nsec is not zero.
func (dc *dayCache) appendDateTime(b []byte, sec, nsec int64) []byte {
	days := sec / 86400
	if sec%86400 < 0 {
		days--
	}
	if !dc.set || days != dc.day {
		dc.day, dc.set, dc.text = days, true, dc.text[:0]
		if y, _, _ := civil(days); y >= 1000 && y <= 9999 {
			dc.text = appendDate(dc.text, days)
		}
	}
	if len(dc.text) == 0 {
		return time.Unix(sec, nsec).UTC().AppendFormat(b, time.RFC3339Nano)
	}
	b = append(b, dc.text...)
	s := sec - days*86400
	h, mi, se := s/3600, s/60%60, s%60
	b = append(b, 'T', byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+se/10), byte('0'+se%10))
	if nsec != 0 {
		var frac [10]byte
		frac[0] = '.'
		n := nsec
		for i := 9; i >= 1; i-- {
			frac[i] = byte('0' + n%10)
			n /= 10
		}
		end := 10
		for frac[end-1] == '0' {
			end--
		}
		b = append(b, frac[:end]...)
	}
	return append(b, 'Z')
}

// civil returns the proleptic Gregorian date of a day number (days since
// 1970-01-01), by Howard Hinnant's days-to-civil algorithm.
func civil(days int64) (y, m, d int64) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	y = yoe + era*400
	if m <= 2 {
		y++
	}
	return y, m, d
}
