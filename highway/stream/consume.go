package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/record"
	"github.com/cityhighway/highway/highway/store"
)

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

	lag := newPartitionLag(start, func(n int64) { p.cfg.Metrics.lag(feed.Name, c.Partition, n) })
	p.lags.Store(c.Partition, lag)
	defer func() {
		p.lags.Delete(c.Partition)
		p.cfg.Metrics.forgetLag(feed.Name, c.Partition) // another member has it now, or no one
	}()

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
	decoded := make(chan budgeted, max(p.cfg.InFlight-2, 0))
	fetchErr := make(chan error, 1)
	go func() {
		defer close(decoded)
		sz := newSizer(p.cfg.MaxBytes, p.acct.Clamp(math.MaxInt64))
		sz.claim(time.Now())
		for {
			// Bytes from the budget first: a little to wait for records with
			// (when even that is spent, the backlog waits in Kafka), then,
			// once records are there, what the batch would like if it is
			// free: a quiet partition holds little while it waits.
			grant, err := p.acct.Acquire(gctx, minGrant)
			if err != nil {
				return // the claim ends
			}
			// A broker that restarts or moves the partition makes fetches
			// fail for a while; wait for it rather than give the partition up.
			err = retry(gctx, p, "fetching from Kafka", func() error {
				return c.Wait(gctx, sz.values(grant))
			})
			if err != nil {
				p.acct.Release(grant)
				fetchErr <- err
				return
			}
			if want := sz.grant(); want > grant {
				grant += p.acct.TryAcquire(want-grant, minGrant)
			}
			limit := sz.values(grant)
			arrived := time.Now()
			wait := sz.wait(p.cfg.MaxWait, arrived)
			var msgs []bus.Message
			var bad *bus.BadBatchError
			err = retry(gctx, p, "fetching from Kafka", func() (err error) {
				msgs, err = c.Fetch(gctx, p.cfg.MaxRows, limit, wait)
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
				p.acct.Release(grant)
				fetchErr <- err
				return
			default:
				if start >= 0 {
					// Never write a row twice, whatever the broker hands back.
					if msgs = dropBefore(msgs, start); len(msgs) == 0 {
						p.acct.Release(grant)
						continue
					}
				}
				sz.began(arrived, len(msgs))
				lag.fetched(c.End())
				st.pend = make([]Pending, len(p.windows))
				b = p.decode(dec, msgs, st)
			}
			// Hold what the batch occupies, no more, until it is written.
			cost, values := batchCost(msgs, b)
			c.Done()
			sz.observe(values, limit, cost)
			if cost > grant {
				p.acct.Charge(cost - grant)
			} else {
				p.acct.Release(grant - cost)
			}
			start = b.next
			if landed != nil {
				b.landed = landed
				if b.next >= checkUntil {
					landed = nil // past what the previous owner may have written
				}
			}
			select {
			case decoded <- budgeted{b, cost}:
			case <-gctx.Done():
				p.handedBack.Add(int64(b.msgs))
				b.rec.Release()
				p.acct.Release(cost)
				return
			}
		}
	}()
	fail := func(err error) error {
		cancel()
		for bb := range decoded { // let the fetcher finish before the decoder is freed
			p.handedBack.Add(int64(bb.msgs))
			bb.rec.Release()
			p.acct.Release(bb.held)
		}
		return nilIfDone(ctx, err)
	}
	// The ledger entry and the Kafka commit are made at most once a second
	// per partition, rather than a round trip to ClickHouse and to the group
	// coordinator after every batch; a batch written sooner is recorded
	// when the second is up (flush), whether or not another batch came,
	// and at the latest when the claim ends. A ledger entry that fails is
	// tried again a second later, until one is written.
	var lastCommit time.Time
	uncommitted := int64(-1)
	flush := time.NewTimer(commitInterval)
	flush.Stop()
	defer flush.Stop()
	ledgerFailures := 0 // in a row
	commit := func(next int64) {
		// The ledger first: it is what the next owner resumes from.
		lctx, cancelLedger := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		err := p.sink.RecordProgress(lctx, c.Topic, c.Partition, next)
		cancelLedger()
		lastCommit, uncommitted = time.Now(), -1
		switch {
		case err != nil:
			// Said at Warn once, then at Debug until an entry is written.
			ledgerFailures++
			lvl := slog.LevelDebug
			if ledgerFailures == 1 {
				lvl = slog.LevelWarn
			}
			log.Log(ctx, lvl, "writing the batch ledger failed; trying again in a second (meanwhile a next owner checks which rows landed from the last entry on)", "offset", next, "attempt", ledgerFailures, "err", err)
			uncommitted = next
			flush.Reset(commitInterval)
		case ledgerFailures > 0:
			log.Info("batch ledger written again", "offset", next, "failed_attempts", ledgerFailures)
			ledgerFailures = 0
		}
		if err := c.Commit(next); err != nil && ctx.Err() == nil {
			log.Warn("commit failed; the batch ledger in ClickHouse still makes the restart exact", "offset", next, "err", err)
		}
	}
	defer func() {
		if uncommitted >= 0 {
			commit(uncommitted)
		}
	}()
	for {
		var bb budgeted
		select {
		case next, ok := <-decoded:
			if !ok { // the fetcher ended: with an error it could not retry past, or with the claim
				select {
				case err := <-fetchErr:
					return nilIfDone(ctx, err)
				default:
					return nil
				}
			}
			bb = next
		case <-flush.C:
			if uncommitted >= 0 {
				commit(uncommitted)
			}
			continue
		}
		b := bb.batch
		err := p.persist(gctx, b)
		p.acct.Release(bb.held)
		if err != nil {
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
		lag.wrote(b.next)
		uncommitted = b.next
		if since := time.Since(lastCommit); since >= commitInterval {
			commit(b.next)
		} else {
			flush.Reset(commitInterval - since)
		}
	}
}

// budgeted is a decoded batch and the bytes of the memory budget it
// holds until it is written.
type budgeted struct {
	*batch
	held int64
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

func dropBefore(msgs []bus.Message, offset int64) []bus.Message {
	i := 0
	for i < len(msgs) && msgs[i].Offset < offset {
		i++
	}
	return msgs[i:]
}
