package connector

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// chars reads character data up to the next '<'.
func (w *XMLWalker) chars() error {
	start := w.pos
	end := bytes.IndexByte(w.src[w.pos:], '<')
	if end < 0 {
		end = len(w.src) - w.pos
	}
	w.pos += end
	if !w.root {
		if t := bytes.TrimLeft(w.src[start:w.pos], " \t\r\n"); len(t) > 0 {
			// encoding/xml reads past it; a source's payload never has any, and
			// JSON or plain text where XML was expected is better named so.
			return w.syntax(w.pos-len(t), "text before the root element")
		}
	}
	if i := bytes.Index(w.src[start:w.pos], []byte("]]>")); i >= 0 {
		// XML reserves "]]>" for the end of a CDATA section.
		return w.syntax(start+i, "\"]]>\" outside a CDATA section; escape '>' as &gt;")
	}
	var err error
	w.text, err = w.decode(w.text, w.src[start:w.pos], start)
	return err
}

// decode appends raw character data to dst with its entities replaced,
// checking that every character is one XML allows. at is raw's offset.
func (w *XMLWalker) decode(dst, raw []byte, at int) ([]byte, error) {
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '&':
			semi := bytes.IndexByte(raw[i:], ';')
			if semi < 0 {
				if at+len(raw) == len(w.src) {
					return dst, w.truncated()
				}
				return dst, w.syntax(at+i, "invalid character entity (no semicolon)")
			}
			r, ok := entity(raw[i+1 : i+semi])
			if !ok {
				return dst, w.syntax(at+i, fmt.Sprintf("invalid character entity %s", shortBytes(raw[i:i+semi+1])))
			}
			dst = utf8.AppendRune(dst, r)
			i += semi + 1
		case c < utf8.RuneSelf:
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return dst, w.syntax(at+i, fmt.Sprintf("illegal character code %U", rune(c)))
			}
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				if at+len(raw) == len(w.src) && !utf8.FullRune(raw[i:]) {
					return dst, w.truncated()
				}
				return dst, w.syntax(at+i, "invalid UTF-8")
			}
			if !xmlChar(r) {
				return dst, w.syntax(at+i, fmt.Sprintf("illegal character code %U", r))
			}
			dst = append(dst, raw[i:i+size]...)
			i += size
		}
	}
	return dst, nil
}

// entity resolves the name of an entity reference (between & and ;).
func entity(name []byte) (rune, bool) {
	switch string(name) {
	case "lt":
		return '<', true
	case "gt":
		return '>', true
	case "amp":
		return '&', true
	case "apos":
		return '\'', true
	case "quot":
		return '"', true
	}
	if len(name) < 2 || name[0] != '#' {
		return 0, false
	}
	digits, base := name[1:], 10
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if len(digits) == 0 || len(digits) > 8 {
		return 0, false
	}
	var v rune
	for _, c := range digits {
		var d rune
		switch {
		case c >= '0' && c <= '9':
			d = rune(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = rune(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = rune(c-'A') + 10
		default:
			return 0, false
		}
		v = v*rune(base) + d
	}
	return v, xmlChar(v)
}

// xmlChar reports whether r may appear in an XML document.
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

func (w *XMLWalker) cdata() error {
	start := w.pos + len("<![CDATA[")
	end := bytes.Index(w.src[start:], []byte("]]>"))
	if end < 0 {
		return w.truncated()
	}
	var err error
	w.text, err = w.checkChars(w.text, w.src[start:start+end], start)
	w.pos = start + end + 3
	return err
}

// checkChars appends raw to dst as is (CDATA: no entities), checking its
// characters.
func (w *XMLWalker) checkChars(dst, raw []byte, at int) ([]byte, error) {
	for i := 0; i < len(raw); {
		r, size := utf8.DecodeRune(raw[i:])
		if (r == utf8.RuneError && size == 1) || !xmlChar(r) {
			return dst, w.syntax(at+i, "illegal character in CDATA section")
		}
		i += size
	}
	return append(dst, raw...), nil
}
