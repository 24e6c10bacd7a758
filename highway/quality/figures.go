package quality

import (
	"math"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// The weights of the score's parts; they add up to 1.
const (
	WeightCompleteness = 0.30
	WeightValidity     = 0.25
	WeightTimeliness   = 0.20
	WeightUniqueness   = 0.10
	WeightStability    = 0.10
	WeightConsistency  = 0.05
)

// Input is everything a bucket's figures are made of.
type Input struct {
	Feed       *catalog.Feed
	Start, End time.Time
	// Interval is the feed's cadence as the ledger judges it (its interval,
	// divided by the speed in highway dev).
	Interval time.Duration
	Agg      store.BucketAggregate
	Rejects  []store.RejectCount
	// History are the ledger's rows of the buckets before (for the keys
	// expected), Baseline those drift compares with.
	History  []store.QualityRow
	Baseline []store.QualityRow
	// Reconciliation is nil when it could not be made (no Kafka, or the
	// runs before are missing).
	Reconciliation *store.Reconciliation
}

// Compute makes a bucket's ledger row from its input. It is deterministic.
func Compute(in Input) store.QualityRow {
	a := in.Agg
	r := store.QualityRow{
		Feed: in.Feed.Name, Bucket: in.Start.UTC(), BucketSeconds: uint32(in.End.Sub(in.Start) / time.Second),
		Rows: a.Rows, Duplicates: a.Rows - min(a.Distinct, a.Rows), Corrections: a.Distinct - min(a.Identities, a.Distinct),
		KeysReporting: uint32(a.Keys), MissingKeys: a.MissingKeys, MaxDelaySeconds: int64(a.MaxDelay / time.Second),
		Freshness: Freshness(a.Latest, in.Interval, in.End), Reconciliation: in.Reconciliation,
	}
	r.Rejects = store.Rejects{ByReason: map[string]uint64{}, ByField: map[string]uint64{}}
	outOfRange := map[string]uint64{}
	var late uint64
	for _, c := range in.Rejects {
		r.DeadLettered += c.Count
		r.Rejects.ByReason[c.Class] += c.Count
		r.Rejects.ByField[c.Field] += c.Count
		switch c.Class {
		case ClassLate:
			late += c.Count
		case ClassRange, ClassEnum:
			outOfRange[c.Field] += c.Count
		}
	}
	r.Rejected = r.DeadLettered - late
	r.Late = a.Late + late

	events := in.Feed.Expected.EventsOnly()
	if events && (r.Freshness == "stale" || r.Freshness == "empty") {
		r.Freshness = "quiet"
	}
	if !events {
		r.IntervalsExpected = intervalsIn(in.Start, in.End, in.Interval)
	}
	r.IntervalsPresent = uint32(a.Intervals)
	if r.IntervalsExpected > r.IntervalsPresent {
		r.Gaps = r.IntervalsExpected - r.IntervalsPresent
	}
	r.KeysExpected = uint32(in.Feed.Expected.ExpectedKeys())
	if r.KeysExpected == 0 && !events {
		for _, h := range in.History {
			r.KeysExpected = max(r.KeysExpected, h.KeysReporting)
		}
	}
	if r.KeysExpected > r.KeysReporting {
		r.KeysMissing = r.KeysExpected - r.KeysReporting
	}

	base := baseline(in.Baseline)
	var checked uint32
	for _, fa := range a.Fields {
		ff := store.FieldFigures{Name: fa.Name, Nulls: fa.Nulls, Min: fa.Min, Max: fa.Max, OutOfRange: outOfRange[fa.Name]}
		ff.NullShare = share(fa.Nulls, a.Rows)
		ff.OutOfRangeShare = share(ff.OutOfRange, a.Rows+r.Rejected)
		if fa.Sum != nil && fa.Values > 0 {
			m := *fa.Sum / float64(fa.Values)
			ff.Mean = &m
		}
		if b, ok := base[fa.Name]; ok && a.Rows > 0 {
			ff.BaselineMean, ff.BaselineNullShare = b.mean, b.nulls
			checked++
			if b.nulls != nil && math.Abs(ff.NullShare-*b.nulls) > in.Feed.Expected.NullsThreshold() {
				ff.Drift = true
			}
			if b.mean != nil && ff.Mean != nil && math.Abs(*ff.Mean-*b.mean) > in.Feed.Expected.MeanThreshold()*max(math.Abs(*b.mean), 1) {
				ff.Drift = true
			}
			if ff.Drift {
				r.DriftFields++
			}
		}
		r.Fields = append(r.Fields, ff)
	}

	r.Parts = store.QualityParts{
		Completeness: ratio(uint64(r.IntervalsPresent), uint64(r.IntervalsExpected)) * ratio(uint64(r.KeysReporting), uint64(r.KeysExpected)),
		Validity:     1 - share(r.Rejected, r.Rows+r.Rejected),
		Timeliness:   timeliness(r.Freshness),
		Uniqueness:   1 - share(r.Duplicates, r.Rows),
		Stability:    1 - share(uint64(r.DriftFields), uint64(checked)),
		Consistency:  1,
	}
	if rc := r.Reconciliation; rc != nil {
		r.Parts.Consistency = 1 - math.Min(1, share(rc.Unexplained, rc.Messages))
	}
	r.Score = Score(r.Parts)
	return r
}

// Score is the weighted sum of the parts, 0 to 100, to one decimal.
func Score(p store.QualityParts) float64 {
	s := WeightCompleteness*p.Completeness + WeightValidity*p.Validity + WeightTimeliness*p.Timeliness +
		WeightUniqueness*p.Uniqueness + WeightStability*p.Stability + WeightConsistency*p.Consistency
	return math.Round(s*1000) / 10
}

// Freshness of a bucket is one of these or, for a feed that publishes only
// on events (catalog.Expected.Events), "quiet" where it would be stale or
// empty.
//
// Freshness judges the latest event time against a feed's interval at now:
// "fresh" within two intervals, "late" within five, "stale" beyond, "empty"
// without any event.
func Freshness(latest time.Time, interval time.Duration, now time.Time) string {
	switch age := now.Sub(latest); {
	case latest.IsZero():
		return "empty"
	case age <= 2*interval:
		return "fresh"
	case age <= 5*interval:
		return "late"
	default:
		return "stale"
	}
}

func timeliness(freshness string) float64 {
	switch freshness {
	case "fresh":
		return 1
	case "late":
		return 0.5
	case "quiet":
		return 1
	}
	return 0
}

// intervalsIn counts the intervals, aligned to the Unix epoch, that start
// in [start, end).
func intervalsIn(start, end time.Time, interval time.Duration) uint32 {
	i := max(int64(interval/time.Second), 1)
	s, e := start.Unix(), end.Unix()
	first := (s + i - 1) / i // the first interval starting at or after start
	last := (e - 1) / i      // the last starting before end
	if last < first {
		return 0
	}
	return uint32(last - first + 1)
}

// share is a / b, 0 when b is 0.
func share(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// ratio is min(1, a / b), 1 when b is 0 (nothing expected).
func ratio(a, b uint64) float64 {
	if b == 0 {
		return 1
	}
	return math.Min(1, float64(a)/float64(b))
}

type fieldBase struct{ mean, nulls *float64 }

// baseline averages each field's mean and share of nulls over the rows
// that have buckets with data.
func baseline(rows []store.QualityRow) map[string]fieldBase {
	type acc struct {
		mean, nulls float64
		nm, nn      int
	}
	sums := map[string]*acc{}
	for _, r := range rows {
		if r.Rows == 0 {
			continue
		}
		for _, f := range r.Fields {
			a := sums[f.Name]
			if a == nil {
				a = &acc{}
				sums[f.Name] = a
			}
			a.nulls += f.NullShare
			a.nn++
			if f.Mean != nil {
				a.mean += *f.Mean
				a.nm++
			}
		}
	}
	out := map[string]fieldBase{}
	for name, a := range sums {
		var b fieldBase
		if a.nn > 0 {
			v := a.nulls / float64(a.nn)
			b.nulls = &v
		}
		if a.nm > 0 {
			v := a.mean / float64(a.nm)
			b.mean = &v
		}
		out[name] = b
	}
	return out
}
