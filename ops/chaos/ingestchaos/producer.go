package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/cityhighway/highway/highway/bus"
)

// recordPlan says what record seq is: its event time, and whether it is
// bad. Every badEvery-th record (seq % badEvery == badEvery−1; none when
// badEvery is 0) has a value above the feed's maximum, so the processor
// must send it to the dead-letter topic, once, and never to the table.
//
// The records cycle through
// months (2 by default: an even seq happens in November 2026, an odd one
// the same time of day a month earlier), so that nearly every micro-batch
// spans that many partitions of the feed's table (PARTITION BY
// toYYYYMM(at)); within each month they are eventStep apart:
//
//	at(seq) = the 15th of (November 2026 − seq % months) + (seq / months) × eventStep
//
// so the producer knows each record's 5-minute window without remembering
// it. Each month's records start mid-month, far from either boundary
// whatever the server's time zone, and stay inside it: a full run (some
// 640,000 records) covers 32,000 s ≈ 9 h of each month. The chaos feed has
// no window pipeline, so a record months behind the latest one is not
// late; a pipeline added to it would need a lateness above the months
// spanned.
type recordPlan struct {
	months   int
	badEvery int64
}

// countBad is the number of bad records among seq 0 … n−1.
func (c recordPlan) countBad(n int64) int64 {
	if c.badEvery <= 0 {
		return 0
	}
	return n / c.badEvery
}

// bad says whether record seq is one the processor must reject.
func (c recordPlan) bad(seq int64) bool {
	return c.badEvery > 0 && seq%c.badEvery == c.badEvery-1
}

const (
	eventStep   = 100 * time.Millisecond
	windowSecs  = 300
	produceTick = 50 * time.Millisecond
)

// at is record seq's event time.
func (c recordPlan) at(seq int64) time.Time {
	m := int(seq % int64(c.months))
	return time.Date(2026, time.November-time.Month(m), 15, 0, 0, 0, 0, time.UTC).Add(time.Duration(seq/int64(c.months)) * eventStep)
}

// window is the start (Unix seconds) of the 5-minute window of seq's event
// time, as ClickHouse computes it: intDiv(toUInt32(at), 300) * 300.
func (c recordPlan) window(seq int64) int64 {
	return c.at(seq).Unix() / windowSecs * windowSecs
}

// record is the JSON of record seq. The event time is in milliseconds
// since 1970; ClickHouse keeps whole seconds. A bad record's value is
// 5000, above the feed's maximum of 1000.
func (c recordPlan) record(seq int64) []byte {
	value := seq % 997
	if c.bad(seq) {
		value = 5000
	}
	return fmt.Appendf(nil, `{"id":"e%d","seq":%d,"station":"s%02d","value":%d.%d,"at":%d}`, seq, seq, seq%50, value, seq%10, c.at(seq).UnixMilli())
}

// producer writes records at a steady rate, retrying each batch with the
// same records until Kafka acknowledges it. Acknowledged records are
// exactly seq 0 … acked()−1.
type producer struct {
	prod  *bus.Producer
	plan  recordPlan
	topic string
	rate  int
	log   *slog.Logger

	mu       sync.Mutex
	next     int64 // first seq not yet acknowledged
	attempts int   // failed produce attempts
	outage   time.Duration
}

// acked returns the number of acknowledged records.
func (p *producer) acked() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.next
}

// failures returns the failed attempts and the total time spent retrying.
func (p *producer) failures() (int, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.attempts, p.outage
}

// run produces until ctx ends; the batch in flight then is still retried
// until acknowledged, for at most finish. It returns an error only when that
// last batch could not be acknowledged.
func (p *producer) run(ctx context.Context, finish time.Duration) error {
	t := time.NewTicker(produceTick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		// A batch covers the time since the last one (a slow produce call
		// makes the ticker skip), at most one second, so the rate holds
		// without a burst after an outage.
		now := time.Now()
		per := max(1, int(float64(p.rate)*min(now.Sub(last), time.Second).Seconds()))
		last = now
		from := p.acked()
		msgs := make([]bus.Message, per)
		for i := range msgs {
			seq := from + int64(i)
			msgs[i] = bus.Message{Topic: p.topic, Key: []byte("e" + strconv.FormatInt(seq, 10)), Value: p.plan.record(seq)}
		}
		// Retry the records not yet written (bus.Unsent; the others are,
		// once) until acknowledged, as a careful client does. After ctx
		// ends, keep trying for `finish` so the tally ends on an
		// acknowledged batch.
		var failedSince time.Time
		pending := msgs
		for attempt := 1; ; attempt++ {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
			err := p.prod.Produce(actx, pending...)
			cancel()
			pending = bus.Unsent(pending, err)
			if err == nil {
				p.mu.Lock()
				p.next = from + int64(per)
				if !failedSince.IsZero() {
					p.outage += time.Since(failedSince)
				}
				p.mu.Unlock()
				if attempt > 1 {
					p.log.Info("producer: batch acknowledged after retries", "first_seq", from, "attempts", attempt, "outage", time.Since(failedSince).Round(100*time.Millisecond))
				}
				break
			}
			if failedSince.IsZero() {
				failedSince = time.Now()
			}
			p.mu.Lock()
			p.attempts++
			p.mu.Unlock()
			if attempt == 1 || attempt%10 == 0 {
				p.log.Warn("producer: batch failed; retrying the same records", "first_seq", from, "attempt", attempt, "err", err)
			}
			if ctx.Err() != nil && time.Since(failedSince) > finish {
				return fmt.Errorf("the last batch (seq %d…%d) was not acknowledged within %s after the end", from, from+int64(per)-1, finish)
			}
			time.Sleep(min(time.Duration(attempt)*200*time.Millisecond, 2*time.Second))
		}
	}
}
