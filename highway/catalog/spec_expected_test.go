package catalog_test

import (
	"slices"
	"testing"

	"github.com/cityhighway/highway/highway/catalog"
)

func TestParseExpected(t *testing.T) {
	c, err := catalog.Parse("f.yaml", []byte(validFeed+"expected: {keys: 760, drift_mean: 0.25, drift_nulls: 0.1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := c.Feed("city.test.feed").Expected
	if e == nil || e.ExpectedKeys() != 760 || e.MeanThreshold() != 0.25 || e.NullsThreshold() != 0.1 || e.Line != 10 {
		t.Fatalf("Expected = %+v", e)
	}
	if e.EventsOnly() {
		t.Errorf("events without saying so")
	}
	c, err = catalog.Parse("f.yaml", []byte(validFeed+"expected: {events: true}\n"))
	if err != nil || !c.Feed("city.test.feed").Expected.EventsOnly() {
		t.Fatalf("events: %v", err)
	}
	c, err = catalog.Parse("f.yaml", []byte(validFeed))
	if err != nil {
		t.Fatal(err)
	}
	e = c.Feed("city.test.feed").Expected
	if e != nil || e.ExpectedKeys() != 0 || e.MeanThreshold() != catalog.DefaultDriftMean || e.NullsThreshold() != catalog.DefaultDriftNulls {
		t.Fatalf("without expected: %+v, thresholds %v %v", e, e.MeanThreshold(), e.NullsThreshold())
	}
}

func TestParseExpectedErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key", "expected: {key: 3}\n",
			[]string{`f.yaml:10: expected.key: unknown key; valid keys are keys, drift_mean, events, drift_nulls`}},
		{"negative keys", "expected: {keys: -3}\n",
			[]string{`f.yaml:10: expected.keys: must not be negative, not -3`}},
		{"bad thresholds", "expected:\n  drift_mean: 0\n  drift_nulls: 1.5\n",
			[]string{`f.yaml:11: expected.drift_mean: must be a positive number, not 0`,
				`f.yaml:11: expected.drift_nulls: must be above 0 and at most 1, not 1.5`}},
		{"not a mapping", "expected: 760\n",
			[]string{`f.yaml:10: expected: must be a mapping of keys to values, not "760"`}},
		{"not a number", "expected: {drift_mean: much}\n",
			[]string{`f.yaml:10: expected.drift_mean: must be a number, not "much"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := catalog.Parse("f.yaml", []byte(validFeed+tt.yaml))
			got := errorStrings(t, err)
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}
