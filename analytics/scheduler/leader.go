package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
)

// maxAssignPerTick bounds the slots one job gets assigned in one tick.
const maxAssignPerTick = 32

// leaderLoop makes the scheduling decisions while this node leads. After
// winning an election it first waits (Barrier) until its state holds every
// entry of earlier terms, so it never decides on a stale view.
func (n *Node) leaderLoop(ctx context.Context) {
	t := time.NewTicker(n.cfg.Tick)
	defer t.Stop()
	leading := false
	scheds := map[string]compiled{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !n.IsLeader() {
			if leading {
				n.log.Info("no longer the leader")
				n.metrics.isLeader.Set(0)
			}
			leading = false
			continue
		}
		if !leading {
			if err := n.raft.Barrier(5 * time.Second).Error(); err != nil {
				n.log.Warn("leader barrier", "err", err)
				continue
			}
			leading = true
			n.mu.Lock()
			clear(n.seen)
			n.mu.Unlock()
			n.metrics.leaderChanges.Inc()
			n.metrics.isLeader.Set(1)
			n.log.Info("elected leader", "term", n.raft.CurrentTerm())
			n.syncJobs(ctx)
		}
		now := time.Now()
		n.schedule(ctx, now, scheds)
		n.expireControl(now)
	}
}

// syncJobs puts the configured (catalogue) jobs that the state lacks or
// holds in another version.
func (n *Node) syncJobs(ctx context.Context) {
	for _, j := range n.cfg.Jobs {
		want, _ := json.Marshal(j)
		var have []byte
		n.fsm.Read(func(s *State) {
			if js := s.Jobs[j.Name]; js != nil {
				have, _ = json.Marshal(js.Job)
			}
		})
		if string(have) == string(want) {
			continue
		}
		if err := n.Propose(ctx, &Command{Op: OpPutJob, Job: j}); err != nil {
			n.log.Warn("putting catalogue job", "job", j.Name, "err", err)
		}
	}
}

// compiled caches a job's schedule per definition version.
type compiled struct {
	version int
	sched   catalog.Sched
	err     error
}

// schedule makes one round of decisions and appends them to the log.
func (n *Node) schedule(ctx context.Context, now time.Time, scheds map[string]compiled) {
	marks := n.watermarks(ctx)
	var cmds []*Command
	n.fsm.Read(func(s *State) {
		cmds = n.plan(s, now, scheds, marks)
	})
	for _, c := range cmds {
		_, err := n.applyLocal(c)
		switch {
		case err == nil:
			n.observe(c, now)
		case errors.Is(err, ErrNotLeader):
			return
		default:
			n.log.Debug("decision refused", "op", c.Op, "job", c.Name, "slot", c.Slot, "err", err)
		}
	}
}

// observe records the metrics of an applied decision.
func (n *Node) observe(c *Command, now time.Time) {
	switch c.Op {
	case OpAssign:
		if c.Attempt == 1 {
			n.metrics.slotDelay.WithLabelValues(c.Name).Observe(now.Sub(time.Unix(c.End, 0)).Seconds())
		}
		n.metrics.assigned.WithLabelValues(c.Name).Inc()
	case OpExpire:
		n.metrics.runs.WithLabelValues(c.Name, string(AttemptLost)).Inc()
	case OpCancel:
		n.metrics.runs.WithLabelValues(c.Name, string(AttemptCancelled)).Inc()
	case OpCursor:
		n.metrics.skipped.WithLabelValues(c.Name).Add(float64(c.Skipped))
	}
}

// watermarks returns the watermark of every feed some job waits for,
// reading each at most every 5 seconds. It runs outside the FSM lock.
func (n *Node) watermarks(ctx context.Context) map[string]time.Time {
	if n.cfg.Watermarks == nil {
		return nil
	}
	var feeds []string
	n.fsm.Read(func(s *State) {
		for _, js := range s.Jobs {
			if !js.Paused {
				feeds = append(feeds, js.Job.WaitFor...)
			}
		}
	})
	out := map[string]time.Time{}
	n.wm.Lock()
	defer n.wm.Unlock()
	for _, f := range feeds {
		w, ok := n.wmarks[f]
		if !ok || time.Since(w.when) > 5*time.Second {
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			at, err := n.cfg.Watermarks.Watermark(qctx, f)
			cancel()
			if err != nil {
				n.log.Warn("reading feed watermark", "feed", f, "err", err)
			}
			w = watermark{at: at, when: time.Now()}
			n.wmarks[f] = w
		}
		out[f] = w.at
	}
	return out
}

// plan decides, from a consistent view of the state, which entries to
// append: expiries of leases that ran out, retries whose backoff passed,
// triggered slots and newly due slots, each assigned to the least busy live
// node. The state machine re-checks each entry when it is applied.
func (n *Node) plan(s *State, now time.Time, scheds map[string]compiled, marks map[string]time.Time) []*Command {
	nowMs := now.UnixMilli()
	grace := n.cfg.Lease / 5
	var cmds []*Command
	pick := n.picker(s, now)

	names := make([]string, 0, len(s.Jobs))
	for name := range s.Jobs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		js := s.Jobs[name]
		job := js.Job
		running, waiting := 0, 0
		var runningSlots []int64
		for start, sl := range js.Slots {
			switch sl.State {
			case SlotRunning:
				a := sl.Current()
				if nowMs >= a.Lease+grace.Milliseconds() {
					cmds = append(cmds, &Command{Op: OpExpire, At: nowMs, Name: name, Slot: start, Attempt: a.N, Error: "lease expired on " + a.Node})
				}
				running++
				runningSlots = append(runningSlots, start)
			case SlotRetry:
				waiting++
				if js.Paused || sl.NotBefore > nowMs {
					continue
				}
				if node := pick(); node != "" {
					cmds = append(cmds, n.assign(name, sl.Span, len(sl.Attempts)+1, node, now))
				}
			}
		}
		if js.Paused {
			continue
		}
		for _, tr := range js.Triggers {
			if sl := js.Slots[tr.Start]; sl != nil && (sl.State == SlotRunning || sl.State == SlotRetry) {
				continue
			}
			if node := pick(); node != "" {
				att := 1
				if sl := js.Slots[tr.Start]; sl != nil {
					att = len(sl.Attempts) + 1
				}
				cmds = append(cmds, n.assign(name, tr, att, node, now))
			}
		}

		c := scheds[name]
		if c.sched == nil || c.version != js.Version {
			c.sched, c.err = job.Schedule()
			c.version = js.Version
			scheds[name] = c
		}
		if c.err != nil {
			continue
		}
		if js.Next == 0 {
			cmds = append(cmds, &Command{Op: OpCursor, At: nowMs, Name: name, Next: slotContaining(c.sched, now).Start})
			continue
		}
		due, skipped := dueSlots(c.sched, js.Next, now, job.Delay, job.Catchup)
		if len(due) == 0 {
			continue
		}
		if job.Concurrency == catalog.Replace && len(due) > 1 {
			skipped += int64(len(due) - 1)
			due = due[len(due)-1:]
		}
		if skipped > 0 {
			cmds = append(cmds, &Command{Op: OpCursor, At: nowMs, Name: name, Next: due[0].Start, Skipped: skipped})
		}
		switch job.Concurrency {
		case catalog.Forbid:
			if running+waiting > 0 {
				continue
			}
			due = due[:1]
		case catalog.Replace:
			for _, st := range runningSlots {
				a := js.Slots[st].Current()
				cmds = append(cmds, &Command{Op: OpCancel, At: nowMs, Name: name, Slot: st, Attempt: a.N, Error: "replaced by a newer slot"})
			}
		}
		for i, sp := range due {
			if i == maxAssignPerTick || !n.ready(s, job, sp, now, marks) {
				break
			}
			node := pick()
			if node == "" {
				break
			}
			cmds = append(cmds, n.assign(name, sp, 1, node, now))
		}
	}
	return cmds
}

func (n *Node) assign(job string, sp Span, attempt int, node string, now time.Time) *Command {
	return &Command{
		Op: OpAssign, At: now.UnixMilli(), Name: job, Slot: sp.Start, End: sp.End, Attempt: attempt,
		Node: node, Lease: now.Add(n.cfg.Lease).UnixMilli(),
	}
}

// ready reports whether a slot may run: every upstream job succeeded over
// the slot's span, and every wait_for feed's watermark passed its end (or
// the job waited for them for wait_max).
func (n *Node) ready(s *State, job *catalog.Job, sp Span, now time.Time, marks map[string]time.Time) bool {
	for _, up := range job.After {
		if !covered(s.Jobs[up], sp) {
			return false
		}
	}
	if len(job.WaitFor) == 0 || n.cfg.Watermarks == nil {
		return true
	}
	end := time.Unix(sp.End, 0)
	if now.After(end.Add(job.Delay + job.WaitMax)) {
		return true
	}
	for _, f := range job.WaitFor {
		if marks[f].Before(end) {
			return false
		}
	}
	return true
}

// covered reports whether succeeded slots of js cover the span.
func covered(js *JobState, sp Span) bool {
	if js == nil {
		return false
	}
	t := sp.Start
	for t < sp.End {
		if sl := js.Slots[t]; sl != nil && sl.State == SlotSucceeded {
			t = sl.End
			continue
		}
		found := false
		for _, sl := range js.Slots {
			if sl.State == SlotSucceeded && sl.Start <= t && t < sl.End {
				t, found = sl.End, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// slotContaining returns the slot of sched that contains t.
func slotContaining(sched catalog.Sched, t time.Time) Span {
	end := sched.Next(t)
	// Step back until a boundary at or before t is found.
	for back := time.Minute; back < 5*366*24*time.Hour; back *= 4 {
		b := sched.Next(t.Add(-back))
		if !b.After(t) {
			for {
				nb := sched.Next(b)
				if nb.After(t) {
					return Span{b.Unix(), nb.Unix()}
				}
				b = nb
			}
		}
	}
	return Span{t.Unix(), end.Unix()}
}

// dueSlots lists the slots from the cursor whose end plus delay has passed.
// Slots that ended before the catch-up window are skipped, except that the
// most recent due slot always runs; skipped counts them.
func dueSlots(sched catalog.Sched, cursor int64, now time.Time, delay, catchup time.Duration) (due []Span, skipped int64) {
	horizon := now.Add(-catchup)
	var lastOld *Span
	s := time.Unix(cursor, 0)
	for i := 0; i < 1_000_000; i++ {
		e := sched.Next(s)
		if e.IsZero() || e.Add(delay).After(now) {
			break
		}
		sp := Span{s.Unix(), e.Unix()}
		if e.Add(delay).Before(horizon) && catchup >= 0 {
			if lastOld != nil {
				skipped++
			}
			lastOld = &sp
		} else {
			due = append(due, sp)
		}
		s = e
	}
	if len(due) == 0 && lastOld != nil {
		due = []Span{*lastOld}
	} else if lastOld != nil {
		skipped++
	}
	return due, skipped
}

// picker returns a function that picks the node for the next assignment:
// live, not draining, fewest running attempts, then fewest ever assigned,
// then by ID. Each pick counts as running for the picks after it.
func (n *Node) picker(s *State, now time.Time) func() string {
	busy := map[string]int{}
	total := map[string]int64{}
	var live []string
	n.mu.Lock()
	for id, m := range s.Nodes {
		if m.Draining {
			continue
		}
		if id != n.cfg.ID && now.Sub(n.seen[id]) > 3*n.cfg.Heartbeat {
			continue
		}
		live = append(live, id)
		total[id] = m.Assigned
	}
	n.mu.Unlock()
	slices.Sort(live)
	for _, js := range s.Jobs {
		for _, sl := range js.Slots {
			if sl.State == SlotRunning {
				busy[sl.Current().Node]++
			}
		}
	}
	return func() string {
		best := ""
		for _, id := range live {
			if best == "" || busy[id] < busy[best] || busy[id] == busy[best] && total[id] < total[best] {
				best = id
			}
		}
		if best != "" {
			busy[best]++
			total[best]++
		}
		return best
	}
}
