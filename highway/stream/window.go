package stream

import (
	"sync"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
)

// Windower decides, for one window of a pipeline, when windows fire and
// which records are too late. It tracks the watermark of each partition a
// processor has claimed: the latest event time seen there. The watermark of
// the window is the least of them, leaving out partitions idle for longer
// than the window's idle time (when every partition is idle, the greatest).
// A claimed partition that has shown no event yet holds the watermark at
// zero until it does or goes idle.
//
// A window [start, end) fires once the watermark reaches end. A record whose
// event time is behind the watermark still corrects its windows (they fire
// again) while the watermark is less than end + lateness; a record later
// than that for every window it belongs to is late and is rejected.
//
// Aggregates are not kept here: a firing recomputes the window from the raw
// rows in ClickHouse, which hold every record exactly once. So the state of
// a Windower is small, and rebuilt on restart from ClickHouse (Restore and
// AddPartition). It is safe for concurrent use by the partitions' goroutines.
type Windower struct {
	spec catalog.Window

	mu    sync.Mutex
	parts map[int]*partitionMark
	// fired is the end of the last window fired in order: every window
	// ending at or before it has fired. Zero until the first event.
	fired time.Time
	// dirty holds the starts of fired windows that late records corrected.
	dirty map[time.Time]bool
}

type partitionMark struct {
	max  time.Time // latest event time written
	seen time.Time // wall time of the latest record
}

// Pending is what Observe saw of one micro-batch: it takes effect with
// Advance once the batch is in ClickHouse, since a window must not fire,
// nor be corrected, before the rows it is computed from are there. Each
// batch in flight has its own.
type Pending struct {
	max   time.Time
	dirty map[time.Time]bool
}

// NewWindower returns the windower of spec.
func NewWindower(spec catalog.Window) *Windower {
	return &Windower{spec: spec, parts: map[int]*partitionMark{}, dirty: map[time.Time]bool{}}
}

// Restore sets the end of the last window known to have fired (from the
// window table). The windows that could still take corrections are fired
// again, since a crash may have lost a correction that was due.
func (w *Windower) Restore(lastEnd time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if lastEnd.IsZero() {
		return
	}
	again := lastEnd.Add(-w.spec.Lateness).Truncate(w.spec.Hop)
	if w.fired.IsZero() || again.Before(w.fired) {
		w.fired = again
	}
}

// AddPartition starts tracking a claimed partition whose latest event in
// ClickHouse is at maxEvent (zero if none).
func (w *Windower) AddPartition(p int, maxEvent, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.parts[p] = &partitionMark{max: maxEvent, seen: now}
	if w.fired.IsZero() && !maxEvent.IsZero() {
		w.fired = w.firstEnd(maxEvent)
	}
}

// RemovePartition stops tracking a partition that this processor lost.
func (w *Windower) RemovePartition(p int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.parts, p)
}

// firstEnd is where firing starts for the first event t seen: the end of
// the window just before the first window that contains t.
func (w *Windower) firstEnd(t time.Time) time.Time {
	return t.Truncate(w.spec.Hop)
}

// StartAt makes firing start with the windows that contain t, the earliest
// event in ClickHouse, when no window has fired yet (a crash before the
// first firing).
func (w *Windower) StartAt(t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fired.IsZero() && !t.IsZero() {
		w.fired = w.firstEnd(t)
	}
}

// Watermark returns the current watermark (zero before any event).
func (w *Windower) Watermark(now time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.watermark(now)
}

func (w *Windower) watermark(now time.Time) time.Time {
	var low, high time.Time
	active := false
	for _, m := range w.parts {
		if m.max.After(high) {
			high = m.max
		}
		if now.Sub(m.seen) > w.spec.Idle {
			continue
		}
		if m.max.IsZero() {
			// An active partition that has shown no event yet could still
			// bring any: the watermark is unknown until it does or idles.
			return time.Time{}
		}
		if !active || m.max.Before(low) {
			low = m.max
		}
		active = true
	}
	if !active {
		return high
	}
	return low
}

// Observe classifies one record of partition p with event time t. It
// returns false when the record is too late for every window it belongs to:
// it must then be rejected and not written. Otherwise the record's event
// time (and, for a window that already fired, the need to fire it again) is
// noted in pend, to take effect when Advance says the batch is written.
func (w *Windower) Observe(p int, t, now time.Time, pend *Pending) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	wm := w.watermark(now)
	// The windows containing t start at the multiples of hop in
	// (t-size, t]; the latest of them ends last.
	latestStart := t.Truncate(w.spec.Hop)
	if !wm.IsZero() && !latestStart.Add(w.spec.Size+w.spec.Lateness).After(wm) {
		return false
	}
	if w.parts[p] == nil {
		w.parts[p] = &partitionMark{seen: now}
	}
	if !w.fired.IsZero() {
		for start := latestStart; start.After(t.Add(-w.spec.Size)); start = start.Add(-w.spec.Hop) {
			end := start.Add(w.spec.Size)
			if !end.After(w.fired) && end.Add(w.spec.Lateness).After(wm) {
				if pend.dirty == nil {
					pend.dirty = map[time.Time]bool{}
				}
				pend.dirty[start] = true
			}
		}
	}
	if t.After(pend.max) {
		pend.max = t
	}
	if w.fired.IsZero() {
		w.fired = w.firstEnd(t)
	}
	return true
}

// Advance applies what Observe noted in pend for partition p, once that
// batch is written: the partition's watermark moves and corrected windows
// are due.
func (w *Windower) Advance(p int, pend *Pending, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.parts[p]
	if m == nil {
		return
	}
	if pend.max.After(m.max) {
		m.max = pend.max
	}
	m.seen = now
	for start := range pend.dirty {
		w.dirty[start] = true
	}
}

// Firing is what a Windower asks to compute: the windows whose start is in
// [From, To), and then each corrected window starting at a time in Again.
type Firing struct {
	From, To time.Time
	Again    []time.Time
}

// Empty reports whether there is nothing to compute.
func (f Firing) Empty() bool { return !f.To.After(f.From) && len(f.Again) == 0 }

// Due returns the windows to fire now and records them as fired. The caller
// computes them (retrying until it succeeds) before asking again; if it
// cannot, it must Undo.
func (w *Windower) Due(now time.Time) Firing {
	w.mu.Lock()
	defer w.mu.Unlock()
	var f Firing
	wm := w.watermark(now)
	if !w.fired.IsZero() && !wm.IsZero() {
		lastEnd := wm.Truncate(w.spec.Hop) // the latest window end at or before the watermark
		if lastEnd.After(w.fired) {
			f.From, f.To = w.fired.Add(-w.spec.Size), lastEnd.Add(-w.spec.Size)
			// Starts are in [fired-size, lastEnd-size), so the ends are in
			// (fired, lastEnd]; shift by one hop to include lastEnd.
			f.From, f.To = f.From.Add(w.spec.Hop), f.To.Add(w.spec.Hop)
			w.fired = lastEnd
		}
	}
	for start := range w.dirty {
		if f.To.After(f.From) && !start.Before(f.From) && start.Before(f.To) {
			continue // computed in the range anyway
		}
		f.Again = append(f.Again, start)
	}
	clear(w.dirty)
	return f
}

// Undo puts back a firing that could not be computed, so the next Due
// returns it again.
func (w *Windower) Undo(f Firing) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if f.To.After(f.From) {
		back := f.From.Add(w.spec.Size - w.spec.Hop)
		if back.Before(w.fired) {
			w.fired = back
		}
	}
	for _, s := range f.Again {
		w.dirty[s] = true
	}
}
