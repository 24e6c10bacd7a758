package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
)

// attemptKey names one attempt of one slot.
type attemptKey struct {
	job     string
	slot    int64
	attempt int
}

// assignment is an attempt this node was given, as the log says.
type assignment struct {
	attemptKey
	end   int64
	lease int64
	job   *catalog.Job
}

// workerLoop runs the attempts the log assigns to this node, and cancels
// those the log no longer lets run (expired, cancelled). Attempts assigned
// to an earlier life of this node are abandoned at once, so the leader
// retries them without waiting for their leases.
func (n *Node) workerLoop(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	running := map[attemptKey]context.CancelFunc{}
	// ran holds the attempts this node has run whose end the local state
	// has not applied yet, so that none is started twice.
	ran := map[attemptKey]bool{}
	done := make(chan attemptKey, 16)
	abandoned := map[attemptKey]bool{}
	for {
		select {
		case <-ctx.Done():
			for _, cancel := range running {
				cancel()
			}
			for len(running) > 0 {
				delete(running, <-done)
			}
			return
		case k := <-done:
			delete(running, k)
			ran[k] = true
			continue
		case <-n.fsm.Changed():
		case <-t.C:
		}
		var start []assignment
		var stale []attemptKey
		var abandon []attemptKey
		n.fsm.Read(func(s *State) {
			for k := range ran {
				if js := s.Jobs[k.job]; js == nil || js.Slots[k.slot] == nil || js.Slots[k.slot].State != SlotRunning ||
					js.Slots[k.slot].Current().N != k.attempt {
					delete(ran, k)
				}
			}
			for name, js := range s.Jobs {
				for st, sl := range js.Slots {
					if sl.State != SlotRunning {
						continue
					}
					a := sl.Current()
					k := attemptKey{name, st, a.N}
					if a.Node != n.cfg.ID || running[k] != nil || ran[k] {
						continue
					}
					if a.Index <= n.startIndex {
						if !abandoned[k] {
							abandon = append(abandon, k)
						}
						continue
					}
					start = append(start, assignment{attemptKey: k, end: sl.End, lease: a.Lease, job: js.Job})
				}
			}
			for k := range running {
				js := s.Jobs[k.job]
				if js == nil {
					stale = append(stale, k)
					continue
				}
				sl := js.Slots[k.slot]
				if sl == nil || sl.State != SlotRunning || sl.Current().N != k.attempt {
					stale = append(stale, k)
				}
			}
		})
		for _, k := range stale {
			running[k]()
		}
		for _, k := range abandon {
			err := n.Propose(ctx, &Command{Op: OpExpire, Name: k.job, Slot: k.slot, Attempt: k.attempt, Node: n.cfg.ID, Error: "node " + n.cfg.ID + " restarted"})
			if err == nil || errors.Is(err, ErrRejected) {
				abandoned[k] = true
			}
		}
		for _, a := range start {
			rctx, cancel := context.WithCancel(ctx)
			running[a.attemptKey] = cancel
			go func() {
				defer func() { done <- a.attemptKey }()
				defer cancel()
				n.execute(rctx, a)
			}()
		}
	}
}

// execute runs one attempt under its lease: it renews the lease through the
// log while the attempt runs, stops the attempt when the lease cannot be
// kept, and reports the outcome through the log.
func (n *Node) execute(ctx context.Context, a assignment) {
	log := n.log.With("job", a.job, "slot", time.Unix(a.slot, 0).UTC(), "attempt", a.attempt)
	margin := n.cfg.Lease / 5
	lease := time.UnixMilli(a.lease)
	if time.Until(lease) < margin {
		log.Warn("lease nearly over before the attempt started; leaving it to a retry")
		return
	}
	runCtx, cancel := context.WithTimeoutCause(ctx, a.job.Timeout, fmt.Errorf("timed out after %s", a.job.Timeout))
	defer cancel()
	leaseCtx, loseLease := context.WithCancelCause(runCtx)
	defer loseLease(nil)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		n.keepLease(leaseCtx, a, lease, margin, loseLease)
	}()

	started := time.Now()
	rows, err := n.cfg.Runner.Run(leaseCtx, a.job, Run{
		Job: a.job.Name, Start: time.Unix(a.slot, 0).UTC(), End: time.Unix(a.end, 0).UTC(), Attempt: a.attempt, Node: n.cfg.ID,
	})
	took := time.Since(started)
	if cause := context.Cause(leaseCtx); err != nil && errors.Is(cause, errLeaseLost) {
		loseLease(nil)
		<-renewed
		log.Warn("attempt stopped: lease lost", "err", err)
		return
	}
	loseLease(nil)
	<-renewed
	if err != nil && ctx.Err() != nil {
		log.Info("attempt stopped", "cause", context.Cause(ctx))
		return // cancelled by the log or shutdown: nothing to report
	}
	if err != nil && runCtx.Err() != nil {
		err = fmt.Errorf("%w (%v)", context.Cause(runCtx), err)
	}
	c := &Command{Op: OpFinish, Name: a.job.Name, Slot: a.slot, Attempt: a.attempt, Node: n.cfg.ID, OK: err == nil, Rows: rows}
	state := AttemptSucceeded
	if err != nil {
		c.Error = err.Error()
		state = AttemptFailed
	}
	n.metrics.runDuration.WithLabelValues(a.job.Name).Observe(took.Seconds())
	// Report until the log takes it or refuses it; give up once the lease
	// is long gone, when the leader has expired the attempt anyway.
	deadline := time.Now().Add(n.cfg.Lease)
	for {
		err := n.Propose(ctx, c)
		if err == nil {
			n.metrics.runs.WithLabelValues(a.job.Name, string(state)).Inc()
			log.Debug("attempt reported", "state", state, "rows", rows, "took", took)
			return
		}
		if errors.Is(err, ErrRejected) || time.Now().After(deadline) || ctx.Err() != nil {
			log.Warn("attempt outcome not recorded", "state", state, "err", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// errLeaseLost is the cause of an attempt's cancellation when its lease
// could not be renewed in time or the log refused the renewal.
var errLeaseLost = errors.New("lease lost")

// keepLease renews the attempt's lease every third of the lease length and
// cancels the attempt (with errLeaseLost) when the lease is about to end
// unrenewed or the log says the attempt is no longer running.
func (n *Node) keepLease(ctx context.Context, a assignment, lease time.Time, margin time.Duration, lose context.CancelCauseFunc) {
	every := n.cfg.Lease / 3
	next := time.Now().Add(every)
	t := time.NewTicker(min(every, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		if now.After(lease.Add(-margin)) {
			lose(errLeaseLost)
			return
		}
		if now.Before(next) {
			continue
		}
		until := now.Add(n.cfg.Lease)
		err := n.Propose(ctx, &Command{Op: OpRenew, Name: a.job.Name, Slot: a.slot, Attempt: a.attempt, Node: n.cfg.ID, Lease: until.UnixMilli()})
		switch {
		case err == nil:
			lease = until
			next = now.Add(every)
		case errors.Is(err, ErrRejected):
			lose(errLeaseLost)
			return
		default:
			next = now.Add(200 * time.Millisecond) // no leader: try again soon
		}
	}
}
