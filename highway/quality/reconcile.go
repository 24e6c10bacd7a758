package quality

import (
	"context"
	"fmt"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// reconcile measures the feed's topic now (kept as this bucket's end
// offsets) and reconciles the messages between the measurements of the
// two buckets before: nil when either is missing.
func (l *Ledger) reconcile(ctx context.Context, f *catalog.Feed, start time.Time, attempt int) (*store.Reconciliation, error) {
	st := l.cfg.Store
	ends, err := l.cfg.Offsets.EndOffsets(ctx, f.Topic())
	if err != nil {
		return nil, fmt.Errorf("measuring topic %s: %w", f.Topic(), err)
	}
	if err := st.WriteTopicEnds(ctx, f.Name, start, store.TopicEnds{At: l.cfg.Now(), Ends: ends}, attempt); err != nil {
		return nil, err
	}
	b := l.cfg.Bucket
	to, ok, err := st.ReadTopicEnds(ctx, f.Name, start.Add(-b))
	if err != nil || !ok {
		return nil, err
	}
	from, ok, err := st.ReadTopicEnds(ctx, f.Name, start.Add(-2*b))
	if err != nil || !ok {
		return nil, err
	}
	rc := &store.Reconciliation{From: from.At, To: to.At}
	var ranges []store.OffsetRange
	for p, hi := range to.Ends {
		lo := from.Ends[p] // a partition added since starts at 0
		if hi > lo {
			ranges = append(ranges, store.OffsetRange{Partition: p, From: lo, To: hi})
			rc.Messages += uint64(hi - lo)
		}
	}
	counts, err := st.CountOffsets(ctx, f, ranges)
	if err != nil {
		return nil, err
	}
	rc.Stored, rc.DeadLettered, rc.InFlight = counts.Stored, counts.DeadLettered, counts.InFlight
	if missing := rc.Messages - min(rc.Messages, counts.Explained+counts.InFlight); missing > 0 {
		if p := l.cfg.Catalog.PipelineOf(f.Name); p != nil && p.Dedupe > 0 {
			rc.Deduped = missing
		} else {
			rc.Unexplained = missing
		}
	}
	rejects, err := st.CountDeadLetters(ctx, f.Name, from.At, to.At)
	if err != nil {
		return nil, err
	}
	rc.Source = rc.Messages
	for _, c := range rejects {
		if c.Stage == store.StageSource {
			rc.Source += c.Count
		}
	}
	return rc, nil
}
