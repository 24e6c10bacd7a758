// Package jsonstr appends strings as JSON string literals without going
// through reflection. It is the one JSON string escaper of the module: the
// connectors' record builder and the store's result writers both use it.
package jsonstr

import "unicode/utf8"

// Append appends s to b as a JSON string literal, escaped only where JSON
// requires: quotes, backslashes and control bytes. Invalid UTF-8 becomes
// U+FFFD, so the output is always valid JSON and valid UTF-8. Connectors use
// it for record values, which are read by programs, never by a browser.
func Append[S string | []byte](b []byte, s S) []byte {
	return appendString(b, s, &plainSafe, false)
}

// AppendHTMLSafe is Append that also escapes <, > and & (as \u003c, \u003e,
// \u0026) and U+2028 and U+2029, as encoding/json does, so that the output
// can stand inside HTML or JavaScript. The store's JSON results use it.
func AppendHTMLSafe[S string | []byte](b []byte, s S) []byte {
	return appendString(b, s, &htmlSafe, true)
}

const hexDigits = "0123456789abcdef"

// appendString writes s, copying runs of bytes marked in safe as they are;
// lineSeps asks for U+2028 and U+2029 to be escaped too.
func appendString[S string | []byte](b []byte, s S, safe *[utf8.RuneSelf]bool, lineSeps bool) []byte {
	b = append(b, '"')
	start := 0 // s[start:i] is still to be copied
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		var r rune
		var size int
		switch v := any(s[i:]).(type) {
		case string:
			r, size = utf8.DecodeRuneInString(v)
		case []byte:
			r, size = utf8.DecodeRune(v)
		}
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if lineSeps && (r == '\u2028' || r == '\u2029') {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// plainSafe marks the ASCII bytes a JSON string carries as they are: all but
// quotes, backslashes and controls.
var plainSafe = safeTable("")

// htmlSafe is plainSafe without <, > and &, which HTML would read.
var htmlSafe = safeTable("<>&")

func safeTable(also string) (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	for i := range len(also) {
		t[also[i]] = false
	}
	return t
}
