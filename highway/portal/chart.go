package portal

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
	"time"
)

// point is one value of a series at a time.
type point struct {
	At time.Time
	Y  float64
}

// chartSVG is a chart drawn on the server, ready to inline in a page.
type chartSVG template.HTML

// The charts' size in SVG units; they scale with the page.
const (
	chartW, chartH                     = 640, 220
	padLeft, padRight, padTop, padDown = 48, 12, 24, 28
)

// lineChart draws points over [from, to] as a line with its axes: hours on
// x (Hong Kong time), nice steps on y. title labels the image for screen
// readers. No points draws nothing ("").
func lineChart(pts []point, from, to time.Time, unit, title string) chartSVG {
	if len(pts) == 0 || !to.After(from) {
		return ""
	}
	lo, hi := pts[0].Y, pts[0].Y
	for _, p := range pts {
		lo, hi = math.Min(lo, p.Y), math.Max(hi, p.Y)
	}
	ticks := niceTicks(lo, hi, 4)
	lo, hi = ticks[0], ticks[len(ticks)-1]
	x := func(t time.Time) float64 {
		return padLeft + float64(t.Sub(from))/float64(to.Sub(from))*(chartW-padLeft-padRight)
	}
	y := func(v float64) float64 {
		return chartH - padDown - (v-lo)/(hi-lo)*(chartH-padTop-padDown)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, chartW, chartH, html.EscapeString(title))
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(title))
	for _, v := range ticks {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#d5dae0"/>`, padLeft, chartW-padRight, y(v), y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, padLeft-6, y(v), trimNumber(v))
	}
	if unit != "" {
		fmt.Fprintf(&b, `<text x="4" y="%d">%s</text>`, padTop-12, html.EscapeString(unit))
	}
	// An x tick every 6 hours of Hong Kong time.
	start := from.In(hongKong).Truncate(time.Hour)
	for t := start; !t.After(to); t = t.Add(time.Hour) {
		if t.Before(from) || t.Hour()%6 != 0 {
			continue
		}
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#8a939d"/>`, x(t), x(t), chartH-padDown, chartH-padDown+4)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x(t), chartH-8, t.Format("15:04"))
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#59616b"/>`, padLeft, chartW-padRight, chartH-padDown, chartH-padDown)
	b.WriteString(`<polyline fill="none" stroke="#0b5cad" stroke-width="2" points="`)
	for i, p := range pts {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.1f,%.1f", x(p.At), y(p.Y))
	}
	b.WriteString(`"/>`)
	if len(pts) <= 48 {
		for _, p := range pts {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="#0b5cad"/>`, x(p.At), y(p.Y))
		}
	}
	b.WriteString(`</svg>`)
	return chartSVG(b.String()) //nolint:gosec // every text in it is escaped above
}

// niceTicks returns about n+1 round values from at most lo to at least hi
// (1, 2, 2.5 or 5 times a power of ten apart); a flat series gets a band
// around its value.
func niceTicks(lo, hi float64, n int) []float64 {
	if hi-lo < 1e-9 {
		lo, hi = lo-1, hi+1
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for v := math.Floor(lo/step) * step; v <= hi+step*1e-9; v += step {
		out = append(out, v)
	}
	if out[len(out)-1] < hi {
		out = append(out, out[len(out)-1]+step)
	}
	return out
}

// trimNumber writes a tick value without needless digits.
func trimNumber(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		return "0"
	}
	return s
}
