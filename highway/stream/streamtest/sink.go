// Package streamtest holds an in-memory stream.Sink for fast tests of the
// processor: the feed tables and the batch ledger (Tables, a stream.Rows)
// and the window tables (WindowTables, a stream.Windows) live in maps,
// with the semantics of highway/store on ClickHouse (exactly once per
// (offset, month), the ledger's highest entry, windows recomputed from the
// raw rows), and faults can be injected into inserts.
package streamtest

import "github.com/cityhighway/highway/highway/stream"

var _ stream.Sink = (*Sink)(nil)

// Sink is an in-memory stream.Sink: feeds' tables and their windows'
// tables computed from them. It is safe for concurrent use; the zero value
// is not usable, call New.
type Sink struct {
	*Tables
	*WindowTables
}

// New returns an empty Sink.
func New() *Sink {
	t := NewTables()
	return &Sink{Tables: t, WindowTables: NewWindowTables(t)}
}
