package catalog

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidSpec is wrapped by every error that a spec file's content causes,
// so callers can tell a user's mistake from an I/O failure with errors.Is.
var ErrInvalidSpec = errors.New("invalid spec")

// SpecError is one problem in a spec file, located by file, line and the path
// of the offending field within the document (for example "fields[2].type").
type SpecError struct {
	File string
	Line int
	Path string
	Msg  string
}

// Error formats the problem as "file:line: path: message".
func (e *SpecError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap makes every SpecError match ErrInvalidSpec.
func (e *SpecError) Unwrap() error { return ErrInvalidSpec }

// ErrorList is every problem found while loading specs, in file and line order.
// Loaders return all of them at once so a user can fix a file in one pass.
type ErrorList []*SpecError

// Error joins the problems one per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes the individual problems to errors.Is and errors.As.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// problems collects SpecErrors for one file.
type problems struct {
	file string
	list ErrorList
}

func (p *problems) add(line int, path, format string, args ...any) {
	p.list = append(p.list, &SpecError{File: p.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}
