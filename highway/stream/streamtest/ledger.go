package streamtest

import (
	"context"
	"strconv"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/record"
	"github.com/cityhighway/highway/highway/store"
)

// Landed returns the (offset, month) pairs of topic/partition with an
// offset in [from, to) that the feed's table holds.
func (s *Tables) Landed(_ context.Context, feed *catalog.Feed, topic string, partition int, from, to int64) (store.Landed, error) {
	out := store.Landed{}
	s.each(feed, func(r *Row) {
		if r.Topic == topic && int(r.Partition) == partition && r.Offset >= from && r.Offset < to {
			out[r.RowPart] = struct{}{}
		}
	})
	return out, nil
}

// ResumePoint reads the batch ledger's highest entry and the table's
// highest offset of topic/partition, as store.Store.ResumePoint does.
func (s *Tables) ResumePoint(_ context.Context, feed *catalog.Feed, topic string, partition int) (store.Resume, error) {
	var r store.Resume
	s.mu.Lock()
	r.Ledger, r.HasLedger = s.ledger[partitionKey{topic, partition}]
	s.mu.Unlock()
	s.each(feed, func(row *Row) {
		if row.Topic == topic && int(row.Partition) == partition {
			r.TableNext, r.HasRows = max(r.TableNext, row.Offset+1), true
		}
	})
	return r, nil
}

// RecordProgress writes a batch-ledger entry; the ledger keeps the highest
// next offset of each partition, as its ReplacingMergeTree read with max()
// does.
func (s *Tables) RecordProgress(_ context.Context, topic string, partition int, next int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := partitionKey{topic, partition}
	if cur, ok := s.ledger[k]; !ok || next > cur {
		s.ledger[k] = next
	}
	return nil
}

// Ledger returns the batch ledger's entry for topic/partition, and whether
// there is one.
func (s *Tables) Ledger(topic string, partition int) (next int64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next, ok = s.ledger[partitionKey{topic, partition}]
	return next, ok
}

// RecentIdentities returns the identities of the rows of topic/partition
// with an event time at or after since (to the second), from the key
// fields' canonical text as ClickHouse's toString gives it.
func (s *Tables) RecentIdentities(_ context.Context, feed *catalog.Feed, topic string, partition int, since time.Time) ([]record.Identity, error) {
	var out []record.Identity
	since = since.Truncate(time.Second)
	s.each(feed, func(r *Row) {
		if r.Topic != topic || int(r.Partition) != partition {
			return
		}
		at := eventSecond(feed, r)
		if at.Before(since) {
			return
		}
		keys := make([]string, len(feed.Key))
		for i, k := range feed.Key {
			keys[i] = canonical(r.Values[k])
		}
		out = append(out, record.IdentityOf(keys, at))
	})
	return out, nil
}

// canonical is toString of a stored value: a null reads as the type's
// zero, a bool as 1 or 0, a time in Unix seconds.
func canonical(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		if v {
			return "1"
		}
		return "0"
	case time.Time:
		return strconv.FormatInt(v.Unix(), 10)
	}
	return ""
}
