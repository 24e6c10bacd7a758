package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// table is the form of every list a command prints: a header of upper-case
// column names, then one row a line, the columns aligned with at least two
// spaces between them.
type table struct{ tw *tabwriter.Writer }

// newTable starts a table on w with the given column names.
func newTable(w io.Writer, header ...string) table {
	t := table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	fmt.Fprintln(t.tw, strings.Join(header, "\t"))
	return t
}

// row adds one line. A time.Time cell is written in RFC 3339 in its own zone,
// a *time.Time cell the same or "-" when nil; any other cell as fmt.Sprint
// writes it.
func (t table) row(cells ...any) {
	for i, c := range cells {
		if i > 0 {
			io.WriteString(t.tw, "\t")
		}
		io.WriteString(t.tw, cell(c))
	}
	io.WriteString(t.tw, "\n")
}

// flush writes the aligned table out; nothing shows before it.
func (t table) flush() error { return t.tw.Flush() }

func cell(c any) string {
	switch v := c.(type) {
	case time.Time:
		return v.Format(time.RFC3339)
	case *time.Time:
		if v == nil {
			return "-"
		}
		return v.Format(time.RFC3339)
	default:
		return fmt.Sprint(c)
	}
}
