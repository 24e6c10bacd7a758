// Package decimal reads decimal numbers as sources and specs write them. It
// is the one number reader behind connector.Number and the catalog's
// mapping values (catalog.ParseValue), which cannot import each other's.
package decimal

import (
	"math"
	"strconv"
)

// Parse reads a decimal number ("66", "-1", "26.8", "1e3", "+5"), with no
// surrounding spaces. Unlike strconv.ParseFloat it refuses "NaN", "Inf",
// hexadecimal, underscores and numbers too large for a float64, which no
// source means. ok is false for anything else, the empty string included.
func Parse[S string | []byte](s S) (v float64, ok bool) {
	if len(s) == 0 {
		return 0, false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && c != '.' && c != '-' && c != '+' && c != 'e' && c != 'E' {
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(string(s), 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}
