package connector

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

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

// directive skips <!DOCTYPE ...> and the like as encoding/xml does: to
// the first '>' outside quotes that closes every '<' opened inside it
// (the declarations of an internal subset), with comments inside skipped.
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
		case '<':
			if !bytes.HasPrefix(w.src[i:], []byte("<!--")) {
				depth++
				continue
			}
			start := w.pos
			w.pos = i
			if err := w.comment(); err != nil {
				return err
			}
			i, w.pos = w.pos-1, start
		case '>':
			if depth == 0 {
				w.pos = i + 1
				return nil
			}
			depth--
		}
	}
	return w.truncated()
}

func isASCIILetter(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }
