package portal

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNiceTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   []float64
	}{
		{0, 100, []float64{0, 25, 50, 75, 100}},
		{71.5, 74, []float64{71, 72, 73, 74}},
		{3, 3, []float64{2, 2.5, 3, 3.5, 4}},
		{-3, 17, []float64{-5, 0, 5, 10, 15, 20}},
	} {
		if got := niceTicks(tc.lo, tc.hi, 4); !slices.Equal(got, tc.want) {
			t.Errorf("niceTicks(%v, %v) = %v, want %v", tc.lo, tc.hi, got, tc.want)
		}
	}
}

func TestLineChart(t *testing.T) {
	from := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	to := from.Add(24 * time.Hour)
	if got := lineChart(nil, from, to, "mm", "x"); got != "" {
		t.Errorf("no points: %q, want nothing", got)
	}
	svg := string(lineChart([]point{{from.Add(time.Hour), 1}, {from.Add(2 * time.Hour), 3}}, from, to, "°C", `a <b> & "c"`))
	for _, want := range []string{`role="img"`, `aria-label="a &lt;b&gt; &amp; &#34;c&#34;"`, "<polyline", "°C", ">12:00<", "<circle"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q:\n%s", want, svg)
		}
	}
	if strings.Contains(svg, "<b>") {
		t.Error("the title is not escaped")
	}
}
