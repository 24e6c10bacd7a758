package stream

import (
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/cityhighway/highway/highway/bus"
)

// Batches sized to the feed. A partition holds minGrant while it waits for
// records; once they are there it asks its feed's Account for what its
// micro-batch will occupy, judged from what its recent batches did, and
// takes what is free of that: a feed that delivers a few records a minute
// asks for a few kilobytes, one that drains a backlog doubles its grant
// batch after batch up to the spec's byte limit. The grant also bounds what the fetch
// may bring (its values, in bytes), so a batch never takes more than it
// was given by much.

// minGrant is the least a partition acquires before a fetch, and what it
// holds while it waits for records: room for a few hundred small records.
const minGrant = 32 << 10

// firstCost is what a partition expects its first batch to occupy before it
// has seen one: generous, since a partition holds only minGrant while it
// waits and gives back what a batch does not use once it is decoded, while
// batches much smaller than a feed's burst make as many more INSERTs.
const firstCost = 512 << 10

// messageOverhead is what one fetched message occupies beside its key,
// value and headers: its bus.Message in the claim's slice and in the
// response's, and its row's provenance (offset, partition).
const messageOverhead = 2*int64(unsafe.Sizeof(bus.Message{})) + 12

// sizer picks the grant of a partition's next micro-batch. It is used by
// the partition's fetching goroutine only.
type sizer struct {
	// maxValues bounds the value bytes of a batch (the spec's batch bytes);
	// maxGrant is the most one grant may be.
	maxValues, maxGrant int64
	// cost is what the recent batches occupied (a moving average), ratio
	// their cost per byte of values.
	cost, ratio float64
	// rate is the partition's records per second of late (a moving
	// average; 0 before two batches), from each batch's records and the
	// time since the one before began, which was at last.
	rate float64
	last time.Time
	// claimed is when the partition was claimed (claim), zero if not said;
	// quietStart says its first record came too late for the first batch to
	// wait (wait), which makes that record over the time since the claim
	// the first batch's rate.
	claimed    time.Time
	quietStart bool
}

func newSizer(maxValues, maxGrant int64) *sizer {
	return &sizer{maxValues: maxValues, maxGrant: max(maxGrant, minGrant), cost: firstCost, ratio: 3}
}

// grant is how many bytes to acquire before the next fetch: twice the
// recent batches' cost (room to grow), at least minGrant.
func (s *sizer) grant() int64 {
	return min(max(int64(2*s.cost), minGrant), s.maxGrant)
}

// values is how many bytes of values a fetch made with grant bytes may
// bring.
func (s *sizer) values(grant int64) int64 {
	return min(max(int64(float64(grant)/s.ratio), 1), s.maxValues)
}

// claim notes that the partition was claimed at t. A partition whose first
// record comes long after its claim is a quiet one: its first batch goes
// at once, and its records over the time since the claim are the first
// batch's rate, so that its second does not wait out max_wait either. One
// whose first record is there at once (a backlog, a busy feed) waits, and
// its rate is learnt from its batches as before.
func (s *sizer) claim(t time.Time) { s.last, s.claimed = t, t }

// began notes that a batch of n records began at t (its first record was
// there).
func (s *sizer) began(t time.Time, n int) {
	first := !s.claimed.IsZero() && s.last.Equal(s.claimed)
	if !s.last.IsZero() && (!first || s.quietStart) {
		sample := float64(n) / max(t.Sub(s.last).Seconds(), 1e-3)
		if s.rate == 0 {
			s.rate = sample
		} else {
			s.rate = (s.rate + sample) / 2
		}
	}
	s.last = t
}

// wait is how long the next batch waits to fill after its first record:
// maxWait, unless the partition's recent rate says not even one more
// record would come within it (a quiet feed, a record now and then),
// when a batch takes what was fetched with its first record and goes at
// once: waiting would add maxWait to every record's latency and save no
// INSERT. The first batch of a claimed partition (claim) goes at once when
// its first record, there at first, came more than maxWait after the
// claim, and wait notes so for began. A partition of unknown rate
// otherwise (its first two batches) waits maxWait.
func (s *sizer) wait(maxWait time.Duration, first time.Time) time.Duration {
	if s.rate == 0 && !s.claimed.IsZero() && s.last.Equal(s.claimed) {
		s.quietStart = first.Sub(s.claimed) > maxWait // one record since the claim
		if s.quietStart {
			return 0
		}
		return maxWait
	}
	if s.rate > 0 && s.rate*maxWait.Seconds() < 1 {
		return 0
	}
	return maxWait
}

// observe learns from a batch that occupied cost bytes for values bytes of
// values, fetched with a bound of limit value bytes: a batch cut by the
// bound doubles the next grant, others move the average halfway.
func (s *sizer) observe(values, limit, cost int64) {
	if values > 0 {
		s.ratio = max((s.ratio+float64(cost)/float64(values))/2, 1)
	}
	if values >= limit {
		s.cost = max(s.cost*2, float64(cost))
		return
	}
	s.cost = (s.cost + float64(cost)) / 2
}

// batchCost is what a decoded micro-batch occupies until it is written:
// the fetched messages (still in the claim's buffers until the next fetch),
// their Arrow rows and the rejects cloned for the dead-letter topic. It
// returns the value bytes of msgs too.
func batchCost(msgs []bus.Message, b *batch) (cost, values int64) {
	for i := range msgs {
		values += int64(len(msgs[i].Value))
		cost += int64(len(msgs[i].Key)) + messageOverhead
		for _, h := range msgs[i].Headers {
			cost += int64(len(h.Key) + len(h.Value))
		}
	}
	cost += values
	if b.rec != nil {
		for _, col := range b.rec.Columns() {
			cost += dataSize(col.Data())
		}
	}
	for i, m := range b.bad {
		cost += int64(len(m.Key)+len(m.Value)+len(b.reasons[i])) + messageOverhead
	}
	return cost, values
}

// dataSize is the bytes of an Arrow array's buffers and its children's.
func dataSize(d arrow.ArrayData) int64 {
	var n int64
	for _, buf := range d.Buffers() {
		if buf != nil {
			n += int64(buf.Len())
		}
	}
	for _, c := range d.Children() {
		n += dataSize(c)
	}
	return n
}
