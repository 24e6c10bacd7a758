package httppoll

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cityhighway/highway/connectors/connector"
	"github.com/cityhighway/highway/highway/catalog"
)

// maxDepth bounds the nesting of a JSON or XML payload.
const maxDepth = 256

// jnode is one JSON value with its members in payload order (a map would
// lose it) and its position in the payload.
type jnode struct {
	kind       valueKind // missing stands for null; object and list below
	obj, list  bool
	text       string // string or number as written, "true"/"false"
	keys       []string
	vals       []*jnode
	start, end int64
}

func (n *jnode) member(name string) *jnode {
	for i, k := range n.keys {
		if k == name {
			return n.vals[i]
		}
	}
	return nil
}

// describe names a node's JSON type for reasons.
func (n *jnode) describe() string {
	switch {
	case n == nil:
		return "missing"
	case n.obj:
		return "an object"
	case n.list:
		return "a list"
	case n.kind == text:
		return "a string"
	case n.kind == number:
		return "a number"
	case n.kind == boolean:
		return "a boolean"
	}
	return "null"
}

// parseJSON reads a JSON payload: the records path selects the items, the
// fields' paths their values.
func (p *Parser) parseJSON(payload []byte) (connector.Result, error) {
	var res connector.Result
	clean := withoutTrailingCommas(payload)
	dec := json.NewDecoder(bytes.NewReader(clean))
	dec.UseNumber()
	root, err := readJSON(dec, 0)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("data after the JSON document")
		}
	}
	if err != nil {
		return res, p.jsonError(clean, dec, err)
	}
	w := jsonWalk{p: p, payload: payload, res: &res, steps: p.spec.Records.Steps, root: root, chain: make([]*jnode, len(p.spec.Records.Steps))}
	if err := w.walk(root, 0, "", false); err != nil {
		return res, err
	}
	return res, nil
}

// readJSON reads one value and everything in it.
func readJSON(dec *json.Decoder, depth int) (*jnode, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxDepth)
	}
	start := dec.InputOffset()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	n := &jnode{start: start}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n.obj = true
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				name, ok := k.(string)
				if !ok {
					return nil, fmt.Errorf("an object member has no name")
				}
				v, err := readJSON(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, name)
				n.vals = append(n.vals, v)
			}
		case '[':
			n.list = true
			for dec.More() {
				v, err := readJSON(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.vals = append(n.vals, v)
			}
		default:
			return nil, fmt.Errorf("unexpected %s", t)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
	case string:
		n.kind, n.text = text, t
	case json.Number:
		n.kind, n.text = number, string(t)
	case bool:
		n.kind, n.text = boolean, strconv.FormatBool(t)
	case nil:
	}
	n.end = dec.InputOffset()
	return n, nil
}

// jsonError turns a decoding error into a *connector.PayloadError.
func (p *Parser) jsonError(payload []byte, dec *json.Decoder, err error) error {
	var syn *json.SyntaxError
	off := dec.InputOffset()
	switch {
	case len(payload) == 0:
		return connector.Malformed(p.spec.Name, "the payload is empty")
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &connector.PayloadError{Source: p.spec.Name, Offset: int64(len(payload)), Reason: "the JSON ends before its values are closed", Err: connector.ErrTruncated}
	case errors.As(err, &syn):
		off = syn.Offset
	}
	return &connector.PayloadError{Source: p.spec.Name, Offset: off, Reason: "not JSON: " + err.Error(), Err: connector.ErrMalformed}
}

// withoutTrailingCommas returns payload with every comma that stands
// before a closing ] or } (white space between) replaced by a space, so
// offsets stay those of the payload. It copies only when there is one.
func withoutTrailingCommas(payload []byte) []byte {
	out, copied := payload, false
	inString, escaped := false, false
	for i, c := range payload {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ',':
			j := i + 1
			for j < len(payload) && (payload[j] == ' ' || payload[j] == '\t' || payload[j] == '\r' || payload[j] == '\n') {
				j++
			}
			if j < len(payload) && (payload[j] == ']' || payload[j] == '}') {
				if !copied {
					out, copied = bytes.Clone(payload), true
				}
				out[i] = ' '
			}
		}
	}
	return out
}

// jsonWalk follows the records path through a document.
type jsonWalk struct {
	p       *Parser
	payload []byte
	res     *connector.Result
	o       connector.Object
	steps   []catalog.PathStep
	root    *jnode
	// chain[i] is the value the records path reached after step i, for the
	// record being read.
	chain []*jnode
}

// walk applies step i to n. Before the first step that selects many, a
// path that leads nowhere is an error of the payload; inside an item, it
// is a reject of that item.
func (w *jsonWalk) walk(n *jnode, i int, where string, inside bool) error {
	if i == len(w.steps) {
		raw := w.payload[w.startOf(n):n.end]
		w.p.build(w.res, &w.o, where, raw, func(m *catalog.Mapping) (value, string) { return w.resolve(n, m.Path) })
		return nil
	}
	// fail reports that n, reached at where, is not what step i needs.
	fail := func(format string, args ...any) error {
		reason := fmt.Sprintf(format, args...)
		if !inside {
			at := where
			if at == "" {
				at = "the root"
			}
			return &connector.PayloadError{Source: w.p.spec.Name, Offset: w.startOf(n), Where: "records path " + w.p.spec.Records.Text, Reason: at + " " + reason, Err: connector.ErrMalformed}
		}
		w.res.Reject(w.p.feed.Name, where, reason, w.payload[w.startOf(n):n.end])
		return nil
	}
	st := w.steps[i]
	switch st.Kind {
	case catalog.StepName:
		if !n.obj {
			return fail("is %s, not an object with member %q", n.describe(), st.Name)
		}
		next := n.member(st.Name)
		if next == nil {
			return fail("has no member %q", st.Name)
		}
		w.chain[i] = next
		return w.walk(next, i+1, join(where, st.Name), inside)
	case catalog.StepIndex:
		if !n.list {
			return fail("is %s, not a list", n.describe())
		}
		if st.Index >= len(n.vals) {
			return fail("has %d items, no item %d", len(n.vals), st.Index)
		}
		w.chain[i] = n.vals[st.Index]
		return w.walk(n.vals[st.Index], i+1, fmt.Sprintf("%s[%d]", where, st.Index), inside)
	case catalog.StepEach:
		if n.kind == missing && !n.obj && !n.list {
			return nil // null: no items ("data": null as []).
		}
		if !n.list {
			return fail("is %s, not a list", n.describe())
		}
		for j, item := range n.vals {
			w.chain[i] = item
			if err := w.walk(item, i+1, fmt.Sprintf("%s[%d]", where, j), true); err != nil {
				return err
			}
		}
	case catalog.StepMembers:
		if n.kind == missing && !n.obj && !n.list {
			return nil
		}
		if !n.obj {
			return fail("is %s, not an object", n.describe())
		}
		for j, item := range n.vals {
			w.chain[i] = item
			if err := w.walk(item, i+1, join(where, n.keys[j]), true); err != nil {
				return err
			}
		}
	}
	return nil
}

// startOf is the offset of n's first byte: the decoder's offset before a
// value is just after the previous token, separators included.
func (w *jsonWalk) startOf(n *jnode) int64 {
	i := n.start
	for i < n.end && strings.IndexByte(" \t\r\n,:", w.payload[i]) >= 0 {
		i++
	}
	return i
}

func join(where, name string) string {
	if where == "" {
		return name
	}
	return where + "." + name
}

// resolve finds the value of a field's path for the record rec: relative to
// it, or from the root through the record's own enclosing items.
func (w *jsonWalk) resolve(rec *jnode, path catalog.Path) (value, string) {
	cur, steps := rec, path.Steps
	if path.Root {
		cur = w.root
		i := 0
		for i < len(steps) && i < len(w.steps) && steps[i] == w.steps[i] {
			cur = w.chain[i]
			i++
		}
		steps = steps[i:]
	}
	for _, st := range steps {
		switch {
		case cur == nil || (cur.kind == missing && !cur.obj && !cur.list):
			return value{}, ""
		case st.Kind == catalog.StepName && cur.obj:
			cur = cur.member(st.Name)
		case st.Kind == catalog.StepIndex && cur.list:
			if st.Index >= len(cur.vals) {
				return value{}, ""
			}
			cur = cur.vals[st.Index]
		default:
			return value{}, fmt.Sprintf("the path leads through %s", cur.describe())
		}
	}
	switch {
	case cur == nil:
		return value{}, ""
	case cur.obj || cur.list:
		return value{}, fmt.Sprintf("%s, not a value", cur.describe())
	}
	return value{text: cur.text, kind: cur.kind}, ""
}
