package record

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner reads JSON tokens from a byte slice.
type scanner struct {
	data []byte
	pos  int
}

func (p *scanner) peek() byte {
	if p.pos < len(p.data) {
		return p.data[p.pos]
	}
	return 0
}

func (p *scanner) eat(c byte) bool {
	if p.peek() == c && p.pos < len(p.data) {
		p.pos++
		return true
	}
	return false
}

func (p *scanner) skipSpace() {
	// Records are mostly written without spaces: one comparison decides.
	for p.pos < len(p.data) && p.data[p.pos] <= ' ' {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *scanner) literal(word string) bool {
	if bytes.HasPrefix(p.data[p.pos:], []byte(word)) {
		p.pos += len(word)
		return true
	}
	p.pos++
	return false
}

// numberParts are the digits of a JSON number, gathered while reading it,
// so that the common numbers need no second pass: mant holds all its digits
// (integer and fraction) as one integer while there are at most 19.
type numberParts struct {
	mant   uint64
	digits int // all digits, integer and fraction
	frac   int // digits after the point
	neg    bool
	exp    bool // an exponent follows
}

// float is the number as a float64 when it is simple (at most 15 digits,
// no exponent: both the digits and the power of ten are exact float64s, so
// one division rounds correctly, as strconv.ParseFloat's own fast path).
func (n *numberParts) float() (float64, bool) {
	if n.exp || n.digits > 15 {
		return 0, false
	}
	f := float64(n.mant) / pow10[n.frac]
	if n.neg {
		f = -f
	}
	return f, true
}

// int is the number as an int64 when it is written as one of at most 18
// digits.
func (n *numberParts) int() (int64, bool) {
	if n.exp || n.frac > 0 || n.digits > 18 {
		return 0, false
	}
	if n.neg {
		return -int64(n.mant), true
	}
	return int64(n.mant), true
}

// number reads a JSON number at p and says whether it follows JSON's
// grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?. On false the
// scanner has consumed the characters a number could be made of.
func (p *scanner) number(n *numberParts) ([]byte, bool) {
	start := p.pos
	ok := true
	*n = numberParts{neg: p.eat('-')}
	switch {
	case p.eat('0'):
		n.digits = 1
	case p.mantissa(n) == 0:
		ok = false
	}
	if p.eat('.') {
		k := p.mantissa(n)
		if k == 0 {
			ok = false
		}
		n.frac = k
	}
	if p.eat('e') || p.eat('E') {
		n.exp = true
		if !p.eat('+') {
			p.eat('-')
		}
		if p.digits() == 0 {
			ok = false
		}
	}
	// Whatever else could continue a number makes it a bad one.
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			break
		}
		p.pos++
		ok = false
	}
	return p.data[start:p.pos], ok
}

// mantissa reads a run of digits into n and returns its length.
func (p *scanner) mantissa(n *numberParts) int {
	// Locals, so the loop runs in registers rather than through p and n.
	data, pos, mant := p.data, p.pos, n.mant
	start := pos
	for pos < len(data) {
		c := data[pos] - '0'
		if c > 9 {
			break
		}
		mant = mant*10 + uint64(c)
		pos++
	}
	p.pos, n.mant = pos, mant
	n.digits += pos - start
	return pos - start
}

// digits skips a run of ASCII digits and returns its length.
func (p *scanner) digits() int {
	data, pos := p.data, p.pos
	for pos < len(data) && data[pos]-'0' <= 9 {
		pos++
	}
	n := pos - p.pos
	p.pos = pos
	return n
}

// stringClass sorts the bytes of a JSON string: 0 for plain ASCII, 1 for
// a byte that ends a plain run (quote, backslash, control character), 2 for
// a byte of a multi-byte UTF-8 sequence.
var stringClass = func() (t [256]uint8) {
	for c := range 0x20 {
		t[c] = 1
	}
	t['"'], t['\\'] = 1, 1
	for c := 0x80; c < 0x100; c++ {
		t[c] = 2
	}
	return t
}()

// plainASCII8 says whether the eight bytes packed in x (little-endian)
// are all plain ASCII string content: no quote, backslash, control
// character or byte >= 0x80. (Bit tricks: a byte b of x is below n when
// (b-n) borrows into its high bit while b's own high bit is clear.)
func plainASCII8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote := x ^ (ones * '"')
	slash := x ^ (ones * '\\')
	return ((quote-ones)&^quote|(slash-ones)&^slash|(x-ones*0x20)&^x|x)&highs == 0
}

// stringValue reads a JSON string at p (which must start with '"') and
// returns its content: a view of p's data when the string has no escapes,
// else its unescaped content appended to dst. It also returns dst (grown
// or not), and whether the content is all ASCII.
func (p *scanner) stringValue(dst []byte) (val, buf []byte, ascii bool, err error) {
	start := p.pos
	p.pos++ // the opening quote
	ascii = true
	escaped := false
	for {
		// The run up to the next quote, backslash or control character:
		// eight plain ASCII bytes at a time, then byte by byte (in locals,
		// so the loops run in registers).
		run := p.pos
		data, pos := p.data, p.pos
		for pos+8 <= len(data) && plainASCII8(binary.LittleEndian.Uint64(data[pos:])) {
			pos += 8
		}
		for pos < len(data) {
			k := stringClass[data[pos]]
			if k == 1 {
				break
			}
			if k != 0 {
				ascii = false
			}
			pos++
		}
		p.pos = pos
		if escaped {
			dst = append(dst, p.data[run:p.pos]...)
		}
		if p.pos >= len(p.data) {
			return dst, dst, ascii, &Reject{Offset: start, Reason: "string is not closed with '\"'"}
		}
		switch c := p.data[p.pos]; {
		case c == '"':
			p.pos++
			if !escaped {
				return p.data[start+1 : p.pos-1], dst, ascii, nil
			}
			return dst, dst, ascii, nil
		case c < 0x20:
			return dst, dst, ascii, &Reject{Offset: p.pos, Reason: "control character in a string; escape it"}
		}
		if !escaped {
			escaped = true
			dst = append(dst, p.data[start+1:p.pos]...)
		}
		// A backslash escape.
		if p.pos+1 >= len(p.data) {
			return dst, dst, ascii, &Reject{Offset: p.pos, Reason: "string is not closed with '\"'"}
		}
		esc := p.data[p.pos+1]
		p.pos += 2
		switch esc {
		case '"', '\\', '/':
			dst = append(dst, esc)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return dst, dst, ascii, &Reject{Offset: p.pos - 2, Reason: "bad \\u escape in a string"}
			}
			if utf16.IsSurrogate(r) {
				// A surrogate that does not pair with the next escape stands
				// for U+FFFD, and the next escape is read on its own.
				r2 := rune(-1)
				if p.pos+1 < len(p.data) && p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
					next := p.pos
					p.pos += 2
					r2, ok = p.hex4()
					if !ok {
						return dst, dst, ascii, &Reject{Offset: p.pos - 2, Reason: "bad \\u escape in a string"}
					}
					if utf16.DecodeRune(r, r2) == utf8.RuneError {
						p.pos = next
					}
				}
				r = utf16.DecodeRune(r, r2)
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, dst, ascii, &Reject{Offset: p.pos - 2, Reason: fmt.Sprintf("unknown escape \\%c in a string", esc)}
		}
	}
}

func (p *scanner) hex4() (rune, bool) {
	if p.pos+4 > len(p.data) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.data[p.pos:p.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.pos += 4
	return rune(v), true
}
