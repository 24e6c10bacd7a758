package connector

import (
	"strconv"

	"github.com/cityhighway/highway/internal/decimal"
)

// Number reads a decimal number as the sources write it ("66", "-1",
// "26.8", "1e3"), surrounding spaces excluded, as decimal.Parse does: unlike
// strconv.ParseFloat it refuses "NaN", "Inf", hexadecimal and underscores,
// which no source means. It also refuses anything over 64 bytes.
func Number(s []byte) (float64, bool) {
	if len(s) > 64 {
		return 0, false
	}
	return decimal.Parse(s)
}

// Whole reads a whole number written in decimal ("3", "-1", "12.0" is not).
func Whole(s []byte) (int64, bool) {
	if len(s) == 0 || len(s) > 19 {
		return 0, false
	}
	v, err := strconv.ParseInt(string(s), 10, 64)
	return v, err == nil
}
