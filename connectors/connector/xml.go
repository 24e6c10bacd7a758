package connector

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// TrimPayload strips what some sources put before the document: a UTF-8
// byte-order mark and leading white space (EPD's AQHI RSS has both).
func TrimPayload(p []byte) []byte {
	for {
		switch {
		case bytes.HasPrefix(p, []byte("\xef\xbb\xbf")):
			p = p[3:]
		case len(p) > 0 && (p[0] == ' ' || p[0] == '\t' || p[0] == '\r' || p[0] == '\n'):
			p = p[1:]
		default:
			return p
		}
	}
}

// XMLEvent is one step of an XMLWalker: an element starts or ends.
type XMLEvent struct {
	// End is false when the element starts, true when it ends.
	End bool
	// Name is the element's local name (after any prefix): the sources use
	// one default namespace at most, so namespaces are not told apart.
	Name string
	// Depth is the element's depth: 1 for the root.
	Depth int
	// Text is the element's character data (entities decoded, CDATA
	// included), trimmed of surrounding white space, when End is true; it is
	// only meaningful for leaf elements, and valid until the next call to Next.
	Text []byte
	// Start is the byte offset of the element's '<'.
	Start int64
}

// XMLWalker reads an XML payload element by element. It is a small strict
// scanner written for the sources' documents (UTF-8, a handful of elements
// without mixed content) rather than encoding/xml, which costs about fifty
// allocations per detector lane; a differential fuzz test holds the two to
// the same events. It checks that the document is well formed as far as the
// events need: names, nesting, attribute syntax, entities (the five of XML
// and character references), comments, CDATA and UTF-8. Attributes are
// read past, not returned; a DOCTYPE is skipped. It stops at the end of the
// root element and ignores anything after it.
//
// An XMLWalker is not safe for concurrent use.
type XMLWalker struct {
	// Source names the payload in errors, e.g. "rawSpeedVol-all.xml".
	Source  string
	src     []byte
	pos     int
	last    int // offset just after the last event
	path    []string
	starts  []int64
	text    []byte
	names   map[string]string // element names, so each is allocated once
	root    bool              // the root element has started
	done    bool              // the root element has ended
	selfEnd bool              // the last start was <a/>: its end comes next
	err     error
}

// NewXMLWalker returns a walker over src after TrimPayload.
func NewXMLWalker(source string, src []byte) *XMLWalker {
	return &XMLWalker{Source: source, src: TrimPayload(src), names: map[string]string{}}
}

// Offset is the byte offset just after the last event.
func (w *XMLWalker) Offset() int64 { return int64(w.last) }

// Path is the local names of the open elements joined with "/", for messages.
func (w *XMLWalker) Path() string { return strings.Join(w.path, "/") }

// Raw returns the bytes of the element whose end was the last event.
func (w *XMLWalker) Raw(ev XMLEvent) []byte {
	if ev.Start < 0 || int(ev.Start) > w.last {
		return nil
	}
	return w.src[ev.Start:w.last]
}

// Next returns the next start or end of an element. After the root
// element's end it returns io.EOF. A payload that stops with elements still
// open, or inside a tag, yields a *PayloadError wrapping ErrTruncated; any
// other problem one wrapping ErrMalformed. Both say at which byte, line and
// column, and inside which elements, the reading stopped. Once it has
// returned an error, Next returns the same error.
func (w *XMLWalker) Next() (XMLEvent, error) {
	if w.err != nil {
		return XMLEvent{}, w.err
	}
	ev, err := w.next()
	if err != nil {
		w.err = err
	}
	return ev, err
}

func (w *XMLWalker) next() (XMLEvent, error) {
	if w.selfEnd {
		w.selfEnd = false
		w.text = w.text[:0]
		return w.end(), nil
	}
	if w.done {
		return XMLEvent{}, io.EOF
	}
	w.text = w.text[:0]
	for {
		if w.pos >= len(w.src) {
			if !w.root {
				return XMLEvent{}, w.fail(w.pos, ErrMalformed, "no XML element in the payload")
			}
			return XMLEvent{}, w.truncated()
		}
		if w.src[w.pos] != '<' {
			if err := w.chars(); err != nil {
				return XMLEvent{}, err
			}
			continue
		}
		rest := w.src[w.pos:]
		switch {
		case bytes.HasPrefix(rest, []byte("<?")):
			if err := w.procInst(); err != nil {
				return XMLEvent{}, err
			}
		case bytes.HasPrefix(rest, []byte("<!--")):
			if err := w.comment(); err != nil {
				return XMLEvent{}, err
			}
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			if err := w.cdata(); err != nil {
				return XMLEvent{}, err
			}
		case bytes.HasPrefix(rest, []byte("<!")):
			if err := w.directive(); err != nil {
				return XMLEvent{}, err
			}
		case bytes.HasPrefix(rest, []byte("</")):
			return w.endTag()
		default:
			return w.startTag()
		}
	}
}

// end pops the innermost element and returns its end event.
func (w *XMLWalker) end() XMLEvent {
	depth := len(w.path)
	ev := XMLEvent{End: true, Name: w.path[depth-1], Depth: depth, Text: bytes.TrimSpace(w.text), Start: w.starts[depth-1]}
	w.path = w.path[:depth-1]
	w.starts = w.starts[:depth-1]
	if depth == 1 {
		w.done = true
	}
	return ev
}

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

func (w *XMLWalker) procInst() error {
	start := w.pos
	end := bytes.Index(w.src[w.pos+2:], []byte("?>"))
	if end < 0 {
		return w.truncated()
	}
	body := w.src[w.pos+2 : w.pos+2+end]
	w.pos += 2 + end + 2
	// The target is the name at the start of the body.
	n := 0
	for n < len(body) && (body[n] >= utf8.RuneSelf || isNameByte(body[n])) {
		n++
	}
	target := body[:n]
	if !isName(target) {
		return w.syntax(start+2, "expected target name after <?")
	}
	if string(target) != "xml" {
		return nil
	}
	if start != 0 {
		return w.syntax(start, "the XML declaration is not at the start of the payload")
	}
	if v, ok := declParam(body[n:], "version"); ok && v != "1.0" {
		return w.fail(start, ErrMalformed, fmt.Sprintf("XML version %q is not supported; only 1.0 is", v))
	}
	// Only UTF-8 is read, as encoding/xml without a CharsetReader does.
	if enc, ok := declParam(body[n:], "encoding"); ok && enc != "" && !strings.EqualFold(enc, "utf-8") {
		return w.fail(start, ErrMalformed, fmt.Sprintf("the document is in %s; only UTF-8 is read", enc))
	}
	return nil
}

// isNameByte reports whether an ASCII byte may appear in an XML name.
func isNameByte(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == ':' || c == '.' || c == '-'
}

// declParam finds name="value" (or 'value') in the body of an XML
// declaration.
func declParam(body []byte, name string) (string, bool) {
	key := []byte(name + "=")
	for {
		i := bytes.Index(body, key)
		if i < 0 || i+len(key) >= len(body) {
			return "", false
		}
		body = body[i+len(key):]
		if q := body[0]; q == '"' || q == '\'' {
			j := bytes.IndexByte(body[1:], q)
			if j < 0 {
				return "", false
			}
			return string(body[1 : 1+j]), true
		}
	}
}

func (w *XMLWalker) comment() error {
	end := bytes.Index(w.src[w.pos+4:], []byte("--"))
	if end < 0 {
		return w.truncated()
	}
	at := w.pos + 4 + end
	if at+2 >= len(w.src) {
		return w.truncated()
	}
	if w.src[at+2] != '>' {
		return w.syntax(at, `invalid sequence "--" not allowed in comments`)
	}
	w.pos = at + 3
	return nil
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

// directive skips <!DOCTYPE ...> and the like, with their quoted strings,
// comments and bracketed internal subsets.
func (w *XMLWalker) directive() error {
	// A declaration starts with its keyword (DOCTYPE, ENTITY, ...); "<!>"
	// or "<! x" is refused here, as encoding/xml refuses it further on.
	if k := w.pos + 2; k >= len(w.src) || !isASCIILetter(w.src[k]) {
		return w.syntax(w.pos, "\"<!\" must begin a comment, a CDATA section or a declaration such as <!DOCTYPE")
	}
	depth := 0
	for i := w.pos + 2; i < len(w.src); i++ {
		switch c := w.src[i]; c {
		case '"', '\'':
			j := bytes.IndexByte(w.src[i+1:], c)
			if j < 0 {
				return w.truncated()
			}
			i += j + 1
		case '[':
			depth++
		case ']':
			depth--
		case '>':
			if depth <= 0 {
				w.pos = i + 1
				return nil
			}
		}
	}
	return w.truncated()
}

func (w *XMLWalker) truncated() error {
	return w.fail(len(w.src), ErrTruncated, "the document ends before its elements are closed")
}

// fail builds the error for a problem at byte off.
func (w *XMLWalker) fail(off int, kind error, reason string) error {
	line := 1 + bytes.Count(w.src[:off], []byte("\n"))
	col := off - bytes.LastIndexByte(w.src[:off], '\n')
	where := fmt.Sprintf("line %d, column %d", line, col)
	if len(w.path) > 0 {
		where += ", inside <" + w.Path() + ">"
	}
	return &PayloadError{Source: w.Source, Offset: int64(off), Where: where, Reason: reason, Err: kind}
}

// syntax builds the error for a document that is not well formed at off.
func (w *XMLWalker) syntax(off int, reason string) error {
	return w.fail(off, ErrMalformed, "not well-formed XML: "+reason)
}

func shortBytes(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

// Root reads up to the root element and checks its name; it returns a
// *PayloadError wrapping ErrMalformed if the root is another element, so
// that an HTML error page or the wrong file is refused as a whole.
func (w *XMLWalker) Root(name string) error {
	ev, err := w.Next()
	if err != nil {
		return err
	}
	if ev.Name != name {
		w.err = &PayloadError{Source: w.Source, Offset: ev.Start, Reason: fmt.Sprintf("the root element is <%s>, not <%s>", ev.Name, name), Err: ErrMalformed}
		return w.err
	}
	return nil
}

func isASCIILetter(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }
