package stream

import (
	"context"
	"time"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/envelope"
	"github.com/cityhighway/highway/highway/record"
)

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
	st.reject(b, note, envelope.WholeRecord, reason)
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
		// As with inserts (see persist), a send under way when the claim
		// ends is let finish: cut off, the broker may still append what it
		// received after the partition's next owner has read the topic's
		// last reject, and that owner sends those rejects again.
		actx, cancel := outlive(ctx, writeGrace)
		defer cancel()
		if attempt > 1 {
			mark, found, err := p.src.LastDeadLetter(actx, p.cfg.Feed.Topic(), msgs[0].Partition)
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
		return p.dlq.SendDeadLetters(actx, msgs, reasons)
	}); err != nil {
		return err
	}
	p.rejected.Add(int64(len(b.bad)))
	p.cfg.Metrics.rejected(p.cfg.Feed.Name, b.reasons)
	return nil
}
