package httppoll

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/cityhighway/highway/connectors/connector"
	"github.com/cityhighway/highway/highway/catalog"
)

// xnode is one XML element: local name, attributes, child elements and the
// character data directly inside it.
type xnode struct {
	name       string
	attrs      []xml.Attr
	kids       []*xnode
	text       strings.Builder
	start, end int64
}

func (n *xnode) child(name string) *xnode {
	for _, k := range n.kids {
		if name == "" || k.name == name {
			return k
		}
	}
	return nil
}

// parseXML reads an XML payload: the records path selects the elements,
// the fields' paths their values.
func (p *Parser) parseXML(payload []byte) (connector.Result, error) {
	var res connector.Result
	root, err := readXML(payload)
	if err != nil {
		var pe *connector.PayloadError
		if errors.As(err, &pe) {
			pe.Source = p.spec.Name
		}
		return res, err
	}
	steps := p.spec.Records.Steps
	if first := steps[0]; first.Kind == catalog.StepName && first.Name != root.name {
		return res, &connector.PayloadError{Source: p.spec.Name, Offset: root.start, Reason: fmt.Sprintf("the root element is <%s>, not <%s> as the records path %q says", root.name, first.Name, p.spec.Records.Text), Err: connector.ErrMalformed}
	}
	w := xmlWalk{p: p, payload: payload, res: &res, steps: steps, root: root, chain: make([]*xnode, len(steps))}
	w.chain[0] = root
	w.walk(root, 1, root.name)
	return res, nil
}

// readXML builds the element tree of a payload.
func readXML(payload []byte) (*xnode, error) {
	dec := xml.NewDecoder(bytes.NewReader(payload))
	dec.Strict = true
	var (
		stack []*xnode
		root  *xnode
	)
	fail := func(err error) error {
		off := dec.InputOffset()
		var syn *xml.SyntaxError
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || (errors.As(err, &syn) && syn.Msg == "unexpected EOF") {
			if root == nil {
				return &connector.PayloadError{Offset: -1, Reason: "no XML element in the payload", Err: connector.ErrMalformed}
			}
			return &connector.PayloadError{Offset: int64(len(payload)), Reason: "the document ends before its elements are closed", Err: connector.ErrTruncated}
		}
		return &connector.PayloadError{Offset: off, Reason: "not well-formed XML: " + strings.TrimPrefix(err.Error(), "XML syntax error on "), Err: connector.ErrMalformed}
	}
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil, fail(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, &connector.PayloadError{Offset: start, Reason: "a second root element", Err: connector.ErrMalformed}
			}
			if len(stack) >= maxDepth {
				return nil, &connector.PayloadError{Offset: start, Reason: fmt.Sprintf("elements nested deeper than %d", maxDepth), Err: connector.ErrMalformed}
			}
			n := &xnode{name: t.Name.Local, attrs: t.Attr, start: start}
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				parent.kids = append(parent.kids, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			n := stack[len(stack)-1]
			n.end = dec.InputOffset()
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return root, nil // what follows the root is not read
			}
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, &connector.PayloadError{Offset: start, Reason: "text outside the root element; is this XML?", Err: connector.ErrMalformed}
			}
		}
	}
}

// xmlWalk follows the records path through an element tree.
type xmlWalk struct {
	p       *Parser
	payload []byte
	res     *connector.Result
	o       connector.Object
	steps   []catalog.PathStep
	root    *xnode
	chain   []*xnode
}

// walk selects, under n, the elements of step i.
func (w *xmlWalk) walk(n *xnode, i int, where string) {
	if i == len(w.steps) {
		w.p.build(w.res, &w.o, where, w.payload[n.start:n.end], func(m *catalog.Mapping) (value, string) { return w.resolve(n, m.Path) })
		return
	}
	st := w.steps[i]
	counts := map[string]int{}
	for _, k := range n.kids {
		if st.Kind == catalog.StepName && k.name != st.Name {
			continue
		}
		counts[k.name]++
		w.chain[i] = k
		w.walk(k, i+1, fmt.Sprintf("%s/%s[%d]", where, k.name, counts[k.name]))
	}
}

// resolve finds the value of a field's path for the record element rec:
// relative to it, or from the root through its own enclosing elements.
func (w *xmlWalk) resolve(rec *xnode, path catalog.Path) (value, string) {
	cur, steps := rec, path.Steps
	if path.Root {
		if len(steps) == 0 || (steps[0].Kind == catalog.StepName && steps[0].Name != w.root.name) {
			return value{}, ""
		}
		cur = w.root
		i := 1
		for i < len(steps) && i < len(w.steps) && steps[i] == w.steps[i] {
			cur = w.chain[i]
			i++
		}
		steps = steps[i:]
	}
	for _, st := range steps {
		switch st.Kind {
		case catalog.StepAttr:
			for _, a := range cur.attrs {
				if a.Name.Local == st.Name {
					return value{text: a.Value, kind: text}, ""
				}
			}
			return value{}, ""
		case catalog.StepName:
			cur = cur.child(st.Name)
		default:
			cur = cur.child("")
		}
		if cur == nil {
			return value{}, ""
		}
	}
	s := cur.text.String()
	if len(cur.kids) > 0 && strings.TrimSpace(s) == "" {
		return value{}, fmt.Sprintf("<%s> holds elements, not a value", cur.name)
	}
	return value{text: s, kind: text}, ""
}
