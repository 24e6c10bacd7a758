package record

import "strconv"

// pow10 are the powers of ten a float64 holds exactly (numberParts.float).
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// parseFloat reads a JSON number (one that follows JSON's grammar) as
// strconv.ParseFloat does. The decoder's common numbers never get here:
// numberParts.float converts them while they are scanned.
func parseFloat(b []byte) (float64, bool) {
	v, err := strconv.ParseFloat(string(b), 64)
	return v, err == nil
}

// parseInt reads a JSON number as a whole number: an int64 as written, or
// a number with a fraction or exponent whose value is whole and within
// ±2^53. (numberParts.int converts the common ones while they are scanned.)
func parseInt(b []byte) (int64, bool) {
	if v, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		return v, true
	}
	f, ok := parseFloat(b)
	if !ok || f != float64(int64(f)) || f > 1<<53 || f < -(1<<53) {
		return 0, false
	}
	return int64(f), true
}
