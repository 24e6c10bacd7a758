package catalog

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Pipeline says how a feed is processed beyond validation: micro-batch
// limits, de-duplication, enrichment by lookup tables, and event-time window
// aggregates. A feed is the source of at most one pipeline; a feed without
// one is ingested as it is, with default batch limits.
type Pipeline struct {
	Name string
	// Source is the name of the feed the pipeline reads.
	Source string
	Batch  BatchLimits
	// Dedupe, when set, drops a record whose key and event time were already
	// seen within the period.
	Dedupe time.Duration
	Enrich []Enrichment
	// Windows are the aggregates computed over event time.
	Windows []Window
	File    string
	Line    int
}

// BatchLimits bound a micro-batch; the first limit reached closes it.
type BatchLimits struct {
	Rows    int
	Bytes   int64
	MaxWait time.Duration
}

// DefaultBatch is used where a pipeline (or the lack of one) says nothing.
// A batch is one INSERT, and ClickHouse does best with few large ones (each
// makes a part it must merge later): under a backlog, 30,000-row batches
// took half the ClickHouse CPU per row of 10,000-row ones
// (docs/BENCHMARKS.md); MaxWait still bounds the latency when records
// trickle in.
var DefaultBatch = BatchLimits{Rows: 30000, Bytes: 16 << 20, MaxWait: 500 * time.Millisecond}

// Enrichment fills Field from a lookup table keyed by the value of From,
// where the record leaves Field empty.
type Enrichment struct {
	Field  string
	From   string
	Values map[string]string
	Line   int
}

// Window is an event-time window aggregate.
type Window struct {
	Name string
	// Table is the ClickHouse table of the results; default the window's
	// name with dots replaced by underscores, prefixed by the feed's table.
	Table string
	// Size is the window's length; Hop, for hopping windows, how often a
	// window starts (a tumbling window has Hop == Size).
	Size, Hop time.Duration
	// Lateness is how long after a window first fires a late record still
	// corrects it; a record later than that goes to the dead-letter topic
	// with reason "late".
	Lateness time.Duration
	// Idle is how long a partition may go without records before it no
	// longer holds the watermark back.
	Idle       time.Duration
	GroupBy    []string
	Aggregates []Aggregate
	Line       int
}

// Aggregate is a set of functions of one field.
type Aggregate struct {
	Field string
	Funcs []string
}

// AggregateFuncs are the functions a window may compute. avg is kept as sum
// and count, so windows can be merged; the percentiles are exact.
var AggregateFuncs = []string{"count", "sum", "min", "max", "avg", "p50", "p90", "p99"}

// SpecName returns the pipeline's name.
func (p *Pipeline) SpecName() string { return p.Name }

// SpecLocation returns where the pipeline is declared.
func (p *Pipeline) SpecLocation() (string, int) { return p.File, p.Line }

// Pipelines returns every pipeline, sorted by name.
func (c *Catalog) Pipelines() []*Pipeline {
	var out []*Pipeline
	for _, s := range c.Specs("pipeline") {
		out = append(out, s.(*Pipeline))
	}
	return out
}

// PipelineOf returns the pipeline whose source is feed, or nil.
func (c *Catalog) PipelineOf(feed string) *Pipeline {
	for _, p := range c.Pipelines() {
		if p.Source == feed {
			return p
		}
	}
	return nil
}

func init() {
	registerKind(kind{name: "pipeline", decode: decodePipeline, check: checkPipeline})
}

func decodePipeline(p *problems, root *yaml.Node) Spec {
	d := &decoder{p}
	pl := &Pipeline{File: p.file, Line: root.Line, Batch: DefaultBatch}
	d.mapping(root, "", []key{
		{name: "kind", required: true, doc: "always \"pipeline\"", decode: func(*yaml.Node, string) {}},
		{name: "name", required: true, doc: "dotted lower-case name of the pipeline", decode: d.str(&pl.Name)},
		{name: "source", required: true, doc: "the feed the pipeline reads", decode: d.str(&pl.Source)},
		{name: "batch", doc: "micro-batch limits: rows, bytes, max_wait", decode: func(n *yaml.Node, path string) {
			d.mapping(n, path, []key{
				{name: "rows", doc: "most records in a batch (default 30000)", decode: d.integer(&pl.Batch.Rows)},
				{name: "bytes", doc: "most bytes in a batch, e.g. 16MB (default 16MB)", decode: d.size(&pl.Batch.Bytes)},
				{name: "max_wait", doc: "longest a batch waits to fill (default 500ms)", decode: d.duration(&pl.Batch.MaxWait, true)},
			})
		}},
		{name: "dedupe", doc: "drop records whose key and event time were seen within this period, e.g. 1h", decode: d.duration(&pl.Dedupe, true)},
		{name: "enrich", doc: "lookup tables that fill empty fields", decode: d.list(func(n *yaml.Node, path string) {
			e := Enrichment{Line: n.Line}
			d.mapping(n, path, []key{
				{name: "field", required: true, doc: "the field to fill", decode: d.str(&e.Field)},
				{name: "from", required: true, doc: "the field whose value is looked up", decode: d.str(&e.From)},
				{name: "values", required: true, doc: "the lookup table: value of from → value of field", decode: d.stringMap(&e.Values)},
			})
			pl.Enrich = append(pl.Enrich, e)
		})},
		{name: "windows", doc: "event-time window aggregates", decode: d.list(func(n *yaml.Node, path string) {
			w := Window{Line: n.Line, Idle: 30 * time.Second}
			var typ string
			d.mapping(n, path, []key{
				{name: "name", required: true, doc: "name of the window, e.g. speed_5m", decode: d.str(&w.Name)},
				{name: "type", required: true, doc: "tumbling or hopping", decode: d.str(&typ)},
				{name: "size", required: true, doc: "length of a window, e.g. 5m", decode: d.duration(&w.Size, true)},
				{name: "hop", doc: "how often a hopping window starts; must divide size", decode: d.duration(&w.Hop, true)},
				{name: "lateness", doc: "how long late records still correct a window (default 0)", decode: d.duration(&w.Lateness, false)},
				{name: "idle", doc: "after how long without records a partition stops holding the watermark back (default 30s)", decode: d.duration(&w.Idle, true)},
				{name: "group_by", doc: "fields to group by", decode: d.strings(&w.GroupBy)},
				{name: "aggregates", required: true, doc: "list of {field, funcs}", decode: d.list(func(n *yaml.Node, path string) {
					var a Aggregate
					d.mapping(n, path, []key{
						{name: "field", required: true, doc: "a number field of the feed", decode: d.str(&a.Field)},
						{name: "funcs", required: true, doc: strings.Join(AggregateFuncs, ", "), decode: d.strings(&a.Funcs)},
					})
					w.Aggregates = append(w.Aggregates, a)
				})},
				{name: "table", doc: "ClickHouse table of the results (default <feed table>_<name>)", decode: d.str(&w.Table)},
			})
			switch {
			case typ == "tumbling":
				if w.Hop != 0 && w.Hop != w.Size {
					p.add(n.Line, path+".hop", "a tumbling window has no hop (it equals the size); use type: hopping")
				}
				w.Hop = w.Size
			case typ == "hopping":
				if w.Hop == 0 {
					p.add(n.Line, path+".hop", "missing (a hopping window needs a hop, e.g. 1m)")
				} else if w.Size%w.Hop != 0 || w.Hop > w.Size {
					p.add(n.Line, path+".hop", "hop %s must divide size %s", w.Hop, w.Size)
				}
			case typ != "":
				p.add(n.Line, path+".type", "must be tumbling or hopping, not %q", typ)
			}
			if w.Size > 0 && w.Size%time.Second != 0 {
				p.add(n.Line, path+".size", "must be whole seconds")
			}
			pl.Windows = append(pl.Windows, w)
		})},
	})
	if pl.Name != "" && !feedName.MatchString(pl.Name) {
		p.add(pl.Line, "name", "%q is not a valid pipeline name: use dotted lower-case words, e.g. \"td.detectors.speed\"", pl.Name)
	}
	if pl.Batch.Rows < 1 {
		p.add(pl.Line, "batch.rows", "must be 1 or more, not %d", pl.Batch.Rows)
	}
	seen := map[string]bool{}
	for i, w := range pl.Windows {
		if seen[w.Name] {
			p.add(w.Line, fmt.Sprintf("windows[%d].name", i), "window %q is declared twice", w.Name)
		}
		seen[w.Name] = true
		if w.Name != "" && !fieldName.MatchString(w.Name) {
			p.add(w.Line, fmt.Sprintf("windows[%d].name", i), "%q is not a valid window name: use lower-case letters, digits and _", w.Name)
		}
	}
	return pl
}

// checkPipeline checks the pipeline against its source feed.
func checkPipeline(c *Catalog, s Spec, r *crossProblems) {
	pl := s.(*Pipeline)
	feed := c.Feed(pl.Source)
	if feed == nil {
		r.add(pl.File, pl.Line, "source", "no feed called %q", pl.Source)
		return
	}
	for _, other := range c.Pipelines() {
		if other != pl && other.Source == pl.Source && other.Name < pl.Name {
			r.add(pl.File, pl.Line, "source", "feed %q is already the source of pipeline %q (%s:%d); a feed has at most one pipeline", pl.Source, other.Name, other.File, other.Line)
		}
	}
	for i, e := range pl.Enrich {
		path := fmt.Sprintf("enrich[%d]", i)
		if f := feed.Field(e.Field); f == nil || f.Type != String {
			r.add(pl.File, e.Line, path+".field", "%q must be a string field of feed %s", e.Field, feed.Name)
		}
		if feed.Field(e.From) == nil {
			r.add(pl.File, e.Line, path+".from", "%q is not a field of feed %s", e.From, feed.Name)
		}
	}
	for i, w := range pl.Windows {
		path := fmt.Sprintf("windows[%d]", i)
		for j, g := range w.GroupBy {
			f := feed.Field(g)
			switch {
			case f == nil:
				r.add(pl.File, w.Line, fmt.Sprintf("%s.group_by[%d]", path, j), "%q is not a field of feed %s", g, feed.Name)
			case f.Type == Float64 || f.Type == Time:
				r.add(pl.File, w.Line, fmt.Sprintf("%s.group_by[%d]", path, j), "cannot group by %s field %q; group by string, int64 or bool fields", f.Type, g)
			}
		}
		for j, a := range w.Aggregates {
			apath := fmt.Sprintf("%s.aggregates[%d]", path, j)
			f := feed.Field(a.Field)
			if f == nil || !f.Type.Numeric() {
				r.add(pl.File, w.Line, apath+".field", "%q must be an int64 or float64 field of feed %s", a.Field, feed.Name)
			}
			for _, fn := range a.Funcs {
				if !slices.Contains(AggregateFuncs, fn) {
					r.add(pl.File, w.Line, apath+".funcs", "unknown function %q; use %s", fn, strings.Join(AggregateFuncs, ", "))
				}
			}
		}
	}
}

// WindowTable returns the ClickHouse table of window w of a pipeline on feed.
func WindowTable(feed *Feed, w Window) string {
	if w.Table != "" {
		return w.Table
	}
	return feed.Table() + "_" + w.Name
}

// ParseSize parses a byte size: a whole number with an optional unit B, KB,
// MB or GB (powers of 1024).
func ParseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}}
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size: write a whole number with B, KB, MB or GB, e.g. \"16MB\"", s)
	}
	return n * mult, nil
}
