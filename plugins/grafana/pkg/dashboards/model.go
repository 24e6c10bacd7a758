// Package dashboards generates the city's Grafana dashboards from code:
// every Highway query in them is a query.Query built from the feed specs of
// a catalogue, and every field or table it names is looked up in that
// catalogue, so a renamed feed field fails generation (and the test that
// compares the generated JSON with plugins/grafana/dashboards/), not a
// dashboard in production.
//
// Regenerate the JSON after a change with
//
//	go -C plugins/grafana test ./pkg/dashboards -update
package dashboards

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/plugins/grafana/pkg/macros"
	"github.com/cityhighway/highway/plugins/grafana/pkg/query"
)

// PluginID is the Highway datasource's plugin id (plugin.ID; a test keeps
// them equal without this package importing the backend).
const PluginID = "cityhighway-highway-datasource"

// HighwayUID is the uid the provisioned Highway datasource has
// (provisioning/datasources/highway.yaml); the dashboards refer to it.
const HighwayUID = "highway"

// DSRef is a panel's or target's datasource.
type DSRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

var (
	highwayDS    = DSRef{Type: PluginID, UID: HighwayUID}
	prometheusDS = DSRef{Type: "prometheus", UID: "${prometheus}"}
)

// Target is a panel query: a Highway query, or PromQL for platform metrics.
type Target struct {
	query.Query
	Datasource DSRef `json:"datasource"`
	// Expr and LegendFormat are PromQL targets' (Prometheus datasource).
	Expr         string `json:"expr,omitempty"`
	LegendFormat string `json:"legendFormat,omitempty"`
}

// GridPos places a panel (24 columns wide).
type GridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

// Panel is a dashboard panel.
type Panel struct {
	ID          int            `json:"id"`
	Type        string         `json:"type"`
	Title       string         `json:"title"`
	Description string         `json:"description,omitempty"`
	GridPos     GridPos        `json:"gridPos"`
	Datasource  DSRef          `json:"datasource"`
	Targets     []Target       `json:"targets"`
	FieldConfig map[string]any `json:"fieldConfig"`
	Options     map[string]any `json:"options,omitempty"`
	// Transformations are Grafana's panel transformations.
	Transformations []any `json:"transformations,omitempty"`
}

// Annotation is a dashboard annotation query.
type Annotation struct {
	Name       string `json:"name"`
	Datasource DSRef  `json:"datasource"`
	Enable     bool   `json:"enable"`
	IconColor  string `json:"iconColor"`
	Target     Target `json:"target"`
}

// Variable is a dashboard template variable.
type Variable struct {
	Name       string `json:"name"`
	Label      string `json:"label,omitempty"`
	Type       string `json:"type"`
	Query      string `json:"query"`
	Datasource *DSRef `json:"datasource,omitempty"`
	Multi      bool   `json:"multi,omitempty"`
	IncludeAll bool   `json:"includeAll,omitempty"`
	Refresh    int    `json:"refresh,omitempty"`
}

// Dashboard is a Grafana dashboard.
type Dashboard struct {
	UID         string
	Title       string
	Description string
	Tags        []string
	Refresh     string
	From        string
	Panels      []Panel
	Annotations []Annotation
	Variables   []Variable
}

// JSON renders the dashboard as Grafana's dashboard JSON (schema 39).
func (d Dashboard) JSON() ([]byte, error) {
	anns := []any{map[string]any{
		"builtIn": 1, "name": "Annotations & Alerts", "type": "dashboard", "enable": true, "hide": true,
		"iconColor": "rgba(0, 211, 255, 1)", "datasource": map[string]string{"type": "grafana", "uid": "-- Grafana --"},
	}}
	for _, a := range d.Annotations {
		anns = append(anns, a)
	}
	vars := []any{}
	for _, v := range d.Variables {
		vars = append(vars, v)
	}
	out := map[string]any{
		"uid": d.UID, "title": d.Title, "description": d.Description, "tags": d.Tags,
		"schemaVersion": 39, "version": 1, "editable": true, "graphTooltip": 1,
		"refresh": d.Refresh, "timezone": "browser",
		"time":        map[string]string{"from": d.From, "to": "now"},
		"panels":      d.Panels,
		"annotations": map[string]any{"list": anns},
		"templating":  map[string]any{"list": vars},
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("dashboard %s: %w", d.UID, err)
	}
	return append(b, '\n'), nil
}

// Targets returns every target of the dashboard, annotations included.
func (d Dashboard) Targets() []Target {
	var out []Target
	for _, p := range d.Panels {
		out = append(out, p.Targets...)
	}
	for _, a := range d.Annotations {
		out = append(out, a.Target)
	}
	return out
}

// gen builds dashboards over a catalogue and collects every reference to a
// feed or field that the catalogue does not have.
type gen struct {
	cat  *catalog.Catalog
	errs []string
}

func (g *gen) fail(format string, args ...any) {
	g.errs = append(g.errs, fmt.Sprintf(format, args...))
}

// feed returns the feed called name; a missing one is recorded.
func (g *gen) feed(name string) *catalog.Feed {
	f := g.cat.Feed(name)
	if f == nil {
		g.fail("no feed %q in the catalogue", name)
		return &catalog.Feed{Name: name}
	}
	return f
}

// builder is a builder query, checked against the feed's spec.
func (g *gen) builder(refID, feed, metric string, agg query.Aggregation, format query.Format, groupBy ...string) Target {
	q := query.Query{RefID: refID, QueryType: query.Builder, Feed: feed, Metric: metric, Aggregation: agg, GroupBy: groupBy, Format: format}
	if err := q.Validate(g.feed(feed)); err != nil {
		g.fail("builder query %s on %s: %v", refID, feed, err)
	}
	return Target{Query: q, Datasource: highwayDS}
}

// placeholder matches {table} and {field} in sql templates.
var placeholder = regexp.MustCompile(`\{([a-z_][a-z0-9_]*)\}`)

// sql is an SQL query on feed, written with {table} for its table and
// {name} for each field, each checked against the spec; the macros must
// expand.
func (g *gen) sql(refID, feed string, format query.Format, tmpl string) Target {
	f := g.feed(feed)
	text := placeholder.ReplaceAllStringFunc(tmpl, func(m string) string {
		name := m[1 : len(m)-1]
		if name == "table" {
			return f.Table()
		}
		if f.Field(name) == nil {
			g.fail("SQL %s on %s: no field %q", refID, feed, name)
		}
		return name
	})
	if _, err := macros.Expand(text, macros.Range{}); err != nil {
		g.fail("SQL %s on %s: %v", refID, feed, err)
	}
	if strings.Contains(text, "{") {
		g.fail("SQL %s on %s: unresolved placeholder in %q", refID, feed, text)
	}
	return Target{Query: query.Query{RefID: refID, QueryType: query.SQL, RawSQL: text, Format: format}, Datasource: highwayDS}
}

// ledger is an SQL query on the quality ledger's table; the macros must
// expand.
func (g *gen) ledger(refID string, format query.Format, text string) Target {
	if _, err := macros.Expand(text, macros.Range{}); err != nil {
		g.fail("ledger SQL %s: %v", refID, err)
	}
	return Target{Query: query.Query{RefID: refID, QueryType: query.SQL, RawSQL: text, Format: format}, Datasource: highwayDS}
}

func (g *gen) health(refID string) Target {
	return Target{Query: query.Query{RefID: refID, QueryType: query.FeedHealth, Format: query.Table}, Datasource: highwayDS}
}

// job reads an analytics job's results; the job must be in the catalogue.
func (g *gen) job(refID, name string, format query.Format) Target {
	if g.cat.Job(name) == nil {
		g.fail("no job %q in the catalogue", name)
	}
	return Target{Query: query.Query{RefID: refID, QueryType: query.JobResults, Job: name, Format: format}, Datasource: highwayDS}
}

func (g *gen) live(refID, feed string) Target {
	g.feed(feed)
	return Target{Query: query.Query{RefID: refID, QueryType: query.Live, Feed: feed}, Datasource: highwayDS}
}

func prom(refID, expr, legend string) Target {
	return Target{Query: query.Query{RefID: refID}, Datasource: prometheusDS, Expr: expr, LegendFormat: legend}
}

// panel lays out panels left to right, wrapping at 24 columns.
type layout struct {
	x, y, rowH, id int
}

func (l *layout) place(w, h int) GridPos {
	if l.x+w > 24 {
		l.x, l.y, l.rowH = 0, l.y+l.rowH, 0
	}
	p := GridPos{H: h, W: w, X: l.x, Y: l.y}
	l.x += w
	l.rowH = max(l.rowH, h)
	return p
}

func (l *layout) panel(typ, title string, w, h int, unit string, targets ...Target) Panel {
	l.id++
	ds := highwayDS
	if len(targets) > 0 {
		ds = targets[0].Datasource
	}
	defaults := map[string]any{}
	if unit != "" {
		defaults["unit"] = unit
	}
	return Panel{ID: l.id, Type: typ, Title: title, GridPos: l.place(w, h), Datasource: ds, Targets: targets,
		FieldConfig: map[string]any{"defaults": defaults, "overrides": []any{}}}
}
