// Package stream owns the processors: consumer-group members that read a
// feed's topic in micro-batches, decode them into Arrow record batches, send
// rejected records to the feed's dead-letter topic, and write the rest to
// ClickHouse, resuming from what ClickHouse already holds so that no row is
// lost or written twice.
package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/record"
	"github.com/cityhighway/highway/highway/store"
)

// Sink is where a processor writes rows: the parts of *store.Store it uses,
// so tests can hand in their own.
type Sink interface {
	EnsureFeedTable(ctx context.Context, feed *catalog.Feed) error
	// InsertMissing inserts the rows of rec whose (offset, month) is not in
	// landed (nil: all of them); see store's "Exactly once, per batch".
	InsertMissing(ctx context.Context, feed *catalog.Feed, rec arrow.RecordBatch, prov store.Provenance, landed store.Landed) (inserted, skipped int, err error)
	// Landed says which (offset, month) pairs of offsets [from, to) of
	// topic/partition the feed's table holds.
	Landed(ctx context.Context, feed *catalog.Feed, topic string, partition int, from, to int64) (store.Landed, error)
	// ResumePoint reads the batch ledger's and the table's offsets.
	ResumePoint(ctx context.Context, feed *catalog.Feed, topic string, partition int) (store.Resume, error)
	// RecordProgress writes to the batch ledger that every record before
	// next is written.
	RecordProgress(ctx context.Context, topic string, partition int, next int64) error
	MaxEventTime(ctx context.Context, feed *catalog.Feed, topic string, partition int) (time.Time, error)
	MinEventTime(ctx context.Context, feed *catalog.Feed) (time.Time, error)
	RecentIdentities(ctx context.Context, feed *catalog.Feed, topic string, partition int, since time.Time) ([]record.Identity, error)
	EnsureWindowTable(ctx context.Context, feed *catalog.Feed, w catalog.Window) error
	LastWindowEnd(ctx context.Context, feed *catalog.Feed, w catalog.Window) (time.Time, error)
	AggregateWindows(ctx context.Context, feed *catalog.Feed, w catalog.Window, from, to time.Time) error
}

// Source is the Kafka side of a processor: the parts of *bus.Bus it uses.
type Source interface {
	Consume(ctx context.Context, group, topic string, handle bus.ClaimHandler) error
	// LastDeadLetter says which rejects of topic/partition the dead-letter
	// topic already holds.
	LastDeadLetter(ctx context.Context, topic string, partition int) (bus.DeadLetterMark, bool, error)
}

// DeadLetters receives rejected records: the part of *bus.Producer it uses.
type DeadLetters interface {
	SendDeadLetters(ctx context.Context, msgs []bus.Message, reasons []string) error
}

// Config configures one processor.
type Config struct {
	// Feed is the feed whose topic is consumed. Required.
	Feed *catalog.Feed
	// Pipeline, when set, adds de-duplication, enrichment and windows, and
	// its batch limits replace MaxRows, MaxBytes and MaxWait.
	Pipeline *catalog.Pipeline
	// Group is the consumer group. Default "highway.<feed>".
	Group string
	// MaxRows bounds a micro-batch. Default catalog.DefaultBatch.Rows.
	MaxRows int
	// MaxBytes bounds the bytes of a micro-batch. Default 16 MiB.
	MaxBytes int64
	// MaxWait bounds how long a micro-batch waits to fill after its first
	// record. Default 500ms.
	MaxWait time.Duration
	// InFlight bounds the micro-batches of one partition that exist at
	// once: one being written to ClickHouse while the next ones are fetched
	// and decoded. Default 2; at least 2.
	InFlight int
	// RetryMin and RetryMax bound the backoff between attempts when
	// ClickHouse or Kafka fail. Defaults 200ms and 10s.
	RetryMin, RetryMax time.Duration
	// Logger, default slog.Default().
	Logger *slog.Logger
	// Metrics, when set, receive the processor's counters.
	Metrics *Metrics
}

func (c *Config) defaults() error {
	if c.Feed == nil {
		return errors.New("stream: Config.Feed is required")
	}
	if c.Group == "" {
		c.Group = "highway." + c.Feed.Name
	}
	if c.Pipeline != nil {
		if c.Pipeline.Source != c.Feed.Name {
			return fmt.Errorf("stream: pipeline %s reads %s, not %s", c.Pipeline.Name, c.Pipeline.Source, c.Feed.Name)
		}
		c.MaxRows, c.MaxBytes, c.MaxWait = c.Pipeline.Batch.Rows, c.Pipeline.Batch.Bytes, c.Pipeline.Batch.MaxWait
	}
	if c.MaxRows <= 0 {
		c.MaxRows = catalog.DefaultBatch.Rows
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = catalog.DefaultBatch.Bytes
	}
	if c.MaxWait <= 0 {
		c.MaxWait = catalog.DefaultBatch.MaxWait
	}
	if c.InFlight < 2 {
		c.InFlight = 2
	}
	if c.RetryMin <= 0 {
		c.RetryMin = 200 * time.Millisecond
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = max(10*time.Second, c.RetryMin)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Processor moves one feed from Kafka to ClickHouse.
type Processor struct {
	cfg  Config
	src  Source
	sink Sink
	dlq  DeadLetters
	log  *slog.Logger

	in, written, rejected, duplicates atomic.Int64
	lags                              sync.Map // partition → *atomic.Int64

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
	// Lag is the sum over claimed partitions of records not yet fetched.
	Lag int64
}

// Stats returns the processor's counters. It is safe to call concurrently
// with Run.
func (p *Processor) Stats() Stats {
	s := Stats{In: p.in.Load(), Written: p.written.Load(), Rejected: p.rejected.Load(), Duplicates: p.duplicates.Load()}
	p.lags.Range(func(_, v any) bool {
		if l := v.(*atomic.Int64).Load(); l > 0 {
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

// consume handles one claimed partition.
func (p *Processor) consume(ctx context.Context, c *bus.Claim) error {
	log := p.log.With("partition", c.Partition)
	feed := p.cfg.Feed
	var res store.Resume
	if err := retry(ctx, p, "reading where ClickHouse stands", func() (err error) {
		res, err = p.sink.ResumePoint(ctx, feed, c.Topic, c.Partition)
		return err
	}); err != nil {
		return nilIfDone(ctx, err)
	}
	st := &partitionState{}
	if err := retry(ctx, p, "reading the dead-letter topic's last reject", func() (err error) {
		st.mark, st.marked, err = p.src.LastDeadLetter(ctx, c.Topic, c.Partition)
		return err
	}); err != nil {
		return nilIfDone(ctx, err)
	}
	start, checkUntil := resumeAt(res, c.Committed)
	if !res.HasLedger && checkUntil-max(start, 0) > maxUnledgered {
		// A table an older highway wrote, which kept no ledger: trust its
		// highest offset, as that version did.
		log.Warn("no batch ledger entry for the partition and a long way to check; resuming after the table's highest offset", "table_next", res.TableNext, "committed", c.Committed)
		start, checkUntil = res.TableNext, res.TableNext
	}
	var landed store.Landed
	if checkUntil > max(start, 0) {
		// The previous owner may have written rows past the ledger before it
		// stopped, some months of a batch and not others: find which.
		if err := retry(ctx, p, "reading which rows past the ledger landed", func() (err error) {
			landed, err = p.sink.Landed(ctx, feed, c.Topic, c.Partition, max(start, 0), checkUntil)
			return err
		}); err != nil {
			return nilIfDone(ctx, err)
		}
	}
	if start >= 0 {
		if err := c.SeekTo(start); err != nil {
			return err
		}
	}
	log.Info("partition assigned", "committed", c.Committed, "ledger", res.Ledger, "has_ledger", res.HasLedger,
		"table_next", res.TableNext, "start", start, "check_until", checkUntil, "landed_parts", len(landed))

	lag := &atomic.Int64{}
	p.lags.Store(c.Partition, lag)
	defer p.lags.Delete(c.Partition)

	dec := record.NewDecoder(p.cfg.Feed)
	defer dec.Release()
	if err := p.preparePartition(ctx, c, dec, st); err != nil {
		return nilIfDone(ctx, err)
	}
	defer func() {
		for _, ws := range p.windows {
			ws.w.RemovePartition(c.Partition)
		}
	}()

	// Two stages, so that the next micro-batch is fetched and decoded while
	// ClickHouse takes the last one: at most InFlight batches exist at once
	// (one being persisted, the others decoded and waiting), which bounds
	// memory whatever the backlog.
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	decoded := make(chan *batch, max(p.cfg.InFlight-2, 0))
	fetchErr := make(chan error, 1)
	go func() {
		defer close(decoded)
		for {
			var msgs []bus.Message
			// A broker that restarts or moves the partition makes fetches
			// fail for a while; wait for it rather than give the partition up.
			var bad *bus.BadBatchError
			err := retry(gctx, p, "fetching from Kafka", func() (err error) {
				msgs, err = c.Fetch(gctx, p.cfg.MaxRows, p.cfg.MaxBytes, p.cfg.MaxWait)
				if errors.As(err, &bad) {
					return permanent{err} // the broker holds it as it is: no retry helps
				}
				return err
			})
			var b *batch
			switch {
			case bad != nil:
				b = p.badBatch(dec, bad, st)
			case err != nil:
				fetchErr <- err
				return
			default:
				if start >= 0 {
					// Never write a row twice, whatever the broker hands back.
					if msgs = dropBefore(msgs, start); len(msgs) == 0 {
						continue
					}
				}
				lag.Store(c.Lag())
				p.cfg.Metrics.lag(p.cfg.Feed.Name, c.Partition, c.Lag())
				st.pend = make([]Pending, len(p.windows))
				b = p.decode(dec, msgs, st)
			}
			start = b.next
			if landed != nil {
				b.landed = landed
				if b.next >= checkUntil {
					landed = nil // past what the previous owner may have written
				}
			}
			select {
			case decoded <- b:
			case <-gctx.Done():
				b.rec.Release()
				return
			}
		}
	}()
	fail := func(err error) error {
		cancel()
		for b := range decoded { // let the fetcher finish before the decoder is freed
			b.rec.Release()
		}
		return nilIfDone(ctx, err)
	}
	// The commit is a convenience (ClickHouse's offsets are the truth):
	// at most one a second, and the last one when the claim ends, rather
	// than a round trip to the group coordinator after every batch.
	var lastCommit time.Time
	uncommitted := int64(-1)
	commit := func(next int64) {
		// The ledger first: it is what the next owner resumes from.
		lctx, cancelLedger := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if err := p.sink.RecordProgress(lctx, c.Topic, c.Partition, next); err != nil {
			log.Warn("writing the batch ledger failed; the next owner checks which rows landed from the last entry on", "offset", next, "err", err)
		}
		cancelLedger()
		if err := c.Commit(next); err != nil && ctx.Err() == nil {
			log.Warn("commit failed; the batch ledger in ClickHouse still makes the restart exact", "offset", next, "err", err)
		}
		lastCommit, uncommitted = time.Now(), -1
	}
	defer func() {
		if uncommitted >= 0 {
			commit(uncommitted)
		}
	}()
	for b := range decoded {
		if err := p.persist(gctx, b); err != nil {
			return fail(err)
		}
		now := time.Now()
		for i, ws := range p.windows {
			if i < len(b.pend) {
				ws.w.Advance(c.Partition, &b.pend[i], now)
			}
		}
		if len(p.windows) > 0 && b.rec.NumRows() > 0 {
			if err := p.fire(gctx); err != nil {
				return fail(err)
			}
		}
		uncommitted = b.next
		if time.Since(lastCommit) >= commitInterval {
			commit(b.next)
		}
	}
	select {
	case err := <-fetchErr:
		return nilIfDone(ctx, err)
	default:
		return nil
	}
}

// commitInterval spaces a partition's batch-ledger entries and Kafka
// commits.
const commitInterval = time.Second

// maxUnledgered bounds the offsets a claim checks for rows that already
// landed when the partition has no batch-ledger entry at all.
const maxUnledgered = 1_000_000

// resumeAt returns where a claim starts reading (negative: at the first
// offset Kafka holds) and the offset up to which what it reads may already
// be in the table, in part: from the batch ledger (or the group's commit,
// which is made after the ledger) up to the table's highest offset. A
// ledger entry counts only while the table holds rows of the partition: a
// table dropped (or emptied) to be filled again from Kafka starts over from
// the group's commit, as it did before the ledger, and the dead-letter
// topic's mark keeps its rejects from being sent twice.
func resumeAt(res store.Resume, committed int64) (start, checkUntil int64) {
	start = committed
	if res.HasLedger && res.HasRows && res.Ledger > start {
		start = res.Ledger
	}
	checkUntil = max(start, 0)
	if res.HasRows && res.TableNext > checkUntil {
		checkUntil = res.TableNext
	}
	return start, checkUntil
}

// partitionState is what the decoding of one claimed partition keeps:
// where Observe notes the batch being decoded, one Pending per window, and
// which rejects the dead-letter topic held when the claim began.
type partitionState struct {
	pend   []Pending
	mark   bus.DeadLetterMark
	marked bool
}

// reject adds a rejected message to b, unless the dead-letter topic held it
// already when the claim began (its previous owner sent it and stopped
// before the rows of its batch landed).
func (st *partitionState) reject(b *batch, m bus.Message, row int, reason string) {
	if st.marked && st.mark.Covers(m.Offset, row) {
		return
	}
	b.bad = append(b.bad, m)
	b.rows = append(b.rows, row)
	b.reasons = append(b.reasons, reason)
}

// preparePartition sets up what a claimed partition needs beyond decoding:
// enrichment, and the de-duplication and window state rebuilt from what
// ClickHouse holds of the partition.
func (p *Processor) preparePartition(ctx context.Context, c *bus.Claim, dec *record.Decoder, st *partitionState) error {
	pl := p.cfg.Pipeline
	if pl == nil {
		return nil
	}
	feed := p.cfg.Feed
	for _, e := range pl.Enrich {
		if err := dec.AddLookup(e.Field, e.From, e.Values); err != nil {
			return err
		}
	}
	var maxEvent time.Time
	if err := retry(ctx, p, "reading the partition's watermark", func() (err error) {
		maxEvent, err = p.sink.MaxEventTime(ctx, feed, c.Topic, c.Partition)
		return err
	}); err != nil {
		return err
	}
	now := time.Now()
	for _, ws := range p.windows {
		ws.w.AddPartition(c.Partition, maxEvent, now)
	}
	var seen *dedupeSet
	if pl.Dedupe > 0 {
		seen = newDedupeSet(pl.Dedupe)
		var ids []record.Identity
		if err := retry(ctx, p, "reading recent keys for de-duplication", func() (err error) {
			ids, err = p.sink.RecentIdentities(ctx, feed, c.Topic, c.Partition, maxEvent.Add(-pl.Dedupe))
			return err
		}); err != nil {
			return err
		}
		for _, id := range ids {
			seen.add(id, maxEvent)
		}
	}
	if seen == nil && len(p.windows) == 0 {
		return nil
	}
	partition := c.Partition
	dec.SetFilter(func(id record.Identity, event time.Time) error {
		if seen != nil && !seen.add(id, event) {
			return record.ErrDuplicate
		}
		now := time.Now()
		for i, ws := range p.windows {
			if !ws.w.Observe(partition, event, now, &st.pend[i]) {
				return &record.Reject{Field: feed.EventTime, Value: event.Format(time.RFC3339),
					Reason: fmt.Sprintf("late: window %s has closed (watermark %s, allowed lateness %s)", ws.spec.Name, ws.w.Watermark(now).Format(time.RFC3339), ws.spec.Lateness)}
			}
		}
		return nil
	})
	return nil
}

// badBatch turns a record batch Kafka holds but no one can read (see
// bus.BadBatchError) into a micro-batch of one dead-letter record without a
// value, whose headers say where the batch is and whose reason says why, so
// that nothing goes missing unnoticed; the claim then reads on after it. It
// travels with the other micro-batches, so the dead-letter topic keeps
// source order.
func (p *Processor) badBatch(dec *record.Decoder, bad *bus.BadBatchError, st *partitionState) *batch {
	reason := bad.Error() + "; skipped, its records stay in Kafka until the topic's retention"
	p.log.Error("skipping an unreadable record batch", "partition", bad.Partition, "first_offset", bad.First, "next_offset", bad.Next, "reason", bad.Reason)
	b := &batch{rec: dec.NewRecordBatch(), next: bad.Next, began: time.Now()}
	note := bus.Message{Topic: bad.Topic, Partition: bad.Partition, Offset: bad.First, Time: time.Now()}
	st.reject(b, note, bus.WholeRecord, reason)
	return b
}

// deadLetter sends a batch's rejects to the dead-letter topic, retrying
// until Kafka takes them, and counts them. A retry first asks the topic
// which of them it holds (a failed send may have landed in part) and sends
// the rest, so each reject is there once.
func (p *Processor) deadLetter(ctx context.Context, b *batch) error {
	msgs, rows, reasons := b.bad, b.rows, b.reasons
	attempt := 0
	if err := retry(ctx, p, "sending rejects to the dead-letter topic", func() error {
		attempt++
		if attempt > 1 {
			mark, found, err := p.src.LastDeadLetter(ctx, p.cfg.Feed.Topic(), msgs[0].Partition)
			if err != nil {
				return err
			}
			if found {
				st := partitionState{mark: mark, marked: true}
				rest := &batch{}
				for i, m := range msgs {
					st.reject(rest, m, rows[i], reasons[i])
				}
				msgs, rows, reasons = rest.bad, rest.rows, rest.reasons
				if len(msgs) == 0 {
					return nil
				}
			}
		}
		return p.dlq.SendDeadLetters(ctx, msgs, reasons)
	}); err != nil {
		return err
	}
	p.rejected.Add(int64(len(b.bad)))
	p.cfg.Metrics.rejected(p.cfg.Feed.Name, b.reasons)
	return nil
}

func dropBefore(msgs []bus.Message, offset int64) []bus.Message {
	i := 0
	for i < len(msgs) && msgs[i].Offset < offset {
		i++
	}
	return msgs[i:]
}

// batch is one decoded micro-batch of one partition, on its way to
// ClickHouse.
type batch struct {
	msgs    int
	rec     arrow.RecordBatch
	prov    store.Provenance
	bad     []bus.Message
	rows    []int // of each reject: its row in an Arrow message, or bus.WholeRecord
	reasons []string
	pend    []Pending
	// landed, when set, holds which rows of the batch's offsets the table
	// may already have (the claim's previous owner wrote them).
	landed store.Landed
	next   int64 // the offset after the batch's last message
	began  time.Time
}

// decode turns one micro-batch into Arrow rows and rejects. st.pend
// receives what the windows observe of it.
func (p *Processor) decode(dec *record.Decoder, msgs []bus.Message, st *partitionState) *batch {
	pend := st.pend
	feed := p.cfg.Feed
	b := &batch{msgs: len(msgs), prov: store.Provenance{Topic: feed.Topic(),
		Partitions: make([]int32, 0, len(msgs)), Offsets: make([]int64, 0, len(msgs))},
		pend: pend, next: msgs[len(msgs)-1].Offset + 1, began: time.Now()}
	dec.Reserve(len(msgs))
	srcs := sources{version: feed.Version}
	for _, m := range msgs {
		h := readHeaders(&m)
		if string(h.contentType) == record.ContentTypeArrow {
			// An Arrow message carries many rows under one offset.
			n, rowRejects, err := dec.AppendIPC(m.Value)
			for i := 0; i < n; i++ {
				b.prov.Partitions = append(b.prov.Partitions, int32(m.Partition))
				b.prov.Offsets = append(b.prov.Offsets, m.Offset)
				srcs.add(&b.prov, &h)
			}
			for _, rr := range rowRejects {
				row := m.Clone() // the message's bytes are reused by the next fetch
				row.Value = rr.JSON
				row.Headers = []bus.Header{
					{Key: bus.HeaderContentType, Value: []byte(record.ContentTypeJSON)},
					{Key: bus.HeaderSourceRow, Value: []byte(strconv.Itoa(rr.Row))},
				}
				st.reject(b, row, rr.Row, fmt.Sprintf("row %d of Arrow message: %v", rr.Row, rr.Err))
			}
			if err != nil {
				st.reject(b, m.Clone(), bus.WholeRecord, err.Error())
			}
			continue
		}
		if err := dec.Append(m.Value); err != nil {
			if errors.Is(err, record.ErrDuplicate) {
				p.duplicates.Add(1)
				p.cfg.Metrics.duplicate(feed.Name)
				continue
			}
			st.reject(b, m.Clone(), bus.WholeRecord, err.Error())
			continue
		}
		b.prov.Partitions = append(b.prov.Partitions, int32(m.Partition))
		b.prov.Offsets = append(b.prov.Offsets, m.Offset)
		srcs.add(&b.prov, &h)
	}
	b.rec = dec.NewRecordBatch()
	p.in.Add(int64(len(msgs)))
	return b
}

// persist sends a batch's rejects to the DLQ, then inserts its rows,
// retrying until ClickHouse takes them; it releases the batch. Rejects go
// first: once the rows are in ClickHouse and the batch ledger says so, a
// restart resumes after them, so a reject sent later could be lost.
func (p *Processor) persist(ctx context.Context, b *batch) error {
	defer b.rec.Release()
	feed := p.cfg.Feed
	if len(b.bad) > 0 {
		if err := p.deadLetter(ctx, b); err != nil {
			return err
		}
		p.log.Debug("rejected records", "count", len(b.bad), "first_offset", b.bad[0].Offset, "first_reason", b.reasons[0])
	}
	if n := len(b.prov.Offsets); n > 0 {
		partition := int(b.prov.Partitions[0])
		landed := b.landed
		attempt, inserted, skipped := 0, 0, 0
		err := retry(ctx, p, "inserting into ClickHouse", func() (err error) {
			attempt++
			if attempt > 1 {
				// A failed insert may have landed in part (ClickHouse commits
				// each month of a block on its own): ask which rows it has
				// and insert the others.
				landed, err = p.sink.Landed(ctx, feed, feed.Topic(), partition, b.prov.Offsets[0], b.prov.Offsets[n-1]+1)
				if err != nil {
					return err
				}
			}
			b.prov.IngestedAt = time.Now()
			inserted, skipped, err = p.sink.InsertMissing(ctx, feed, b.rec, b.prov, landed)
			return err
		})
		if err != nil {
			return err
		}
		if skipped > 0 {
			p.log.Info("rows already in ClickHouse left out of a batch", "partition", partition, "first_offset", b.prov.Offsets[0], "skipped", skipped, "inserted", inserted)
			p.cfg.Metrics.alreadyLanded(feed.Name, skipped)
		}
		p.written.Add(int64(inserted))
	}
	p.cfg.Metrics.batch(feed.Name, b.msgs, int(b.rec.NumRows()), time.Since(b.began))
	return nil
}

// add appends a record's provenance headers to prov's per-row slices,
// which stay nil until a message has any (most batches of a feed come from
// one connector, or none).
func (s *sources) add(prov *store.Provenance, h *headers) {
	row := len(prov.Offsets) - 1
	if prov.Sources == nil {
		if h.source == nil && h.etag == nil && h.fetchedAt == nil && h.schemaVersion == nil {
			return
		}
		prov.Sources, prov.ETags = make([]string, row, cap(prov.Offsets)), make([]string, row, cap(prov.Offsets))
		prov.FetchedAt, prov.SchemaVersions = make([]int64, row, cap(prov.Offsets)), make([]uint32, row, cap(prov.Offsets))
		for i := range prov.SchemaVersions {
			prov.SchemaVersions[i] = uint32(s.version)
		}
	}
	// The records of one poll arrive together with the same headers:
	// parse them once per run.
	if !s.parsed || !bytes.Equal(h.source, s.last.source) || !bytes.Equal(h.etag, s.last.etag) ||
		!bytes.Equal(h.fetchedAt, s.last.fetchedAt) || !bytes.Equal(h.schemaVersion, s.last.schemaVersion) {
		s.parsed, s.last = true, *h
		s.source, s.etag = string(h.source), string(h.etag)
		s.at = 0
		if t, err := time.Parse(time.RFC3339Nano, string(h.fetchedAt)); err == nil {
			s.at = t.Unix()
		}
		s.v = uint32(s.version)
		if n, err := strconv.ParseUint(string(h.schemaVersion), 10, 32); err == nil {
			s.v = uint32(n)
		}
	}
	prov.Sources = append(prov.Sources, s.source)
	prov.ETags = append(prov.ETags, s.etag)
	prov.FetchedAt = append(prov.FetchedAt, s.at)
	prov.SchemaVersions = append(prov.SchemaVersions, s.v)
}

// headers are the record headers the processor reads.
type headers struct {
	contentType, source, etag, fetchedAt, schemaVersion []byte
}

// readHeaders finds m's headers in one pass (the first of each name, as
// Message.Header does).
func readHeaders(m *bus.Message) headers {
	var h headers
	for _, kv := range m.Headers {
		var dst *[]byte
		switch kv.Key {
		case bus.HeaderContentType:
			dst = &h.contentType
		case record.HeaderSource:
			dst = &h.source
		case record.HeaderETag:
			dst = &h.etag
		case record.HeaderFetchedAt:
			dst = &h.fetchedAt
		case record.HeaderSchemaVersion:
			dst = &h.schemaVersion
		default:
			continue
		}
		if *dst == nil {
			*dst = kv.Value
		}
	}
	return h
}

// sources turns provenance headers into the batch's per-row provenance,
// remembering the last message's so a run of records from one poll is
// parsed once.
type sources struct {
	version int
	parsed  bool
	last    headers
	source  string
	etag    string
	at      int64
	v       uint32
}

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
		p.log.Warn("waiting before retry", "while", what, "attempt", attempt, "wait", wait, "err", err)
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
