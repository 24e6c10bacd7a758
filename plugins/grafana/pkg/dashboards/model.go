// Package dashboards generates the city's Grafana dashboards from code with
// the Grafana Foundation SDK (github.com/grafana/grafana-foundation-sdk/go):
// dashboards, panels, variables and annotations are the SDK's typed
// builders, and every Highway query in them is a query.Query built from the
// feed specs of a catalogue (Target, the SDK's dataquery variant for the
// Highway plugin). Every field or table a query names is looked up in that
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
	"reflect"
	"regexp"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	tablepanel "github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

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

var (
	highwayDS    = common.DataSourceRef{Type: cog.ToPtr(PluginID), Uid: cog.ToPtr(HighwayUID)}
	prometheusDS = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${prometheus}")}
)

// Target is a panel's Highway query: what the plugin's backend parses
// (query.Query) and the datasource it goes to. It is the SDK's dataquery
// variant for the Highway plugin and its own builder, so it goes straight
// into a panel builder's WithTarget.
type Target struct {
	query.Query
	Datasource common.DataSourceRef `json:"datasource"`
}

var (
	_ variants.Dataquery              = Target{}
	_ cog.Builder[variants.Dataquery] = Target{}
)

// ImplementsDataqueryVariant marks Target as a dataquery of the SDK.
func (Target) ImplementsDataqueryVariant() {}

// DataqueryType is the Highway datasource's plugin id.
func (Target) DataqueryType() string { return PluginID }

// Equals reports whether other is the same Highway query.
func (t Target) Equals(other variants.Dataquery) bool {
	o, ok := other.(Target)
	return ok && reflect.DeepEqual(t, o)
}

// Validate accepts every target: the catalogue checks happen when gen
// builds it, where the feed's spec is at hand.
func (Target) Validate() error { return nil }

// Build returns the target itself (cog.Builder).
func (t Target) Build() (variants.Dataquery, error) { return t, nil }

// JSON renders a dashboard as Grafana's dashboard JSON, indented, with a
// final newline: the bytes committed in plugins/grafana/dashboards/.
func JSON(d dashboard.Dashboard) ([]byte, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("dashboard %s: %w", UID(d), err)
	}
	return append(b, '\n'), nil
}

// UID returns the dashboard's uid ("" when it has none).
func UID(d dashboard.Dashboard) string {
	if d.Uid == nil {
		return ""
	}
	return *d.Uid
}

// Targets returns every Highway target of the dashboard, annotations
// included (PromQL targets are the Prometheus datasource's, not ours).
func Targets(d dashboard.Dashboard) []Target {
	var out []Target
	for _, p := range d.Panels {
		if p.Panel == nil {
			continue
		}
		for _, q := range p.Panel.Targets {
			if t, ok := q.(Target); ok {
				out = append(out, t)
			}
		}
	}
	for _, a := range d.Annotations.List {
		if t, ok := a.Target.(Target); ok {
			out = append(out, t)
		}
	}
	return out
}

// gen builds dashboards over a catalogue and collects every reference to a
// feed or field that the catalogue does not have.
type gen struct {
	cat  *catalog.Catalog
	errs []string
	// built holds what the SDK's builders refused, if anything.
	built []error
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

// highway is a target on the Highway datasource.
func highway(q query.Query) Target { return Target{Query: q, Datasource: highwayDS} }

// builder is a builder query, checked against the feed's spec.
func (g *gen) builder(refID, feed, metric string, agg query.Aggregation, format query.Format, groupBy ...string) Target {
	q := query.Query{RefID: refID, QueryType: query.Builder, Feed: feed, Metric: metric, Aggregation: agg, GroupBy: groupBy, Format: format}
	if err := q.Validate(g.feed(feed)); err != nil {
		g.fail("builder query %s on %s: %v", refID, feed, err)
	}
	return highway(q)
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
	return highway(query.Query{RefID: refID, QueryType: query.SQL, RawSQL: text, Format: format})
}

// ledger is an SQL query on the quality ledger's table; the macros must
// expand.
func (g *gen) ledger(refID string, format query.Format, text string) Target {
	if _, err := macros.Expand(text, macros.Range{}); err != nil {
		g.fail("ledger SQL %s: %v", refID, err)
	}
	return highway(query.Query{RefID: refID, QueryType: query.SQL, RawSQL: text, Format: format})
}

func (g *gen) health(refID string) Target {
	return highway(query.Query{RefID: refID, QueryType: query.FeedHealth, Format: query.Table})
}

// job reads an analytics job's results; the job must be in the catalogue.
func (g *gen) job(refID, name string, format query.Format) Target {
	if g.cat.Job(name) == nil {
		g.fail("no job %q in the catalogue", name)
	}
	return highway(query.Query{RefID: refID, QueryType: query.JobResults, Job: name, Format: format})
}

func (g *gen) live(refID, feed string) Target {
	g.feed(feed)
	return highway(query.Query{RefID: refID, QueryType: query.Live, Feed: feed})
}

// prom is a PromQL target on the dashboard's Prometheus (the $prometheus
// variable).
func prom(refID, expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().RefId(refID).Datasource(prometheusDS).Expr(expr).LegendFormat(legend)
}

// series is a time series panel w columns wide and h rows high, with
// Grafana's own defaults for its legend (a list below) and tooltip (the
// series under the cursor), which the SDK leaves unset; the dashboard
// builder places panels left to right, wrapping at 24 columns.
func series(title string, w, h uint32) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().Title(title).Span(w).Height(h).
		Legend(common.NewVizLegendOptionsBuilder().ShowLegend(true).DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).Calcs([]string{})).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeSingle).Sort(common.SortOrderNone))
}

// grid is a table panel w columns wide and h rows high, its footer off
// (with an empty list of reducers, not the SDK's null).
func grid(title string, w, h uint32) *tablepanel.PanelBuilder {
	return tablepanel.NewPanelBuilder().Title(title).Span(w).Height(h).
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{}))
}

// joinBy joins a table panel's frames on a field (Grafana's joinByField).
func joinBy(field string) dashboard.DataTransformerConfig {
	return dashboard.DataTransformerConfig{Id: "joinByField", Options: map[string]any{"byField": field, "mode": "outer"}}
}

// newDashboard starts a dashboard as every Highway dashboard is: editable,
// in the browser's time zone up to now, a shared crosshair, and Grafana's
// built-in annotations.
func newDashboard(uid, title, description, refresh, from string, tags ...string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).Uid(uid).Description(description).Tags(tags).
		Refresh(refresh).Time(from, "now").Timezone(common.TimeZoneBrowser).Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).Version(1).
		Annotation(dashboard.NewAnnotationQueryBuilder().Name("Annotations & Alerts").BuiltIn(1).Type("dashboard").
			Datasource(common.DataSourceRef{Type: cog.ToPtr("grafana"), Uid: cog.ToPtr("-- Grafana --")}).
			Enable(true).Hide(true).IconColor("rgba(0, 211, 255, 1)"))
}

// build builds a dashboard and numbers its panels in order (Grafana wants
// an id per panel; the SDK leaves them to the caller), and gives a panel
// without a datasource the one of its first target. What the SDK refuses
// is recorded and returned by All.
func (g *gen) build(b *dashboard.DashboardBuilder) dashboard.Dashboard {
	d, err := b.Build()
	if err != nil {
		g.built = append(g.built, err)
		return d
	}
	for i, p := range d.Panels {
		if p.Panel == nil {
			continue
		}
		p.Panel.Id = cog.ToPtr(uint32(i + 1))
		if p.Panel.Datasource == nil && len(p.Panel.Targets) > 0 {
			p.Panel.Datasource = datasourceOf(p.Panel.Targets[0])
		}
	}
	return d
}

func datasourceOf(q variants.Dataquery) *common.DataSourceRef {
	switch q := q.(type) {
	case Target:
		return &q.Datasource
	case *prometheus.Dataquery:
		return q.Datasource
	case prometheus.Dataquery:
		return q.Datasource
	}
	return nil
}
