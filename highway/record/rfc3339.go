package record

import "time"

// parseTimeMillis reads an RFC 3339 time with an offset (what
// time.Parse(time.RFC3339Nano, ...) takes) as milliseconds since the Unix
// epoch. The common form, "2006-01-02T15:04:05Z07:00" without fractions,
// is read by hand, which is several times faster than time.Parse and
// allocates nothing; anything else goes to time.Parse, so both accept and
// refuse the same texts.
func parseTimeMillis(b []byte) (int64, bool) {
	if ms, ok := parseSimpleRFC3339(b); ok {
		return ms, true
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return 0, false
	}
	return t.UnixMilli(), true
}

// parseSimpleRFC3339 reads "YYYY-MM-DDTHH:MM:SS" followed by "Z" or
// "±HH:MM", with every field in range. It says false for anything else,
// including texts time.Parse would take (fractions, lower-case t or z).
func parseSimpleRFC3339(b []byte) (int64, bool) {
	if len(b) != 20 && len(b) != 25 {
		return 0, false
	}
	if b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return 0, false
	}
	if year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	offset := 0
	if len(b) == 20 {
		if b[19] != 'Z' {
			return 0, false
		}
	} else {
		if (b[19] != '+' && b[19] != '-') || b[22] != ':' {
			return 0, false
		}
		oh, ok1 := digits(b[20:22])
		om, ok2 := digits(b[23:25])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, false
		}
		offset = (oh*60 + om) * 60
		if b[19] == '-' {
			offset = -offset
		}
	}
	secs := daysSinceEpoch(year, month, day)*86400 + int64(hour*3600+minute*60+sec) - int64(offset)
	return secs * 1000, true
}

// digits reads a run of ASCII digits as a number.
func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// daysIn is the number of days in month of year (proleptic Gregorian).
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysSinceEpoch counts days from 1970-01-01 to the given civil date
// (Howard Hinnant's days_from_civil).
func daysSinceEpoch(year, month, day int) int64 {
	y := int64(year)
	if month <= 2 {
		y--
	}
	era := y / 400 // y >= 0 here (year >= 1), so truncation is floor
	yoe := y - era*400
	m := int64(month)
	if m > 2 {
		m -= 3
	} else {
		m += 9
	}
	doy := (153*m+2)/5 + int64(day) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
