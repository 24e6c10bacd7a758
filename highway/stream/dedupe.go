package stream

import (
	"time"

	"github.com/cityhighway/highway/highway/record"
)

// dedupeSet remembers the identities (key and event time) of the records of
// one partition within a period of event time. Records with the same key go
// to the same partition, so a set per partition finds every duplicate.
type dedupeSet struct {
	within time.Duration
	seen   map[record.Identity]time.Time
	latest time.Time
	added  int
}

func newDedupeSet(within time.Duration) *dedupeSet {
	return &dedupeSet{within: within, seen: map[record.Identity]time.Time{}}
}

// add records id with event time t and reports whether it is new.
func (s *dedupeSet) add(id record.Identity, t time.Time) bool {
	if _, dup := s.seen[id]; dup {
		return false
	}
	s.seen[id] = t
	if t.After(s.latest) {
		s.latest = t
	}
	// Forget what is older than the period now and then, so memory stays
	// bounded by the records of one period.
	if s.added++; s.added%4096 == 0 {
		horizon := s.latest.Add(-s.within)
		for k, at := range s.seen {
			if at.Before(horizon) {
				delete(s.seen, k)
			}
		}
	}
	return true
}
