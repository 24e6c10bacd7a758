package quality

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

var (
	t0       = time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	t1       = t0.Add(time.Hour)
	testFeed = &catalog.Feed{Name: "city.test.sensors", Interval: 10 * time.Minute, Key: []string{"sensor"}, EventTime: "at",
		Fields: []catalog.Field{{Name: "sensor", Type: catalog.String, Required: true}, {Name: "value", Type: catalog.Float64},
			{Name: "at", Type: catalog.Time, Required: true}}}
)

func f64(v float64) *float64 { return &v }

// batch is a hand-made bucket: 60 rows of 3 sensors in all 6 intervals,
// values with mean 50, no nulls, the latest event 10 minutes before the end.
func batch() Input {
	return Input{Feed: testFeed, Start: t0, End: t1, Interval: 10 * time.Minute,
		Agg: store.BucketAggregate{Rows: 60, Distinct: 60, Identities: 60, Keys: 3, Intervals: 6, MaxDelay: 30 * time.Second,
			Latest: t1.Add(-10 * time.Minute),
			Fields: []store.FieldAggregate{{Name: "sensor"}, {Name: "value", Values: 60, Min: f64(40), Max: f64(60), Sum: f64(3000)}, {Name: "at"}}},
		History: []store.QualityRow{{KeysReporting: 3}},
	}
}

func baselineRow(mean, nulls float64) store.QualityRow {
	return store.QualityRow{Rows: 60, Fields: []store.FieldFigures{{Name: "sensor"}, {Name: "value", Mean: &mean, NullShare: nulls}, {Name: "at"}}}
}

func field(r store.QualityRow, name string) store.FieldFigures {
	for _, f := range r.Fields {
		if f.Name == name {
			return f
		}
	}
	return store.FieldFigures{}
}

func TestCompute(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Input)
		check func(t *testing.T, r store.QualityRow)
	}{
		{"a clean bucket scores 100", func(*Input) {}, func(t *testing.T, r store.QualityRow) {
			if r.Score != 100 || r.Gaps != 0 || r.IntervalsExpected != 6 || r.Freshness != "fresh" || r.KeysExpected != 3 || r.KeysMissing != 0 {
				t.Errorf("row %+v", r)
			}
			if m := field(r, "value").Mean; m == nil || *m != 50 {
				t.Errorf("mean %v, want 50", m)
			}
		}},
		{"a gap of two intervals", func(in *Input) { in.Agg.Intervals = 4 }, func(t *testing.T, r store.QualityRow) {
			if r.Gaps != 2 || r.IntervalsPresent != 4 || math.Abs(r.Parts.Completeness-4.0/6) > 1e-12 || r.Score != 90 {
				t.Errorf("gaps %d present %d completeness %v score %v", r.Gaps, r.IntervalsPresent, r.Parts.Completeness, r.Score)
			}
		}},
		{"a key that did not report", func(in *Input) { in.Agg.Keys = 2; in.Agg.MissingKeys = []string{"s3"} }, func(t *testing.T, r store.QualityRow) {
			if r.KeysMissing != 1 || !slices.Equal(r.MissingKeys, []string{"s3"}) || math.Abs(r.Parts.Completeness-2.0/3) > 1e-12 {
				t.Errorf("missing %d %v completeness %v", r.KeysMissing, r.MissingKeys, r.Parts.Completeness)
			}
		}},
		{"the spec's expected keys win over history", func(in *Input) {
			in.Feed = &catalog.Feed{Name: testFeed.Name, Interval: testFeed.Interval, Fields: testFeed.Fields, Expected: &catalog.Expected{Keys: 4}}
		}, func(t *testing.T, r store.QualityRow) {
			if r.KeysExpected != 4 || r.KeysMissing != 1 || r.Parts.Completeness != 0.75 {
				t.Errorf("expected %d missing %d completeness %v", r.KeysExpected, r.KeysMissing, r.Parts.Completeness)
			}
		}},
		{"a null burst is drift", func(in *Input) {
			in.Agg.Fields[1] = store.FieldAggregate{Name: "value", Nulls: 30, Values: 30, Sum: f64(1500), Min: f64(40), Max: f64(60)}
			in.Baseline = []store.QualityRow{baselineRow(50, 0), baselineRow(50, 0.02)}
		}, func(t *testing.T, r store.QualityRow) {
			v := field(r, "value")
			if v.NullShare != 0.5 || !v.Drift || r.DriftFields != 1 || *v.BaselineNullShare != 0.01 {
				t.Errorf("value %+v drift fields %d", v, r.DriftFields)
			}
			// 3 fields have a baseline, one drifted.
			if math.Abs(r.Parts.Stability-2.0/3) > 1e-12 {
				t.Errorf("stability %v", r.Parts.Stability)
			}
		}},
		{"a mean drift beyond half the baseline", func(in *Input) {
			in.Agg.Fields[1].Sum = f64(60 * 80)
			in.Baseline = []store.QualityRow{baselineRow(50, 0)}
		}, func(t *testing.T, r store.QualityRow) {
			if v := field(r, "value"); !v.Drift || *v.Mean != 80 || *v.BaselineMean != 50 {
				t.Errorf("value %+v", v)
			}
		}},
		{"a mean within the threshold is no drift", func(in *Input) {
			in.Agg.Fields[1].Sum = f64(60 * 70)
			in.Baseline = []store.QualityRow{baselineRow(50, 0)}
		}, func(t *testing.T, r store.QualityRow) {
			if v := field(r, "value"); v.Drift || r.DriftFields != 0 || r.Parts.Stability != 1 {
				t.Errorf("value %+v", v)
			}
		}},
		{"the spec's tighter threshold flags it", func(in *Input) {
			in.Feed = &catalog.Feed{Name: testFeed.Name, Interval: testFeed.Interval, Fields: testFeed.Fields, Expected: &catalog.Expected{DriftMean: f64(0.25)}}
			in.Agg.Fields[1].Sum = f64(60 * 70)
			in.Baseline = []store.QualityRow{baselineRow(50, 0)}
		}, func(t *testing.T, r store.QualityRow) {
			if v := field(r, "value"); !v.Drift {
				t.Errorf("value %+v", v)
			}
		}},
		{"duplicates and corrections", func(in *Input) { in.Agg.Distinct = 55; in.Agg.Identities = 52 }, func(t *testing.T, r store.QualityRow) {
			if r.Duplicates != 5 || r.Corrections != 3 || math.Abs(r.Parts.Uniqueness-55.0/60) > 1e-12 {
				t.Errorf("duplicates %d corrections %d uniqueness %v", r.Duplicates, r.Corrections, r.Parts.Uniqueness)
			}
		}},
		{"late rows and late rejects", func(in *Input) {
			in.Agg.Late = 3
			in.Rejects = []store.RejectCount{{Class: ClassLate, Field: NoField, Stage: store.StageProcessor, Count: 2}}
		}, func(t *testing.T, r store.QualityRow) {
			if r.Late != 5 || r.Rejected != 0 || r.DeadLettered != 2 || r.Parts.Validity != 1 {
				t.Errorf("late %d rejected %d dead %d validity %v", r.Late, r.Rejected, r.DeadLettered, r.Parts.Validity)
			}
		}},
		{"rejects by reason and field", func(in *Input) {
			in.Rejects = []store.RejectCount{
				{Class: ClassRange, Field: "value", Stage: store.StageSource, Count: 3},
				{Class: ClassRange, Field: "value", Stage: store.StageProcessor, Count: 1},
				{Class: ClassMalformed, Field: NoField, Stage: store.StageSource, Count: 1},
			}
		}, func(t *testing.T, r store.QualityRow) {
			if r.Rejected != 5 || r.Rejects.ByReason[ClassRange] != 4 || r.Rejects.ByField["value"] != 4 || r.Rejects.ByField[NoField] != 1 {
				t.Errorf("rejected %d %+v", r.Rejected, r.Rejects)
			}
			if v := field(r, "value"); v.OutOfRange != 4 || math.Abs(v.OutOfRangeShare-4.0/65) > 1e-12 {
				t.Errorf("value %+v", v)
			}
			if math.Abs(r.Parts.Validity-60.0/65) > 1e-12 {
				t.Errorf("validity %v", r.Parts.Validity)
			}
		}},
		{"late at the end of the bucket", func(in *Input) { in.Agg.Latest = t1.Add(-30 * time.Minute) }, func(t *testing.T, r store.QualityRow) {
			if r.Freshness != "late" || r.Parts.Timeliness != 0.5 || r.Score != 90 {
				t.Errorf("freshness %s timeliness %v score %v", r.Freshness, r.Parts.Timeliness, r.Score)
			}
		}},
		{"an empty bucket of a feed that stopped", func(in *Input) {
			in.Agg = store.BucketAggregate{Latest: t0.Add(-2 * time.Hour), Fields: in.Agg.Fields[:1]}
		}, func(t *testing.T, r store.QualityRow) {
			if r.Freshness != "stale" || r.Gaps != 6 || r.Parts.Completeness != 0 || r.KeysMissing != 3 || r.Score != 50 {
				t.Errorf("row %+v", r)
			}
		}},
		{"an events feed's silence is quiet, no gap", func(in *Input) {
			in.Feed = &catalog.Feed{Name: testFeed.Name, Interval: testFeed.Interval, Fields: testFeed.Fields, Expected: &catalog.Expected{Events: true}}
			in.Agg = store.BucketAggregate{Latest: t0.Add(-5 * time.Hour), Fields: in.Agg.Fields[:1]}
		}, func(t *testing.T, r store.QualityRow) {
			if r.Freshness != "quiet" || r.Gaps != 0 || r.IntervalsExpected != 0 || r.KeysExpected != 0 || r.Score != 100 {
				t.Errorf("row %+v", r)
			}
		}},
		{"an unexplained reconciliation error", func(in *Input) {
			in.Reconciliation = &store.Reconciliation{Messages: 100, Stored: 90, Unexplained: 10}
		}, func(t *testing.T, r store.QualityRow) {
			if r.Parts.Consistency != 0.9 || r.Score != 99.5 {
				t.Errorf("consistency %v score %v", r.Parts.Consistency, r.Score)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := batch()
			in.Agg.Fields = slices.Clone(in.Agg.Fields)
			tt.edit(&in)
			tt.check(t, Compute(in))
		})
	}
}

func TestIntervalsIn(t *testing.T) {
	tests := []struct {
		start, end time.Time
		interval   time.Duration
		want       uint32
	}{
		{t0, t1, 10 * time.Minute, 6},
		{t0, t1, time.Minute, 60},
		{t0, t1, 7 * time.Minute, 9},                                    // 02:00 is not on a 7-minute boundary since 1970: 8 or 9
		{t0, t1, 12 * time.Hour, 0},                                     // 02:00-03:00 UTC holds no 12-hour boundary
		{t0.Add(-2 * time.Hour), t0.Add(-time.Hour), 12 * time.Hour, 1}, // 00:00 does
		{t0, t0.Add(time.Minute), time.Second, 60},
	}
	for _, tt := range tests {
		got := intervalsIn(tt.start, tt.end, tt.interval)
		want := tt.want
		if tt.interval == 7*time.Minute {
			// Count by hand: boundaries are multiples of 420 s.
			s, e := tt.start.Unix(), tt.end.Unix()
			want = 0
			for b := (s + 419) / 420 * 420; b < e; b += 420 {
				want++
			}
		}
		if got != want {
			t.Errorf("intervalsIn(%s, %s, %s) = %d, want %d", tt.start.Format(time.TimeOnly), tt.end.Format(time.TimeOnly), tt.interval, got, want)
		}
	}
}

func TestScoreWeights(t *testing.T) {
	if s := WeightCompleteness + WeightValidity + WeightTimeliness + WeightUniqueness + WeightStability + WeightConsistency; math.Abs(s-1) > 1e-12 {
		t.Fatalf("weights add up to %v", s)
	}
	p := store.QualityParts{Completeness: 0.5, Validity: 0.9, Timeliness: 1, Uniqueness: 1, Stability: 0.5, Consistency: 0}
	// 30×0.5 + 25×0.9 + 20 + 10 + 10×0.5 + 0 = 15 + 22.5 + 20 + 10 + 5
	if got := Score(p); got != 72.5 {
		t.Errorf("Score = %v, want 72.5", got)
	}
}

func TestFreshness(t *testing.T) {
	const every = 10 * time.Minute
	for _, tc := range []struct {
		latest time.Time
		want   string
	}{
		{time.Time{}, "empty"},
		{t1, "fresh"},
		{t1.Add(-2 * every), "fresh"},
		{t1.Add(-2*every - time.Second), "late"},
		{t1.Add(-5 * every), "late"},
		{t1.Add(-5*every - time.Second), "stale"},
		{t1.Add(time.Minute), "fresh"}, // a clock ahead of ours
	} {
		if got := Freshness(tc.latest, every, t1); got != tc.want {
			t.Errorf("Freshness(%s, %s, %s) = %s, want %s", tc.latest, every, t1, got, tc.want)
		}
	}
}
