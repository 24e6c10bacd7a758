package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
)

// tally is what the count found, per producer id (seq): good records with
// no row or rejects with no dead letter are lost; rows and dead letters
// beyond one per seq, and rows of bad records, are duplicated.
type tally struct {
	lost, duplicated int64
}

// count compares every feed's table (and dead-letter topic, where the feed
// was sent bad records) with what was acknowledged.
func (e *env) count(ctx context.Context, feeds []*catalog.Feed) (tally, error) {
	var t tally
	for _, f := range feeds {
		e.mu.Lock()
		sent := e.sent[f]
		badFrom, hasBad := e.badFrom[f]
		e.mu.Unlock()
		if !hasBad {
			badFrom = sent
		}
		// Rows beyond one per good seq are duplicated: copies, and rows of
		// bad records or of seqs never sent.
		var rows, distinct uint64
		q := fmt.Sprintf("SELECT count(), uniqExactIf(seq, seq >= 0 AND seq < %d) FROM %s.%s", badFrom, e.db, f.Table())
		if err := e.store.QueryRow(ctx, []any{&rows, &distinct}, q); err != nil {
			return t, fmt.Errorf("counting %s: %w", f.Table(), err)
		}
		lost := badFrom - int64(distinct)
		dup := int64(rows) - int64(distinct)
		if hasBad {
			dl, dd, err := e.countDeadLetters(ctx, f, badFrom, sent)
			if err != nil {
				return t, err
			}
			lost += dl
			dup += dd
		}
		if lost != 0 || dup != 0 {
			e.log.Error("feed not exactly once", "feed", f.Name, "sent", sent, "rows", rows, "distinct", distinct, "lost", lost, "duplicated", dup)
		}
		t.lost += lost
		t.duplicated += dup
	}
	return t, nil
}

// countDeadLetters reads feed's dead-letter topic: every seq in [from, to)
// must be there once.
func (e *env) countDeadLetters(ctx context.Context, f *catalog.Feed, from, to int64) (lost, dup int64, err error) {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	msgs, err := e.bus.ReadAll(rctx, f.DLQTopic())
	if err != nil {
		return 0, 0, fmt.Errorf("reading %s back: %w", f.DLQTopic(), err)
	}
	seen := make(map[int64]int, to-from)
	for _, m := range msgs {
		var r struct {
			Seq *int64 `json:"seq"`
		}
		if json.Unmarshal(m.Value, &r) != nil || r.Seq == nil {
			continue // a note about an unreadable batch
		}
		seen[*r.Seq]++
	}
	for s, n := range seen {
		if s < from || s >= to {
			dup += int64(n) // a good record rejected
			continue
		}
		dup += int64(n - 1)
	}
	for s := from; s < to; s++ {
		if seen[s] == 0 {
			lost++
		}
	}
	return lost, dup, nil
}
