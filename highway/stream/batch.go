package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/envelope"
	"github.com/cityhighway/highway/highway/record"
	"github.com/cityhighway/highway/highway/store"
)

// batch is one decoded micro-batch of one partition, on its way to
// ClickHouse.
type batch struct {
	msgs    int
	rec     arrow.RecordBatch
	prov    store.Provenance
	bad     []bus.Message
	rows    []int // of each reject: its row in an Arrow message, or envelope.WholeRecord
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
	var srcs sources
	for _, m := range msgs {
		h := m.RawEnvelope()
		src := srcs.of(&h)
		if string(h.ContentType()) == record.ContentTypeArrow {
			// An Arrow message carries many rows under one offset.
			n, rowRejects, err := dec.AppendIPC(m.Value)
			for i := 0; i < n; i++ {
				b.prov.Add(int32(m.Partition), m.Offset, src, feed.Version)
			}
			for _, rr := range rowRejects {
				row := m.Clone() // the message's bytes are reused by the next fetch
				row.Value = rr.JSON
				row.Headers = bus.Headers(envelope.Envelope{ContentType: record.ContentTypeJSON, Row: rr.Row, HasRow: true})
				st.reject(b, row, rr.Row, fmt.Sprintf("row %d of Arrow message: %v", rr.Row, rr.Err))
			}
			if err != nil {
				st.reject(b, m.Clone(), envelope.WholeRecord, err.Error())
			}
			continue
		}
		if err := dec.Append(m.Value); err != nil {
			if errors.Is(err, record.ErrDuplicate) {
				p.duplicates.Add(1)
				p.cfg.Metrics.duplicate(feed.Name)
				continue
			}
			st.reject(b, m.Clone(), envelope.WholeRecord, err.Error())
			continue
		}
		b.prov.Add(int32(m.Partition), m.Offset, src, feed.Version)
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
		// One landing time for every attempt: a retry sends the same rows
		// byte for byte, so a replicated table (cluster mode) drops the
		// parts of a failed attempt that did land as duplicate blocks.
		b.prov.IngestedAt = time.Now()
		err := retry(ctx, p, "inserting into ClickHouse", func() (err error) {
			attempt++
			// An attempt under way when the claim ends is let finish: cut
			// off, ClickHouse may still commit the blocks it received after
			// the partition's next owner has read where the table stands,
			// and that owner writes them again (TestProcessorRebalance: 300
			// rows doubled in 3 of 25 runs). No attempt starts after it.
			actx, cancel := outlive(ctx, writeGrace)
			defer cancel()
			if attempt > 1 {
				// A failed insert may have landed in part (ClickHouse commits
				// each month of a block on its own): ask which rows it has
				// and insert the others.
				landed, err = p.sink.Landed(actx, feed, feed.Topic(), partition, b.prov.Offsets[0], b.prov.Offsets[n-1]+1)
				if err != nil {
					return err
				}
			}
			inserted, skipped, err = p.sink.InsertMissing(actx, feed, b.rec, b.prov, landed)
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

// sources parses the provenance of a micro-batch's messages, once per run
// of messages with the same provenance headers: the records of one poll
// arrive together with the same headers.
type sources struct {
	parsed bool
	last   envelope.Raw
	prov   envelope.Provenance
}

// of returns the provenance that h carries. It stays valid until the next
// call.
func (s *sources) of(h *envelope.Raw) *envelope.Provenance {
	if !s.parsed || !h.SameProvenance(&s.last) {
		s.parsed, s.last = true, *h
		s.prov = h.Provenance()
	}
	return &s.prov
}

// writeGrace is how long a write under way may go on once its claim has
// ended: less than the group's rebalance timeout (the session timeout,
// 10 s by default), within which the next owner waits for this member to
// let the partition go.
const writeGrace = 5 * time.Second

// outlive returns a context for one write that ends grace after ctx ends
// (or when cancel is called): the write finishes, or fails, before the
// claim's handler returns.
func outlive(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(grace, cancel)
		context.AfterFunc(wctx, func() { t.Stop() })
	})
	return wctx, func() { stop(); cancel() }
}
