package connector

import (
	"fmt"
	"strings"
	"time"
)

// HKT is Hong Kong time: UTC+8 all year, no daylight saving since 1979.
// Sources that write local times without an offset are read in it.
var HKT = time.FixedZone("HKT", 8*3600)

// LocalTime reads value, written in layout without an offset, as Hong Kong
// time. Surrounding spaces are ignored.
func LocalTime(layout, value string) (time.Time, error) {
	t, err := time.ParseInLocation(layout, strings.TrimSpace(value), HKT)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a time like %q", value, layout)
	}
	return t, nil
}

// OffsetTime reads value, written in layout with an offset (RFC 3339,
// RFC 1123 with a numeric zone). Surrounding spaces are ignored.
func OffsetTime(layout, value string) (time.Time, error) {
	t, err := time.Parse(layout, strings.TrimSpace(value))
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a time like %q", value, layout)
	}
	return t, nil
}
