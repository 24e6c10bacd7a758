package catalog

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cityhighway/highway/internal/decimal"
)

// ParseValue reads text as a value of type t, as a connector mapping does:
// string as is (trimmed); int64 a whole number ("12", "12.0"); float64 a
// decimal number; bool true/false, yes/no, y/n or 1/0 in any case; time with
// format (see Mapping.Format), local times in loc. It returns a string,
// int64, float64, bool or time.Time.
func ParseValue(t FieldType, text, format string, loc *time.Location) (any, error) {
	s := strings.TrimSpace(text)
	switch t {
	case String:
		return s, nil
	case Int64:
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
		f, ok := decimal.Parse(s)
		if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return nil, fmt.Errorf("%q is not a whole number", text)
		}
		return int64(f), nil
	case Float64:
		f, ok := decimal.Parse(s)
		if !ok {
			return nil, fmt.Errorf("%q is not a number", text)
		}
		return f, nil
	case Bool:
		switch strings.ToLower(s) {
		case "true", "yes", "y", "1":
			return true, nil
		case "false", "no", "n", "0":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not true or false (or yes/no, y/n, 1/0)", text)
	case Time:
		return parseTime(s, format, loc)
	}
	return nil, fmt.Errorf("unknown type %q", t)
}

// localLayouts are tried, in loc, when a mapping names no format and the
// value is not RFC 3339.
var localLayouts = []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"}

func parseTime(s, format string, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	switch format {
	case "":
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, nil
		}
		for _, layout := range localLayouts {
			if t, err := time.ParseInLocation(layout, s, loc); err == nil {
				return t, nil
			}
		}
		return time.Time{}, fmt.Errorf("%q is not a time like 2026-11-26T08:30:00+08:00 or 2026-11-26 08:30:00; give the field a format", s)
	case TimeRFC3339:
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time like 2026-11-26T08:30:00+08:00", s)
		}
		return t, nil
	case TimeUnix, TimeUnixMS:
		f, ok := decimal.Parse(s)
		if !ok || math.Abs(f) > 1e15 {
			unit := "milliseconds"
			if format == TimeUnix {
				unit = "seconds"
			}
			return time.Time{}, fmt.Errorf("%q is not a number of %s since 1970", s, unit)
		}
		if format == TimeUnix {
			return time.UnixMilli(int64(math.Round(f * 1000))), nil
		}
		return time.UnixMilli(int64(math.Round(f))), nil
	}
	t, err := time.ParseInLocation(format, s, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a time like %q", s, format)
	}
	return t, nil
}
