package stream

import (
	"sync"
	"sync/atomic"
)

// partitionLag is how many records of a claimed partition are not written
// yet: Kafka's end of the partition as of the last fetch, less the offset
// after the last batch written (or where the claim started). Counting from
// what is written, not fetched, a partition whose fetched records wait
// shows them as lag. The fetching goroutine moves the end, the writing one
// the written offset; each reports the new lag to report. Safe for
// concurrent use.
type partitionLag struct {
	mu           sync.Mutex
	end, written int64 // -1 while not known
	report       func(lag int64)
	cur          atomic.Int64 // the last lag, -1 while not known
}

// newPartitionLag returns the lag of a partition whose claim starts at
// written (negative: not known until a batch is written).
func newPartitionLag(written int64, report func(lag int64)) *partitionLag {
	l := &partitionLag{end: -1, written: max(written, -1), report: report}
	l.cur.Store(-1)
	return l
}

// fetched notes end, the partition's high watermark at a fetch (negative:
// not known).
func (l *partitionLag) fetched(end int64) {
	if end < 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.end = end
	l.update()
}

// wrote notes that every record before next is written.
func (l *partitionLag) wrote(next int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.written = max(l.written, next)
	l.update()
}

// update computes and reports the lag. l.mu is held.
func (l *partitionLag) update() {
	if l.end < 0 || l.written < 0 {
		return
	}
	n := max(l.end-l.written, 0)
	l.cur.Store(n)
	l.report(n)
}

// load returns the last lag, or -1 when not known yet.
func (l *partitionLag) load() int64 { return l.cur.Load() }
