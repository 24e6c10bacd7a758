package record

import "strconv"

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// parseFloat reads a JSON number (one that follows JSON's grammar) as
// strconv.ParseFloat does. The common case, at most 15 digits and no
// exponent, is computed here: the digits as an integer and the power of
// ten are exact float64 values, so one division rounds correctly (the fast
// path strconv takes too, after a slower general scan).
func parseFloat(b []byte) (float64, bool) {
	if f, ok := simpleFloat(b); ok {
		return f, true
	}
	v, err := strconv.ParseFloat(string(b), 64)
	return v, err == nil
}

func simpleFloat(b []byte) (float64, bool) {
	i, neg := 0, false
	if len(b) > 0 && b[0] == '-' {
		i, neg = 1, true
	}
	var mant uint64
	digits, frac, dot := 0, 0, false
	for ; i < len(b); i++ {
		switch c := b[i]; {
		case c >= '0' && c <= '9':
			mant = mant*10 + uint64(c-'0')
			digits++
			if dot {
				frac++
			}
		case c == '.' && !dot:
			dot = true
		default:
			return 0, false
		}
	}
	if digits == 0 || digits > 15 {
		return 0, false
	}
	f := float64(mant) / pow10[frac]
	if neg {
		f = -f
	}
	return f, true
}

// parseInt reads a JSON number as a whole number: digits as int64, or a
// number with a fraction or exponent whose value is whole and within ±2^53.
func parseInt(b []byte) (int64, bool) {
	if len(b) > 0 && len(b) <= 18 {
		i, neg := 0, false
		if b[0] == '-' {
			i, neg = 1, true
		}
		var v int64
		simple := i < len(b)
		for ; i < len(b) && simple; i++ {
			c := b[i]
			simple = c >= '0' && c <= '9'
			v = v*10 + int64(c-'0')
		}
		if simple {
			if neg {
				v = -v
			}
			return v, true
		}
	}
	if v, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		return v, true
	}
	f, ok := parseFloat(b)
	if !ok || f != float64(int64(f)) || f > 1<<53 || f < -(1<<53) {
		return 0, false
	}
	return int64(f), true
}
