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

// Event times: the records alternate between two months, so that nearly
// every micro-batch spans two partitions of the feed's table (PARTITION BY
// toYYYYMM(at)): an even seq happens in November, an odd one the same time
// of day a month earlier, eventStep apart within each half,
//
//	at(seq) = base[seq % 2] + (seq / 2) × eventStep
//
// so the producer knows each record's 5-minute window without remembering
// it. Both halves start mid-month, far from either boundary, whatever the
// server's time zone, and stay inside their month: a full run (some 600,000
// records) covers 30,000 s ≈ 8.3 h of each. The chaos feed has no window
// pipeline, so a record a month behind the latest one is not late; a
// pipeline added to it would need a lateness above 31 days.
var eventBase = [2]time.Time{
	time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC),
	time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC),
}

const (
	eventStep   = 100 * time.Millisecond
	windowSecs  = 300
	produceTick = 50 * time.Millisecond
)

// eventTime is record seq's event time.
func eventTime(seq int64) time.Time {
	return eventBase[seq%2].Add(time.Duration(seq/2) * eventStep)
}

// windowOf is the start (Unix seconds) of the 5-minute window of seq's
// event time, as ClickHouse computes it: intDiv(toUInt32(at), 300) * 300.
func windowOf(seq int64) int64 {
	return eventTime(seq).Unix() / windowSecs * windowSecs
}

// recordOf is the JSON of record seq. The event time is in milliseconds
// since 1970; ClickHouse keeps whole seconds.
func recordOf(seq int64) []byte {
	return fmt.Appendf(nil, `{"id":"e%d","seq":%d,"station":"s%02d","value":%d.%d,"at":%d}`, seq, seq, seq%50, seq%997, seq%10, eventTime(seq).UnixMilli())
}

// producer writes records at a steady rate, retrying each batch with the
// same records until Kafka acknowledges it. Acknowledged records are
// exactly seq 0 … acked()−1.
type producer struct {
	prod  *bus.Producer
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
			msgs[i] = bus.Message{Topic: p.topic, Key: []byte("e" + strconv.FormatInt(seq, 10)), Value: recordOf(seq)}
		}
		// Retry the same records until acknowledged. After ctx ends, keep
		// trying for `finish` so the tally ends on an acknowledged batch.
		var failedSince time.Time
		for attempt := 1; ; attempt++ {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
			err := p.prod.Produce(actx, msgs...)
			cancel()
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
