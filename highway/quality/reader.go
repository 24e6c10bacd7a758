package quality

import (
	"context"
	"fmt"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// SummaryBuckets is how many of a feed's latest buckets its Summary covers.
const SummaryBuckets = 24

// Summary is a feed's quality in the catalogue: the mean score and parts
// of its latest buckets, and what they add up to.
type Summary struct {
	Score float64            `json:"score"`
	Parts store.QualityParts `json:"parts"`
	// Buckets is how many ledger buckets the means are over, from From to
	// To (the end of the latest).
	Buckets int       `json:"buckets"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	// Latest is the latest bucket's score and freshness.
	LatestScore     float64 `json:"latest_score"`
	LatestFreshness string  `json:"latest_freshness"`
	// Totals over the buckets.
	Rows         uint64 `json:"rows"`
	Rejected     uint64 `json:"rejected"`
	DeadLettered uint64 `json:"dead_lettered"`
	Duplicates   uint64 `json:"duplicates"`
	Gaps         uint64 `json:"gaps"`
	DriftFields  uint64 `json:"drift_fields"`
	// Unexplained is the reconciliation error over the buckets.
	Unexplained uint64 `json:"reconciliation_unexplained"`
	// Formula says how the score is made.
	Formula string `json:"formula"`
}

// Formula is the score's formula as the API shows it.
const Formula = "100 × (0.30 completeness + 0.25 validity + 0.20 timeliness + 0.10 uniqueness + 0.10 stability + 0.05 consistency), mean over the latest 24 buckets"

// LedgerStore reads ledger rows: *store.Store.
type LedgerStore interface {
	ReadQuality(ctx context.Context, feed *catalog.Feed, from, to time.Time) ([]store.QualityRow, error)
	LatestQuality(ctx context.Context, feed *catalog.Feed, n int) ([]store.QualityRow, error)
}

// Reader serves the ledger to the API, to any `highway serve`.
type Reader struct {
	Store LedgerStore
}

// Summary returns a feed's Summary; nil when the ledger has no row of it.
func (r *Reader) Summary(ctx context.Context, f *catalog.Feed) (*Summary, error) {
	rows, err := r.Store.LatestQuality(ctx, f, SummaryBuckets)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	m := Merge(rows)
	s := &Summary{Score: m.Score, Parts: m.Parts, Buckets: len(rows), From: rows[len(rows)-1].Bucket,
		To:          rows[0].Bucket.Add(time.Duration(rows[0].BucketSeconds) * time.Second),
		LatestScore: rows[0].Score, LatestFreshness: rows[0].Freshness,
		Rows: m.Rows, Rejected: m.Rejected, DeadLettered: m.DeadLettered, Duplicates: m.Duplicates, Gaps: uint64(m.Gaps),
		DriftFields: uint64(m.DriftFields), Formula: Formula}
	if m.Reconciliation != nil {
		s.Unexplained = m.Reconciliation.Unexplained
	}
	return s, nil
}

// MaxRangeBuckets bounds the buckets one Range reads.
const MaxRangeBuckets = 10000

// Range returns a feed's ledger rows in [from, to); with step longer than
// a bucket, the rows of each step (aligned to the Unix epoch) are merged
// into one (Merge).
func (r *Reader) Range(ctx context.Context, f *catalog.Feed, from, to time.Time, step time.Duration) ([]store.QualityRow, error) {
	rows, err := r.Store.ReadQuality(ctx, f, from, to)
	if err != nil {
		return nil, err
	}
	if len(rows) > MaxRangeBuckets {
		return nil, fmt.Errorf("%d buckets in the range; ask for at most %d (a shorter range)", len(rows), MaxRangeBuckets)
	}
	if step <= 0 || len(rows) == 0 || step <= time.Duration(rows[0].BucketSeconds)*time.Second {
		return rows, nil
	}
	var out []store.QualityRow
	for i := 0; i < len(rows); {
		start := rows[i].Bucket.Truncate(step)
		j := i
		for j < len(rows) && rows[j].Bucket.Truncate(step).Equal(start) {
			j++
		}
		m := Merge(rows[i:j])
		m.Bucket, m.BucketSeconds = start.UTC(), uint32(step/time.Second)
		out = append(out, m)
		i = j
	}
	return out, nil
}

// Merge adds up the counts of ledger rows and averages their scores and
// parts; freshness is the worst, the per-field figures and the missing
// keys are left out. The result has the first row's feed and bucket.
func Merge(rows []store.QualityRow) store.QualityRow {
	if len(rows) == 0 {
		return store.QualityRow{}
	}
	m := store.QualityRow{Feed: rows[0].Feed, Bucket: rows[0].Bucket, BucketSeconds: rows[0].BucketSeconds, Freshness: "fresh",
		Rejects: store.Rejects{ByReason: map[string]uint64{}, ByField: map[string]uint64{}}}
	rank := map[string]int{"fresh": 0, "late": 1, "stale": 2, "empty": 3}
	n := float64(len(rows))
	for _, r := range rows {
		m.Rows += r.Rows
		m.Rejected += r.Rejected
		m.DeadLettered += r.DeadLettered
		m.Late += r.Late
		m.Duplicates += r.Duplicates
		m.Corrections += r.Corrections
		m.IntervalsExpected += r.IntervalsExpected
		m.IntervalsPresent += r.IntervalsPresent
		m.Gaps += r.Gaps
		m.KeysExpected = max(m.KeysExpected, r.KeysExpected)
		m.KeysReporting = max(m.KeysReporting, r.KeysReporting)
		m.KeysMissing = max(m.KeysMissing, r.KeysMissing)
		m.MaxDelaySeconds = max(m.MaxDelaySeconds, r.MaxDelaySeconds)
		m.DriftFields += r.DriftFields
		if rank[r.Freshness] > rank[m.Freshness] {
			m.Freshness = r.Freshness
		}
		m.Score += r.Score / n
		m.Parts.Completeness += r.Parts.Completeness / n
		m.Parts.Validity += r.Parts.Validity / n
		m.Parts.Timeliness += r.Parts.Timeliness / n
		m.Parts.Uniqueness += r.Parts.Uniqueness / n
		m.Parts.Stability += r.Parts.Stability / n
		m.Parts.Consistency += r.Parts.Consistency / n
		for k, v := range r.Rejects.ByReason {
			m.Rejects.ByReason[k] += v
		}
		for k, v := range r.Rejects.ByField {
			m.Rejects.ByField[k] += v
		}
		if rc := r.Reconciliation; rc != nil {
			if m.Reconciliation == nil {
				m.Reconciliation = &store.Reconciliation{From: rc.From, To: rc.To}
			}
			t := m.Reconciliation
			t.Source += rc.Source
			t.Messages += rc.Messages
			t.Stored += rc.Stored
			t.DeadLettered += rc.DeadLettered
			t.InFlight += rc.InFlight
			t.Deduped += rc.Deduped
			t.Unexplained += rc.Unexplained
			if rc.From.Before(t.From) {
				t.From = rc.From
			}
			if rc.To.After(t.To) {
				t.To = rc.To
			}
		}
		if r.WrittenAt.After(m.WrittenAt) {
			m.WrittenAt = r.WrittenAt
		}
	}
	m.Score = round(m.Score, 1)
	m.Parts = store.QualityParts{Completeness: round(m.Parts.Completeness, 4), Validity: round(m.Parts.Validity, 4),
		Timeliness: round(m.Parts.Timeliness, 4), Uniqueness: round(m.Parts.Uniqueness, 4),
		Stability: round(m.Parts.Stability, 4), Consistency: round(m.Parts.Consistency, 4)}
	return m
}

func round(v float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	return float64(int64(v*p+0.5)) / p
}
