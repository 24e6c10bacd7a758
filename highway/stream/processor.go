// Package stream owns the processors: consumer-group members that read a
// feed's topic in micro-batches, decode them into Arrow record batches, send
// rejected records to the feed's dead-letter topic, and write the rest to
// ClickHouse, resuming from what ClickHouse already holds so that no row is
// lost or written twice.
package stream

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// Processor moves one feed from Kafka to ClickHouse.
type Processor struct {
	cfg  Config
	src  Source
	sink Sink
	dlq  DeadLetters
	log  *slog.Logger
	// acct is the feed's part of cfg.Budget while Run runs.
	acct *Account

	in, written, rejected, duplicates, handedBack atomic.Int64
	lags                                          sync.Map // partition → *partitionLag

	windows []*windowState
	fireMu  sync.Mutex // one firing at a time
}

// windowState is one window of the pipeline and its Windower.
type windowState struct {
	spec catalog.Window
	w    *Windower
}

// NewProcessor returns a processor of cfg.Feed that reads from src, writes
// to sink and sends rejects to dlq.
func NewProcessor(cfg Config, src Source, sink Sink, dlq DeadLetters) (*Processor, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	return &Processor{cfg: cfg, src: src, sink: sink, dlq: dlq, log: cfg.Logger.With("feed", cfg.Feed.Name)}, nil
}

// Stats is a snapshot of a processor's counters since it started.
type Stats struct {
	In, Written, Rejected, Duplicates int64
	// HandedBack counts records decoded (in In) that a claim gave up when
	// it ended before writing them: the partition's next owner reads them
	// again, so In - Written - Rejected - HandedBack is what is on its way.
	HandedBack int64
	// Lag is the sum over claimed partitions of records not yet written
	// (Kafka's end as of the last fetch, less the offset after the last
	// batch written).
	Lag int64
}

// Stats returns the processor's counters. It is safe to call concurrently
// with Run.
func (p *Processor) Stats() Stats {
	s := Stats{In: p.in.Load(), Written: p.written.Load(), Rejected: p.rejected.Load(), Duplicates: p.duplicates.Load(), HandedBack: p.handedBack.Load()}
	p.lags.Range(func(_, v any) bool {
		if l := v.(*partitionLag).load(); l > 0 {
			s.Lag += l
		}
		return true
	})
	return s
}

// Run creates or evolves the feed's table, then consumes until ctx ends
// (returning nil) or something fails that retrying cannot fix.
func (p *Processor) Run(ctx context.Context) error {
	if err := retry(ctx, p, "creating the table", func() error {
		err := p.sink.EnsureFeedTable(ctx, p.cfg.Feed)
		if errors.Is(err, store.ErrIncompatibleSchema) {
			return permanent{err}
		}
		return err
	}); err != nil {
		return err
	}
	if err := p.startWindows(ctx); err != nil {
		return err
	}
	p.acct = p.cfg.Budget.Account(p.cfg.Feed.Name)
	defer p.acct.Close()
	p.log.Info("processor started", "topic", p.cfg.Feed.Topic(), "group", p.cfg.Group, "max_rows", p.cfg.MaxRows, "max_wait", p.cfg.MaxWait, "windows", len(p.windows))
	if len(p.windows) > 0 {
		go p.fireLoop(ctx)
	}
	return p.src.Consume(ctx, p.cfg.Group, p.cfg.Feed.Topic(), p.consume)
}

// startWindows creates the window tables and restores where firing stands.
func (p *Processor) startWindows(ctx context.Context) error {
	if p.cfg.Pipeline == nil {
		return nil
	}
	feed := p.cfg.Feed
	for _, spec := range p.cfg.Pipeline.Windows {
		ws := &windowState{spec: spec, w: NewWindower(spec)}
		err := retry(ctx, p, "restoring window "+spec.Name, func() error {
			if err := p.sink.EnsureWindowTable(ctx, feed, spec); err != nil {
				return err
			}
			last, err := p.sink.LastWindowEnd(ctx, feed, spec)
			if err != nil {
				return err
			}
			if !last.IsZero() {
				ws.w.Restore(last)
				return nil
			}
			first, err := p.sink.MinEventTime(ctx, feed)
			ws.w.StartAt(first)
			return err
		})
		if err != nil {
			return err
		}
		p.windows = append(p.windows, ws)
	}
	return nil
}

// fireLoop fires windows that became due without new records (a partition
// went idle) until ctx ends.
func (p *Processor) fireLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = p.fire(ctx)
		}
	}
}

// fire computes every window that is due, retrying until ClickHouse takes
// it; if ctx ends first the firing is put back for the next processor.
func (p *Processor) fire(ctx context.Context) error {
	p.fireMu.Lock()
	defer p.fireMu.Unlock()
	feed := p.cfg.Feed
	for _, ws := range p.windows {
		now := time.Now()
		f := ws.w.Due(now)
		p.cfg.Metrics.watermark(feed.Name, ws.spec.Name, ws.w.Watermark(now))
		if f.Empty() {
			continue
		}
		err := retry(ctx, p, "computing window "+ws.spec.Name, func() error {
			if err := p.sink.AggregateWindows(ctx, feed, ws.spec, f.From, f.To); err != nil {
				return err
			}
			for _, start := range f.Again {
				if err := p.sink.AggregateWindows(ctx, feed, ws.spec, start, start.Add(ws.spec.Hop)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			ws.w.Undo(f)
			return err
		}
		p.cfg.Metrics.fired(feed.Name, ws.spec.Name, f)
		p.log.Debug("windows fired", "window", ws.spec.Name, "from", f.From, "to", f.To, "corrected", len(f.Again))
	}
	return nil
}
