package catalog

import (
	"fmt"
	"strconv"
	"strings"
)

// Path is a parsed path into a JSON or XML document.
type Path struct {
	// Text is the path as written.
	Text string
	// Root is true for a path from the document's root ("$.a", "/a");
	// records paths always are.
	Root  bool
	Steps []PathStep
}

// PathStep is one step of a Path.
type PathStep struct {
	// Kind says what the step does.
	Kind StepKind
	// Name is the member (JSON), element or attribute (XML) name.
	Name string
	// Index is the list index of an Index step.
	Index int
}

// StepKind is what a path step selects.
type StepKind int

// The kinds of path steps.
const (
	// StepName selects a JSON member or, in XML, the child elements of that
	// name (each of them on a records path, the first in a field's path).
	StepName StepKind = iota
	// StepIndex selects one item of a JSON list: [3].
	StepIndex
	// StepEach selects every item of a JSON list: [].
	StepEach
	// StepMembers selects every member value of a JSON object, or every
	// child element in XML: *.
	StepMembers
	// StepAttr selects an XML attribute: @name (last step only).
	StepAttr
)

// Many reports whether a step selects more than one value on a records
// path.
func (s PathStep) Many(format string) bool {
	return s.Kind == StepEach || s.Kind == StepMembers || (format == "xml" && s.Kind == StepName)
}

// ParsePath parses a path of a JSON or XML document.
//
// JSON: member names separated by dots, "[3]" for an item of a list, "[]"
// for every item, "*" for every member of an object; "$" is the root, so
// "$.data[]" and "data[]" are the same records path. XML: element names
// separated by "/" (namespace prefixes are ignored), "*" for any element,
// "@name" last for an attribute; a leading "/" starts at the root element.
// Records paths (records true) always start at the root. A field's path
// is relative to its record unless it starts at the root.
func ParsePath(format, text string, records bool) (Path, error) {
	p := Path{Text: text, Root: records}
	s := strings.TrimSpace(text)
	if s == "" {
		return p, fmt.Errorf("the path is empty")
	}
	switch format {
	case FormatJSON:
		if rest, ok := strings.CutPrefix(s, "$"); ok {
			p.Root, s = true, strings.TrimPrefix(rest, ".")
		}
		if s == "" {
			return p, nil
		}
		for _, seg := range strings.Split(s, ".") {
			name, brackets, found := strings.Cut(seg, "[")
			if found {
				brackets = "[" + brackets
			}
			switch {
			case name == "*":
				p.Steps = append(p.Steps, PathStep{Kind: StepMembers})
			case name != "":
				if strings.ContainsAny(name, "]$") {
					return p, fmt.Errorf("%q: bad member name %q", text, name)
				}
				p.Steps = append(p.Steps, PathStep{Kind: StepName, Name: name})
			case brackets == "":
				return p, fmt.Errorf("%q has an empty step (two dots, or a dot at an end)", text)
			}
			for brackets != "" {
				end := strings.IndexByte(brackets, ']')
				if brackets[0] != '[' || end < 0 {
					return p, fmt.Errorf("%q: write list steps as [] or [N], as in data[0] or items[]", text)
				}
				inside := brackets[1:end]
				brackets = brackets[end+1:]
				if inside == "" {
					p.Steps = append(p.Steps, PathStep{Kind: StepEach})
					continue
				}
				n, err := strconv.Atoi(inside)
				if err != nil || n < 0 {
					return p, fmt.Errorf("%q: [%s] is not a list index; use [] for every item or [N] with N from 0", text, inside)
				}
				p.Steps = append(p.Steps, PathStep{Kind: StepIndex, Index: n})
			}
		}
	case FormatXML:
		if rest, ok := strings.CutPrefix(s, "/"); ok {
			p.Root, s = true, rest
		}
		if s == "." && !records {
			return p, nil // the record element's own text
		}
		segs := strings.Split(s, "/")
		for i, seg := range segs {
			switch {
			case seg == "":
				return p, fmt.Errorf("%q has an empty step", text)
			case seg == "*":
				p.Steps = append(p.Steps, PathStep{Kind: StepMembers})
			case strings.HasPrefix(seg, "@"):
				if records || i != len(segs)-1 || len(seg) == 1 {
					return p, fmt.Errorf("%q: an attribute (@name) can only be the last step of a field's path", text)
				}
				p.Steps = append(p.Steps, PathStep{Kind: StepAttr, Name: localName(seg[1:])})
			default:
				if strings.ContainsAny(seg, "[]<>\"' ") {
					return p, fmt.Errorf("%q: %q is not an element name", text, seg)
				}
				p.Steps = append(p.Steps, PathStep{Kind: StepName, Name: localName(seg)})
			}
		}
		if records && (len(p.Steps) == 0 || p.Steps[0].Kind != StepName) {
			return p, fmt.Errorf("%q: a records path starts with the name of the root element", text)
		}
	default:
		return p, fmt.Errorf("no paths in format %q", format)
	}
	return p, nil
}

func localName(s string) string {
	if i := strings.IndexByte(s, ':'); i >= 0 && i < len(s)-1 {
		return s[i+1:]
	}
	return s
}
