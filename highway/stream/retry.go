package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// permanent marks an error that retrying cannot fix.
type permanent struct{ error }

func (e permanent) Unwrap() error { return e.error }

// retry runs fn until it succeeds, returns a permanent error, or ctx ends,
// backing off exponentially and saying what it waits for.
func retry(ctx context.Context, p *Processor, what string, fn func() error) error {
	wait := p.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil {
			if attempt > 1 {
				p.log.Info("recovered", "while", what, "attempts", attempt)
				p.cfg.Metrics.wait(p.cfg.Feed.Name, what, false)
			}
			return nil
		}
		var perm permanent
		if errors.As(err, &perm) {
			return perm.error
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Said at Warn once, and every 30th attempt (some 5 minutes apart),
		// then "recovered"; the attempts in between are at Debug, and
		// highway_processor_waiting is 1 meanwhile.
		lvl := slog.LevelDebug
		if attempt%30 == 1 {
			lvl = slog.LevelWarn
		}
		p.log.Log(ctx, lvl, "waiting before retry", "while", what, "attempt", attempt, "wait", wait, "err", err)
		p.cfg.Metrics.retry(p.cfg.Feed.Name, what)
		p.cfg.Metrics.wait(p.cfg.Feed.Name, what, true)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			p.cfg.Metrics.wait(p.cfg.Feed.Name, what, false)
			return ctx.Err()
		}
		wait = min(wait*2, p.cfg.RetryMax)
	}
}

func nilIfDone(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("processor: %w", err)
}
