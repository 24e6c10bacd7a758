package connector

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
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
	// Name is the element's local name; namespaces are ignored, since the
	// sources use one default namespace at most.
	Name string
	// Depth is the element's depth: 1 for the root.
	Depth int
	// Text is the element's character data, trimmed of surrounding space,
	// when End is true (only meaningful for leaf elements). It is valid until
	// the next call to Next.
	Text []byte
	// Start is the byte offset where the element starts; with Offset, the
	// offset after the current event, src[Start:Offset] is the element when
	// End is true.
	Start int64
}

// XMLWalker reads an XML payload element by element with encoding/xml,
// keeping the path of open elements so that an error can say where it
// happened. It reads only elements and text: comments, processing
// instructions and directives are skipped; entities are those of XML
// (strict mode), and CDATA sections read as text. It stops at the end of the
// root element and ignores anything after it.
type XMLWalker struct {
	// Source names the payload in errors, e.g. "rawSpeedVol-all.xml".
	Source string
	src    []byte
	d      *xml.Decoder
	path   []string
	starts []int64
	text   []byte
	done   bool
}

// NewXMLWalker returns a walker over src after TrimPayload.
func NewXMLWalker(source string, src []byte) *XMLWalker {
	src = TrimPayload(src)
	return &XMLWalker{Source: source, src: src, d: xml.NewDecoder(bytes.NewReader(src))}
}

// Src is the payload being read (after TrimPayload).
func (w *XMLWalker) Src() []byte { return w.src }

// Offset is the byte offset just after the last event.
func (w *XMLWalker) Offset() int64 { return w.d.InputOffset() }

// Path is the local names of the open elements joined with "/", for messages.
func (w *XMLWalker) Path() string { return strings.Join(w.path, "/") }

// Raw returns the bytes of the element that just ended, for a Reject.
func (w *XMLWalker) Raw(ev XMLEvent) []byte {
	end := min(w.d.InputOffset(), int64(len(w.src)))
	if ev.Start < 0 || ev.Start > end {
		return nil
	}
	return w.src[ev.Start:end]
}

// Next returns the next start or end of an element. At the end of the root
// element's end it returns io.EOF. A payload that stops with elements still
// open yields a *PayloadError wrapping ErrTruncated; any other XML error one
// wrapping ErrMalformed. Both say at which byte, line and column, and inside
// which elements, the reading stopped.
func (w *XMLWalker) Next() (XMLEvent, error) {
	if w.done {
		return XMLEvent{}, io.EOF
	}
	for {
		before := w.d.InputOffset()
		tok, err := w.d.Token()
		if err != nil {
			return XMLEvent{}, w.fail(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			w.path = append(w.path, t.Name.Local)
			w.starts = append(w.starts, before)
			w.text = w.text[:0]
			return XMLEvent{Name: t.Name.Local, Depth: len(w.path), Start: before}, nil
		case xml.CharData:
			w.text = append(w.text, t...)
		case xml.EndElement:
			depth := len(w.path)
			ev := XMLEvent{End: true, Name: t.Name.Local, Depth: depth, Text: bytes.TrimSpace(w.text), Start: w.starts[depth-1]}
			w.path = w.path[:depth-1]
			w.starts = w.starts[:depth-1]
			w.text = w.text[:0]
			if depth == 1 {
				w.done = true
			}
			return ev, nil
		}
	}
}

// fail turns an error of encoding/xml into a *PayloadError.
func (w *XMLWalker) fail(err error) error {
	off := w.d.InputOffset()
	line, col := w.d.InputPos()
	where := fmt.Sprintf("line %d, column %d", line, col)
	if len(w.path) > 0 {
		where += ", inside <" + w.Path() + ">"
	}
	var syn *xml.SyntaxError
	switch {
	case err == io.EOF && len(w.path) == 0:
		return &PayloadError{Source: w.Source, Offset: off, Where: where, Reason: "no XML element in the payload", Err: ErrMalformed}
	case err == io.EOF, errors.Is(err, io.ErrUnexpectedEOF):
		return &PayloadError{Source: w.Source, Offset: off, Where: where, Reason: "the document ends before its elements are closed", Err: ErrTruncated}
	case errors.As(err, &syn) && syn.Msg == "unexpected EOF":
		return &PayloadError{Source: w.Source, Offset: off, Where: where, Reason: "the document ends before its elements are closed", Err: ErrTruncated}
	case errors.As(err, &syn):
		return &PayloadError{Source: w.Source, Offset: off, Where: where, Reason: "not well-formed XML: " + syn.Msg, Err: ErrMalformed}
	default:
		return &PayloadError{Source: w.Source, Offset: off, Where: where, Reason: "not XML: " + err.Error(), Err: ErrMalformed}
	}
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
		return &PayloadError{Source: w.Source, Offset: ev.Start, Reason: fmt.Sprintf("the root element is <%s>, not <%s>", ev.Name, name), Err: ErrMalformed}
	}
	return nil
}

// Skip reads past the end of the element that just started.
func (w *XMLWalker) Skip() error {
	depth := len(w.path)
	for {
		ev, err := w.Next()
		if err != nil {
			return err
		}
		if ev.End && ev.Depth == depth {
			return nil
		}
	}
}
