package connector

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

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
// The walker is frozen: it is kept for the sources that use it (td, epd),
// held to encoding/xml by FuzzXMLWalker in make test, and gets no new
// features. Its speed barely matters (BenchmarkXMLDetectorFile: a fraction
// of a percent of a core for TD's largest file once a minute, see
// docs/BENCHMARKS.md); a source that needs more of XML than it reads
// (namespaces told apart, attributes, mixed content) uses encoding/xml.
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
