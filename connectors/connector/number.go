package connector

import (
	"math"
	"strconv"
)

// Number reads a decimal number as the sources write it ("66", "-1",
// "26.8", "1e3"), surrounding spaces excluded. Unlike strconv.ParseFloat it
// refuses "NaN", "Inf", hexadecimal and underscores, which no source means.
func Number(s []byte) (float64, bool) {
	if len(s) == 0 || len(s) > 64 {
		return 0, false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && c != '.' && c != '-' && c != '+' && c != 'e' && c != 'E' {
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(string(s), 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// Whole reads a whole number written in decimal ("3", "-1", "12.0" is not).
func Whole(s []byte) (int64, bool) {
	if len(s) == 0 || len(s) > 19 {
		return 0, false
	}
	v, err := strconv.ParseInt(string(s), 10, 64)
	return v, err == nil
}
