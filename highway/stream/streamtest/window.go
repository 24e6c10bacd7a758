package streamtest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/stream"
)

var _ stream.Windows = (*WindowTables)(nil)

// WindowTables is an in-memory stream.Windows: the window tables of the
// feeds' tables it was made over, computed from their rows as
// store.Store.AggregateWindows computes them. It is safe for concurrent
// use; the zero value is not usable, call NewWindowTables.
type WindowTables struct {
	rows    *Tables
	mu      sync.Mutex
	windows map[string]*windowTable // by window table name
}

// NewWindowTables returns empty window tables over the feeds' tables of
// rows.
func NewWindowTables(rows *Tables) *WindowTables {
	return &WindowTables{rows: rows, windows: map[string]*windowTable{}}
}

// WindowRow is one window and group of a window table, as
// store.Store.AggregateWindows computes it from the raw rows.
type WindowRow struct {
	Start, End time.Time
	// Group holds the group-by fields' values; a null groups as its type's
	// zero ("" or 0), as in the window table's key columns.
	Group map[string]any
	// Rows is the number of records in the window and group.
	Rows uint64
	// Counts holds, per aggregated field, how many of its values are not
	// null (the <field>_count column).
	Counts map[string]uint64
	// Values holds the <field>_<func> columns: sum, min, max, avg and the
	// exact percentiles p50, p90, p99 that the window asks for (sum too
	// when it asks for avg); nil when every value is null.
	Values map[string]*float64
}

// windowTable is the rows of one window, by start and group.
type windowTable struct {
	spec catalog.Window
	rows map[windowKey]WindowRow
}

type windowKey struct {
	start time.Time
	group string
}

// EnsureWindowTable creates the window's table if it is missing.
func (s *WindowTables) EnsureWindowTable(_ context.Context, feed *catalog.Feed, w catalog.Window) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.windowOf(feed, w)
	return nil
}

// windowOf returns the window's table, creating it; s.mu is held.
func (s *WindowTables) windowOf(feed *catalog.Feed, w catalog.Window) *windowTable {
	name := catalog.WindowTable(feed, w)
	t := s.windows[name]
	if t == nil {
		t = &windowTable{spec: w, rows: map[windowKey]WindowRow{}}
		s.windows[name] = t
	}
	return t
}

// LastWindowEnd returns the latest window end in the window's table, or
// the zero time if it is empty.
func (s *WindowTables) LastWindowEnd(_ context.Context, feed *catalog.Feed, w catalog.Window) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var last time.Time
	for _, r := range s.windowOf(feed, w).rows {
		if r.End.After(last) {
			last = r.End
		}
	}
	return last, nil
}

// MinEventTime returns the earliest event time (to the second) in the
// feed's table, or the zero time if it is empty.
func (s *WindowTables) MinEventTime(_ context.Context, feed *catalog.Feed) (time.Time, error) {
	var earliest time.Time
	s.rows.each(feed, func(r *Row) {
		if at := eventSecond(feed, r); earliest.IsZero() || at.Before(earliest) {
			earliest = at
		}
	})
	return earliest, nil
}

// AggregateWindows (re)computes, from the feed's rows, every window of w
// whose start is in [from, to) and replaces their rows, as
// store.Store.AggregateWindows does: a window and group no longer found
// keeps its earlier row, as a ReplacingMergeTree does.
func (s *WindowTables) AggregateWindows(_ context.Context, feed *catalog.Feed, w catalog.Window, from, to time.Time) error {
	if !to.After(from) {
		return nil
	}
	if w.Hop <= 0 || w.Size < w.Hop || w.Size%w.Hop != 0 {
		return fmt.Errorf("aggregating window %s: size %s is not a multiple of hop %s", w.Name, w.Size, w.Hop)
	}
	rows := s.rows.Rows(feed)
	s.mu.Lock()
	defer s.mu.Unlock()
	wt := s.windowOf(feed, w)
	type acc struct {
		row  WindowRow
		vals map[string][]float64
	}
	accs := map[windowKey]*acc{}
	hop, size := int64(w.Hop/time.Second), int64(w.Size/time.Second)
	for i := range rows {
		r := &rows[i]
		sec := eventSecond(feed, r).Unix()
		for k := int64(0); k < size/hop; k++ {
			ws := time.Unix(sec/hop*hop-k*hop, 0).UTC()
			if ws.Before(from) || !ws.Before(to) {
				continue
			}
			group, key := groupOf(feed, w, r)
			wk := windowKey{ws, key}
			a := accs[wk]
			if a == nil {
				a = &acc{row: WindowRow{Start: ws, End: ws.Add(w.Size), Group: group, Counts: map[string]uint64{}, Values: map[string]*float64{}},
					vals: map[string][]float64{}}
				accs[wk] = a
			}
			a.row.Rows++
			for _, ag := range w.Aggregates {
				v, ok := number(r.Values[ag.Field])
				if ok {
					a.row.Counts[ag.Field]++
					a.vals[ag.Field] = append(a.vals[ag.Field], v)
				}
			}
		}
	}
	for wk, a := range accs {
		for _, ag := range w.Aggregates {
			for fn, v := range aggregate(ag.Funcs, a.vals[ag.Field]) {
				a.row.Values[ag.Field+"_"+fn] = v
			}
		}
		wt.rows[wk] = a.row
	}
	return nil
}

// Windows returns the rows of the window's table ordered by start, then
// group.
func (s *WindowTables) Windows(feed *catalog.Feed, w catalog.Window) []WindowRow {
	s.mu.Lock()
	defer s.mu.Unlock()
	wt := s.windowOf(feed, w)
	keys := make([]windowKey, 0, len(wt.rows))
	for k := range wt.rows {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if !keys[i].start.Equal(keys[j].start) {
			return keys[i].start.Before(keys[j].start)
		}
		return keys[i].group < keys[j].group
	})
	out := make([]WindowRow, len(keys))
	for i, k := range keys {
		out[i] = wt.rows[k]
	}
	return out
}

// groupOf returns a row's group-by values (nulls as their type's zero) and
// a key that tells groups apart.
func groupOf(feed *catalog.Feed, w catalog.Window, r *Row) (map[string]any, string) {
	group := make(map[string]any, len(w.GroupBy))
	parts := make([]string, len(w.GroupBy))
	for i, g := range w.GroupBy {
		v := r.Values[g]
		if v == nil {
			v = zero(feed.Field(g).Type)
		}
		group[g] = v
		parts[i] = canonical(v)
	}
	return group, strings.Join(parts, "\x00")
}

// zero is the value a null key column groups as.
func zero(t catalog.FieldType) any {
	switch t {
	case catalog.Int64:
		return int64(0)
	case catalog.Float64:
		return float64(0)
	case catalog.Bool:
		return false
	case catalog.Time:
		return time.Unix(0, 0).UTC()
	}
	return ""
}

// number is a numeric field's value as a float64, and whether it is set.
func number(v any) (float64, bool) {
	switch v := v.(type) {
	case int64:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

// aggregate computes the functions asked for over vals (sum as well when
// avg is asked for, as the window table keeps it); count is a column of
// its own and left out. Every result is nil when vals is empty.
func aggregate(funcs []string, vals []float64) map[string]*float64 {
	want := map[string]bool{}
	for _, fn := range funcs {
		want[fn] = true
		if fn == "avg" {
			want["sum"] = true
		}
	}
	delete(want, "count")
	out := map[string]*float64{}
	sorted := slices.Sorted(slices.Values(vals))
	for fn := range want {
		if len(vals) == 0 {
			out[fn] = nil
			continue
		}
		var v float64
		switch fn {
		case "sum", "avg":
			for _, x := range vals {
				v += x
			}
			if fn == "avg" {
				v /= float64(len(vals))
			}
		case "min":
			v = sorted[0]
		case "max":
			v = sorted[len(sorted)-1]
		case "p50", "p90", "p99":
			// quantileExact: the element at level × n of the sorted values.
			level := map[string]float64{"p50": 0.5, "p90": 0.9, "p99": 0.99}[fn]
			v = sorted[min(int(math.Floor(level*float64(len(sorted)))), len(sorted)-1)]
		default:
			continue
		}
		out[fn] = &v
	}
	return out
}
