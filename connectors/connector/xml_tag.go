package connector

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

func (w *XMLWalker) startTag() (XMLEvent, error) {
	start := w.pos
	w.pos++ // '<'
	name, err := w.name()
	if err != nil {
		return XMLEvent{}, err
	}
	if err := w.attributes(); err != nil {
		return XMLEvent{}, err
	}
	// attributes stops at '>' or "/>".
	if w.src[w.pos] == '/' {
		if w.pos+1 >= len(w.src) {
			return XMLEvent{}, w.truncated()
		}
		if w.src[w.pos+1] != '>' {
			return XMLEvent{}, w.syntax(w.pos, "expected '>' after '/' in an element")
		}
		w.pos += 2
		w.selfEnd = true
	} else {
		w.pos++
	}
	w.last = w.pos
	w.root = true
	w.path = append(w.path, name)
	w.starts = append(w.starts, int64(start))
	return XMLEvent{Name: name, Depth: len(w.path), Start: int64(start)}, nil
}

func (w *XMLWalker) endTag() (XMLEvent, error) {
	at := w.pos
	w.pos += 2 // "</"
	name, err := w.name()
	if err != nil {
		return XMLEvent{}, err
	}
	w.space()
	if w.pos >= len(w.src) {
		return XMLEvent{}, w.truncated()
	}
	if w.src[w.pos] != '>' {
		return XMLEvent{}, w.syntax(w.pos, fmt.Sprintf("invalid characters between </%s and >", name))
	}
	w.pos++
	if len(w.path) == 0 {
		return XMLEvent{}, w.syntax(at, fmt.Sprintf("unexpected end element </%s>", name))
	}
	if open := w.path[len(w.path)-1]; open != name {
		return XMLEvent{}, w.syntax(at, fmt.Sprintf("element <%s> closed by </%s>", open, name))
	}
	w.last = w.pos
	return w.end(), nil
}

// name reads an element name at w.pos and returns its local part, interned.
func (w *XMLWalker) name() (string, error) {
	start := w.pos
	for w.pos < len(w.src) {
		c := w.src[w.pos]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '>' || c == '/' || c == '=' || c == '<' {
			break
		}
		w.pos++
	}
	if w.pos >= len(w.src) {
		return "", w.truncated()
	}
	raw := w.src[start:w.pos]
	if local, ok := w.names[string(raw)]; ok {
		return local, nil // checked when first seen
	}
	if !isName(raw) {
		return "", w.syntax(start, fmt.Sprintf("invalid XML name %q", shortBytes(raw)))
	}
	local := raw
	if i := bytes.IndexByte(raw, ':'); i > 0 && i < len(raw)-1 {
		local = raw[i+1:]
	}
	w.names[string(raw)] = string(local)
	return w.names[string(raw)], nil
}

// isName reports whether b is an XML name: a letter, '_' or ':' first, then
// letters, digits and ".-_:", and the other name characters of XML 1.0
// beyond ASCII.
func isName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return false
		}
		ok := r == '_' || r == ':' || unicode.IsLetter(r)
		if i > 0 {
			ok = ok || r == '.' || r == '-' || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r) || unicode.Is(unicode.Lm, r) || unicode.Is(unicode.Nd, r) || r == 0xB7
		}
		if !ok {
			return false
		}
		i += size
	}
	return true
}

func (w *XMLWalker) space() {
	for w.pos < len(w.src) {
		switch w.src[w.pos] {
		case ' ', '\t', '\n', '\r':
			w.pos++
		default:
			return
		}
	}
}

// attributes reads past the attributes of a start tag, leaving w.pos at
// its '>' or '/'.
func (w *XMLWalker) attributes() error {
	for {
		before := w.pos
		w.space()
		if w.pos >= len(w.src) {
			return w.truncated()
		}
		switch w.src[w.pos] {
		case '>', '/':
			return nil
		}
		if w.pos == before {
			return w.syntax(w.pos, "expected space, '>' or '/>' after the element name")
		}
		start := w.pos
		for w.pos < len(w.src) && strings.IndexByte(" \t\r\n=>/<", w.src[w.pos]) < 0 {
			w.pos++
		}
		if w.pos >= len(w.src) {
			return w.truncated()
		}
		if !isName(w.src[start:w.pos]) {
			return w.syntax(start, fmt.Sprintf("invalid attribute name %q", shortBytes(w.src[start:w.pos])))
		}
		w.space()
		if w.pos >= len(w.src) {
			return w.truncated()
		}
		if w.src[w.pos] != '=' {
			return w.syntax(w.pos, "attribute without a value")
		}
		w.pos++
		w.space()
		if w.pos >= len(w.src) {
			return w.truncated()
		}
		q := w.src[w.pos]
		if q != '"' && q != '\'' {
			return w.syntax(w.pos, "unquoted attribute value")
		}
		w.pos++
		end := bytes.IndexByte(w.src[w.pos:], q)
		if end < 0 {
			return w.truncated()
		}
		val := w.src[w.pos : w.pos+end]
		if i := bytes.IndexByte(val, '<'); i >= 0 {
			return w.syntax(w.pos+i, "unescaped < inside quoted string")
		}
		if _, err := w.decode(nil, val, w.pos); err != nil {
			return err
		}
		w.pos += end + 1
	}
}

// isNameByte reports whether an ASCII byte may appear in an XML name.
func isNameByte(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == ':' || c == '.' || c == '-'
}
