package stream

import (
	"context"
	"testing"
	"time"
)

// outlive's context ends grace after its parent does, or at once when
// cancelled, and never with the parent.
func TestOutlive(t *testing.T) {
	const grace = 100 * time.Millisecond
	cases := []struct {
		name         string
		cancelParent bool
		cancelOwn    bool
		aliveAt      time.Duration // checked alive at this point after the parent ends (or the start)
		doneBy       time.Duration // and done by this one; 0: still alive then
	}{
		{"the parent ends: grace left", true, false, grace / 2, 2 * grace},
		{"the parent runs on: no end", false, false, grace / 2, 0},
		{"cancelled: done at once", false, true, 0, grace / 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parent, cancelParent := context.WithCancel(context.Background())
			defer cancelParent()
			ctx, cancel := outlive(parent, grace)
			defer cancel()
			if c.cancelParent {
				cancelParent()
			}
			time.Sleep(c.aliveAt)
			if !c.cancelOwn && ctx.Err() != nil {
				t.Fatalf("ended %s after the parent did, before its grace of %s", c.aliveAt, grace)
			}
			if c.cancelOwn {
				cancel()
			}
			if c.doneBy == 0 {
				time.Sleep(2 * grace)
				if ctx.Err() != nil {
					t.Fatalf("ended with its parent still running")
				}
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(c.doneBy):
				t.Fatalf("not ended %s on", c.doneBy)
			}
		})
	}
}
