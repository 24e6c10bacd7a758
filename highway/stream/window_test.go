package stream

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
)

var t0 = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

// step is one thing that happens to a windower: a record (partition, event
// offset from t0 in seconds, wall seconds) or a call to Due.
type step struct {
	part    int
	event   int // seconds after t0
	wall    int // seconds after t0 on the wall clock
	due     bool
	late    bool   // the record is expected to be rejected
	firings string // expected Due result
}

func rec(part, event, wall int) step    { return step{part: part, event: event, wall: wall} }
func late(part, event, wall int) step   { return step{part: part, event: event, wall: wall, late: true} }
func due(wall int, firings string) step { return step{due: true, wall: wall, firings: firings} }

func describe(f Firing) string {
	var parts []string
	if f.To.After(f.From) {
		parts = append(parts, fmt.Sprintf("[%s,%s)", f.From.Format("15:04"), f.To.Format("15:04")))
	}
	for _, a := range f.Again {
		parts = append(parts, "again "+a.Format("15:04"))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

func TestWindower(t *testing.T) {
	tumbling := catalog.Window{Size: time.Minute, Hop: time.Minute, Idle: 30 * time.Second}
	withLateness := tumbling
	withLateness.Lateness = 2 * time.Minute
	hopping := catalog.Window{Size: 2 * time.Minute, Hop: time.Minute, Idle: 30 * time.Second}
	for _, tc := range []struct {
		name  string
		spec  catalog.Window
		steps []step
	}{
		{"tumbling fires when the watermark passes the end", tumbling, []step{
			rec(0, 10, 0), due(0, "-"),
			rec(0, 59, 1), due(1, "-"),
			rec(0, 60, 2), due(2, "[08:00,08:01)"),
			rec(0, 250, 3), due(3, "[08:01,08:04)"),
			due(4, "-"),
		}},
		{"hopping windows fire at each hop", hopping, []step{
			rec(0, 30, 0), rec(0, 61, 1), due(1, "[07:59,08:00)"), // [07:59,08:01) ends at 08:01 and fires
			rec(0, 125, 2), due(2, "[08:00,08:01)"),
		}},
		{"out of order within a batch fires nothing early", tumbling, []step{
			rec(0, 50, 0), rec(0, 20, 0), rec(0, 55, 0), due(0, "-"),
			rec(0, 61, 1), due(1, "[08:00,08:01)"),
		}},
		{"the slowest partition holds the watermark", tumbling, []step{
			rec(0, 10, 0), rec(1, 10, 0),
			rec(0, 200, 1), due(1, "-"),
			rec(1, 70, 2), due(2, "[08:00,08:01)"),
		}},
		{"an idle partition does not hold it back", tumbling, []step{
			rec(0, 10, 0), rec(1, 10, 0),
			rec(0, 200, 40), due(40, "[08:00,08:03)"),
		}},
		{"without lateness a record behind the watermark is late", tumbling, []step{
			rec(0, 10, 0), rec(0, 130, 1), due(1, "[08:00,08:02)"),
			late(0, 30, 2), due(2, "-"),
		}},
		{"within lateness a late record corrects its window", withLateness, []step{
			rec(0, 10, 0), rec(0, 130, 1), due(1, "[08:00,08:02)"),
			rec(0, 30, 2), due(2, "again 08:00"),
			rec(0, 200, 3), due(3, "[08:02,08:03)"),
			late(0, 20, 4), // 08:01 + 2m lateness <= 08:03:20
			due(4, "-"),
		}},
		{"a late record in a hopping window corrects only windows still open", catalog.Window{Size: 2 * time.Minute, Hop: time.Minute, Lateness: time.Minute, Idle: time.Minute}, []step{
			rec(0, 0, 0), rec(0, 185, 1), due(1, "[07:59,08:02)"),
			// 08:01:30 is in [08:00,08:02) (end+lateness 08:03 <= 08:03:05:
			// closed) and [08:01,08:03) (fired, but open until 08:04).
			rec(0, 90, 2), due(2, "again 08:01"),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWindower(tc.spec)
			for i, s := range tc.steps {
				now := t0.Add(time.Duration(s.wall) * time.Second)
				if s.due {
					if got := describe(w.Due(now)); got != s.firings {
						t.Fatalf("step %d: Due = %s, want %s", i, got, s.firings)
					}
					continue
				}
				var pend Pending
				ok := w.Observe(s.part, t0.Add(time.Duration(s.event)*time.Second), now, &pend)
				w.Advance(s.part, &pend, now)
				if ok == s.late {
					t.Fatalf("step %d: Observe(event +%ds) accepted=%v, want %v", i, s.event, ok, !s.late)
				}
			}
		})
	}
}

// Backfill: replaying old data fires exactly the windows live data fired,
// whatever the wall clock says.
func TestWindowerBackfillMatchesLive(t *testing.T) {
	spec := catalog.Window{Size: 5 * time.Minute, Hop: time.Minute, Lateness: time.Minute, Idle: 30 * time.Second}
	fired := func(wallStep time.Duration) map[string]bool {
		w := NewWindower(spec)
		out := map[string]bool{}
		wall := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := 0; i < 600; i++ {
			ev := t0.Add(time.Duration(i*7) * time.Second)
			if i%50 == 49 {
				ev = ev.Add(-40 * time.Second) // a little out of order
			}
			wall = wall.Add(wallStep)
			var pend Pending
			w.Observe(i%2, ev, wall, &pend)
			w.Advance(i%2, &pend, wall)
			f := w.Due(wall)
			for s := f.From; s.Before(f.To); s = s.Add(spec.Hop) {
				out[s.Format("15:04")] = true
			}
		}
		return out
	}
	live, backfill := fired(7*time.Second), fired(time.Millisecond)
	if fmt.Sprint(live) != fmt.Sprint(backfill) || len(live) < 60 {
		t.Fatalf("live fired %d windows, backfill %d:\n%v\n%v", len(live), len(backfill), live, backfill)
	}
}

func TestWindowerRestore(t *testing.T) {
	w := NewWindower(catalog.Window{Size: time.Minute, Hop: time.Minute, Lateness: 2 * time.Minute, Idle: time.Minute})
	w.Restore(t0.Add(10 * time.Minute))
	w.AddPartition(0, t0.Add(10*time.Minute+30*time.Second), t0)
	// Windows that could still take corrections fire again.
	if got := describe(w.Due(t0)); got != "[08:08,08:10)" {
		t.Fatalf("after Restore: Due = %s", got)
	}
	f := w.Due(t0)
	if !f.Empty() {
		t.Fatalf("second Due = %s", describe(f))
	}
	var pend Pending
	w.Observe(0, t0.Add(12*time.Minute), t0, &pend)
	if f := w.Due(t0); !f.Empty() {
		t.Fatalf("Due before Advance = %s; nothing is written yet", describe(f))
	}
	w.Advance(0, &pend, t0)
	f = w.Due(t0)
	w.Undo(f)
	if got := describe(w.Due(t0)); got != "[08:10,08:12)" {
		t.Fatalf("after Undo: Due = %s", got)
	}
}
