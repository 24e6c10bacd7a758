package catalog

import (
	"fmt"
	"math"

	"gopkg.in/yaml.v3"
)

// Default drift thresholds, used when a feed's expected block leaves them
// out (highway/quality flags a field whose figures moved further).
const (
	// DefaultDriftMean is the relative change of a field's mean against its
	// baseline beyond which the field is flagged (0.5: by half).
	DefaultDriftMean = 0.5
	// DefaultDriftNulls is the change of a field's share of nulls, in
	// absolute terms, beyond which the field is flagged (0.2: 20 points).
	DefaultDriftNulls = 0.2
)

// Expected is what a feed's publisher promises beyond its interval; the
// quality ledger (highway/quality) measures the feed against it. Every part
// is optional: a zero value means "learn it from the feed's own history"
// for Keys and the defaults above for the thresholds.
type Expected struct {
	// Keys is how many distinct keys (detectors, stations) should report in
	// every ledger bucket; 0 takes the most seen in the last 24 buckets.
	Keys int
	// DriftMean is the relative change of a numeric field's mean against
	// the same time of day over the last 7 days that flags it (default
	// DefaultDriftMean).
	DriftMean *float64
	// DriftNulls is the change of a field's share of nulls (0 to 1) that
	// flags it (default DefaultDriftNulls).
	DriftNulls *float64
	// Events marks a feed that publishes only when something happens
	// (warnings in force): silence is then neither a gap nor staleness.
	Events bool
	// Line is the line of the expected block, for messages.
	Line int
}

// EventsOnly reports whether the feed publishes only on events; false for
// a nil Expected.
func (e *Expected) EventsOnly() bool { return e != nil && e.Events }

// MeanThreshold returns DriftMean or its default; a nil Expected has the defaults.
func (e *Expected) MeanThreshold() float64 {
	if e == nil || e.DriftMean == nil {
		return DefaultDriftMean
	}
	return *e.DriftMean
}

// NullsThreshold returns DriftNulls or its default.
func (e *Expected) NullsThreshold() float64 {
	if e == nil || e.DriftNulls == nil {
		return DefaultDriftNulls
	}
	return *e.DriftNulls
}

// ExpectedKeys returns Keys, 0 for a nil Expected.
func (e *Expected) ExpectedKeys() int {
	if e == nil {
		return 0
	}
	return e.Keys
}

// expectedKeys are the keys of a feed's expected block.
func expectedKeys(d *decoder, e *Expected) []key {
	return []key{
		{name: "keys", doc: "distinct keys that should report in every ledger bucket (default: the most seen in the last 24 buckets)", decode: d.integer(&e.Keys)},
		{name: "drift_mean", doc: fmt.Sprintf("relative change of a field's mean that flags drift (default %v)", DefaultDriftMean), decode: d.number(&e.DriftMean)},
		{name: "events", doc: "true for a feed that publishes only when something happens: silence is neither a gap nor staleness (default false)", decode: d.boolean(&e.Events)},
		{name: "drift_nulls", doc: fmt.Sprintf("change of a field's share of nulls, 0 to 1, that flags drift (default %v)", DefaultDriftNulls), decode: d.number(&e.DriftNulls)},
	}
}

// decodeExpected decodes a feed's expected block into f.Expected.
func decodeExpected(d *decoder, f *Feed) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		e := &Expected{Line: n.Line}
		d.mapping(n, path, expectedKeys(d, e))
		f.Expected = e
	}
}

// validateExpected checks the ranges of a feed's expected block.
func validateExpected(p *problems, e *Expected) {
	if e == nil {
		return
	}
	if e.Keys < 0 {
		p.add(e.Line, "expected.keys", "must not be negative, not %d", e.Keys)
	}
	if v := e.DriftMean; v != nil && (*v <= 0 || math.IsNaN(*v) || math.IsInf(*v, 0)) {
		p.add(e.Line, "expected.drift_mean", "must be a positive number, not %v", *v)
	}
	if v := e.DriftNulls; v != nil && (*v <= 0 || *v > 1 || math.IsNaN(*v)) {
		p.add(e.Line, "expected.drift_nulls", "must be above 0 and at most 1, not %v", *v)
	}
}
