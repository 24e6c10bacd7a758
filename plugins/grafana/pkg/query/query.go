// Package query is the Highway datasource's query model: the JSON a panel
// sends (the frontend's HighwayQuery, the dashboards' targets) and the SQL
// that each query type becomes. The builder's SQL is generated here from the
// feed's spec (a catalog.Feed), so the same checks run in the backend, on
// every query, and in the dashboards' test against the built-in catalogue:
// a renamed feed field breaks a test, not a dashboard.
package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/plugins/grafana/pkg/macros"
)

// Type is a query type, sent as the query's "queryType".
type Type string

// The query types.
const (
	// Builder builds SQL from a feed, a metric, an aggregation, group-by
	// fields and filters. It is the default when queryType is empty.
	Builder Type = "builder"
	// SQL runs the user's SQL after expanding macros.
	SQL Type = "sql"
	// JobResults reads the result table of an analytics job.
	JobResults Type = "jobs"
	// FeedHealth lists feeds with their freshness, as a table.
	FeedHealth Type = "health"
	// Live subscribes to a feed's live tail through Grafana Live; QueryData
	// answers it with the channel to subscribe to.
	Live Type = "live"
)

// Format says how a query's rows are shaped for the panel.
type Format string

// The formats.
const (
	// TimeSeries turns long rows (time, labels..., values...) into wide
	// series, one per label set. Default for builder and job queries.
	TimeSeries Format = "time_series"
	// Table returns the rows as they are. Default for SQL queries.
	Table Format = "table"
)

// Aggregation is a builder aggregation.
type Aggregation string

// Aggregations maps each builder aggregation to its ClickHouse SQL, %s being
// the metric column; "last" takes the value at the latest event time. All
// run on ClickHouse 18.16.
var Aggregations = map[Aggregation]string{
	"avg":   "avg(%s)",
	"min":   "min(%s)",
	"max":   "max(%s)",
	"sum":   "sum(%s)",
	"count": "count(%s)",
	"p50":   "quantile(0.5)(%s)",
	"p90":   "quantile(0.9)(%s)",
	"p99":   "quantile(0.99)(%s)",
	"last":  "argMax(%s, %s)",
}

// Operators are the builder's filter operators.
var Operators = []string{"=", "!=", "<", "<=", ">", ">=", "in", "not in", "like"}

// Filter is a builder condition: field op value. For "in" and "not in",
// Value is a comma-separated list.
type Filter struct {
	Field string `json:"field"`
	Op    string `json:"op"`
	Value string `json:"value"`
}

// Query is one panel target as the frontend sends it. Fields unused by its
// type are ignored.
type Query struct {
	RefID     string `json:"refId"`
	QueryType Type   `json:"queryType"`
	Format    Format `json:"format,omitempty"`

	// SQL query.
	RawSQL string `json:"rawSql,omitempty"`

	// Builder and live queries.
	Feed        string      `json:"feed,omitempty"`
	Metric      string      `json:"metric,omitempty"`
	Aggregation Aggregation `json:"aggregation,omitempty"`
	GroupBy     []string    `json:"groupBy,omitempty"`
	Filters     []Filter    `json:"filters,omitempty"`
	// Interval overrides the panel's interval for the builder's buckets
	// ("5m", "1h"); empty uses $__interval.
	Interval string `json:"interval,omitempty"`
	// Limit caps the rows; 0 means DefaultLimit.
	Limit int `json:"limit,omitempty"`

	// Job results.
	Job string `json:"job,omitempty"`
	// TimeColumn is the job table's time column; default "_slot", the
	// start of the slot that wrote the row.
	TimeColumn string `json:"timeColumn,omitempty"`
}

// DefaultLimit caps builder and job queries when Limit is 0. The API's own
// limits still apply.
const DefaultLimit = 100000

// ErrInvalid is the parent of every error of Parse and Validate: the query
// is the user's to fix.
var ErrInvalid = errors.New("invalid query")

// Parse decodes a query's JSON and fills defaults: an empty queryType is a
// builder query (or SQL if rawSql is set), an empty format follows the type.
func Parse(raw json.RawMessage, queryType string) (Query, error) {
	var q Query
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &q); err != nil {
			return q, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	if queryType != "" {
		q.QueryType = Type(queryType)
	}
	if q.QueryType == "" {
		q.QueryType = Builder
		if strings.TrimSpace(q.RawSQL) != "" {
			q.QueryType = SQL
		}
	}
	if q.Format == "" {
		switch q.QueryType {
		case Builder, JobResults:
			q.Format = TimeSeries
		default:
			q.Format = Table
		}
	}
	return q, nil
}

// identRe matches column names that need no quoting; the builder refuses
// others rather than quoting them.
var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks a builder query against its feed's spec: the metric,
// group-by and filter fields exist and fit their use. The error names the
// field and the feed.
func (q Query) Validate(feed *catalog.Feed) error {
	if q.QueryType != Builder {
		return nil
	}
	if q.Feed == "" {
		return fmt.Errorf("%w: choose a feed", ErrInvalid)
	}
	if feed == nil || feed.Name != q.Feed {
		return fmt.Errorf("%w: no feed %q", ErrInvalid, q.Feed)
	}
	if feed.Field(feed.EventTime) == nil {
		return fmt.Errorf("%w: feed %s has no event time field %q", ErrInvalid, feed.Name, feed.EventTime)
	}
	agg := q.agg()
	if _, ok := Aggregations[agg]; !ok {
		return fmt.Errorf("%w: aggregation %q; choose one of %s", ErrInvalid, agg, strings.Join(AggregationNames(), ", "))
	}
	if q.Metric == "" {
		if agg != "count" {
			return fmt.Errorf("%w: choose a metric field of %s (or aggregation count)", ErrInvalid, feed.Name)
		}
	} else {
		f := feed.Field(q.Metric)
		if f == nil {
			return fmt.Errorf("%w: feed %s has no field %q (fields: %s)", ErrInvalid, feed.Name, q.Metric, fieldNames(feed))
		}
		if !f.Type.Numeric() && f.Type != catalog.Bool && agg != "count" && agg != "last" {
			return fmt.Errorf("%w: field %s.%s is %s; %s needs a number (use count or last)", ErrInvalid, feed.Name, q.Metric, f.Type, agg)
		}
	}
	for _, g := range q.GroupBy {
		f := feed.Field(g)
		if f == nil {
			return fmt.Errorf("%w: group by: feed %s has no field %q (fields: %s)", ErrInvalid, feed.Name, g, fieldNames(feed))
		}
		if f.Type == catalog.Time || f.Type == catalog.Float64 {
			return fmt.Errorf("%w: group by: field %s.%s is %s; group by a string, bool or int64 field", ErrInvalid, feed.Name, g, f.Type)
		}
	}
	for i, flt := range q.Filters {
		if _, err := filterSQL(feed, flt); err != nil {
			return fmt.Errorf("%w: filter %d: %v", ErrInvalid, i+1, err)
		}
	}
	if q.Interval != "" {
		if _, err := macros.Expand("$__timeGroup(t, "+q.Interval+")", macros.Range{}); err != nil {
			return fmt.Errorf("%w: interval: %v", ErrInvalid, err)
		}
	}
	if q.Limit < 0 {
		return fmt.Errorf("%w: limit %d is negative", ErrInvalid, q.Limit)
	}
	return nil
}

func (q Query) agg() Aggregation {
	if q.Aggregation == "" {
		return "avg"
	}
	return q.Aggregation
}

// AggregationNames lists the aggregations in the editor's order.
func AggregationNames() []string {
	return []string{"avg", "min", "max", "sum", "count", "p50", "p90", "p99", "last"}
}

func fieldNames(feed *catalog.Feed) string {
	n := make([]string, len(feed.Fields))
	for i, f := range feed.Fields {
		n[i] = f.Name
	}
	return strings.Join(n, ", ")
}

// BuilderSQL returns the SQL of a valid builder query on feed's table,
// with macros ($__timeFilter, $__timeGroup) left for macros.Expand, so the
// query inspector shows what the user could have written by hand.
//
// As a time series it is
//
//	SELECT $__timeGroup(ev, interval) AS time, toString(g)..., agg(metric) AS metric
//	FROM table WHERE $__timeFilter(ev) AND filters
//	GROUP BY time, g... ORDER BY time, g... LIMIT n
//
// and as a table the same without the time bucket, one row per group.
func (q Query) BuilderSQL(feed *catalog.Feed) (string, error) {
	return q.BuilderSQLFrom(feed, feed.Table())
}

// tableRe is a table as the API names it: table, or database.table for a
// restricted feed's (database <db>_restricted).
var tableRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)

// BuilderSQLFrom is BuilderSQL on the table the API names for the feed
// (its "table" in GET /api/v1/feeds): a restricted feed's table is in a
// database of its own and must be written database.table.
func (q Query) BuilderSQLFrom(feed *catalog.Feed, table string) (string, error) {
	if !tableRe.MatchString(table) {
		return "", fmt.Errorf("%w: the API names the table of feed %s %q, which is not table or database.table", ErrInvalid, feed.Name, table)
	}
	if err := q.Validate(feed); err != nil {
		return "", err
	}
	ev := feed.EventTime
	var sel, group []string
	if q.Format == TimeSeries {
		interval := q.Interval
		if interval == "" {
			interval = "$__interval"
		}
		sel = append(sel, fmt.Sprintf("$__timeGroup(%s, %s) AS time", ev, interval))
		group = append(group, "time")
	}
	for _, g := range q.GroupBy {
		if feed.Field(g).Type == catalog.String {
			sel = append(sel, g)
		} else {
			// labels must be strings to become series labels
			sel = append(sel, fmt.Sprintf("toString(%s) AS %s", g, g))
		}
		group = append(group, g)
	}
	agg := q.agg()
	metric, alias := q.Metric, q.Metric
	if metric == "" {
		metric, alias = "*", "count"
	}
	var expr string
	if agg == "last" {
		expr = fmt.Sprintf(Aggregations[agg], metric, ev)
	} else {
		expr = fmt.Sprintf(Aggregations[agg], metric)
	}
	if feed.Field(q.Metric) != nil && feed.Field(q.Metric).Type == catalog.Bool && agg != "count" && agg != "last" {
		expr = fmt.Sprintf(Aggregations[agg], "toFloat64("+metric+")")
	}
	sel = append(sel, fmt.Sprintf("%s AS %s", expr, alias))
	where := []string{fmt.Sprintf("$__timeFilter(%s)", ev)}
	for _, flt := range q.Filters {
		w, _ := filterSQL(feed, flt)
		where = append(where, w)
	}
	limit := q.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT %s\nFROM %s\nWHERE %s", strings.Join(sel, ", "), table, strings.Join(where, " AND "))
	if len(group) > 0 {
		fmt.Fprintf(&b, "\nGROUP BY %s\nORDER BY %s", strings.Join(group, ", "), strings.Join(group, ", "))
	}
	fmt.Fprintf(&b, "\nLIMIT %d", limit)
	return b.String(), nil
}

// filterSQL renders one filter as a condition, quoting its value by the
// field's type, or says why it cannot.
func filterSQL(feed *catalog.Feed, flt Filter) (string, error) {
	f := feed.Field(flt.Field)
	if f == nil {
		return "", fmt.Errorf("feed %s has no field %q", feed.Name, flt.Field)
	}
	if !identRe.MatchString(f.Name) {
		return "", fmt.Errorf("field name %q needs quoting; use an SQL query", f.Name)
	}
	op := strings.ToLower(strings.TrimSpace(flt.Op))
	known := false
	for _, o := range Operators {
		known = known || o == op
	}
	if !known {
		return "", fmt.Errorf("operator %q on %s; use one of %s", flt.Op, f.Name, strings.Join(Operators, " "))
	}
	if op == "like" && f.Type != catalog.String {
		return "", fmt.Errorf("like needs a string field; %s is %s", f.Name, f.Type)
	}
	if op == "in" || op == "not in" {
		var vals []string
		for _, v := range strings.Split(flt.Value, ",") {
			lit, err := literal(f, strings.TrimSpace(v))
			if err != nil {
				return "", err
			}
			vals = append(vals, lit)
		}
		return fmt.Sprintf("%s %s (%s)", f.Name, strings.ToUpper(op), strings.Join(vals, ", ")), nil
	}
	lit, err := literal(f, flt.Value)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s %s %s", f.Name, strings.ToUpper(op), lit), nil
}

// literal renders v as an SQL literal of f's type.
func literal(f *catalog.Field, v string) (string, error) {
	switch f.Type {
	case catalog.String:
		return Quote(v), nil
	case catalog.Int64:
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return "", fmt.Errorf("%s is int64; %q is not an integer", f.Name, v)
		}
		return v, nil
	case catalog.Float64:
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return "", fmt.Errorf("%s is float64; %q is not a number", f.Name, v)
		}
		return v, nil
	case catalog.Bool:
		switch strings.ToLower(v) {
		case "true", "1":
			return "1", nil
		case "false", "0":
			return "0", nil
		}
		return "", fmt.Errorf("%s is bool; %q is not true or false", f.Name, v)
	case catalog.Time:
		return Quote(v), nil
	}
	return "", fmt.Errorf("%s has unknown type %s", f.Name, f.Type)
}

// Quote returns s as a ClickHouse string literal.
func Quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}

// Columns of job result tables beside the query's own (highway/store's
// ColSlot, ColAttempt, ColNode, ColWrittenAt): every attempt of every slot
// is kept, and the latest attempt of a slot is its result.
const (
	JobSlotColumn    = "_slot"
	JobAttemptColumn = "_attempt"
)

// jobMetaColumns are left out of job results: they say how a row was made.
var jobMetaColumns = map[string]bool{JobAttemptColumn: true, "_node": true, "_written_at": true}

// JobSQL returns the SQL that reads a job's result table over the panel's
// time range: the latest attempt of each slot (a retried slot's earlier
// rows are not shown twice), the job's own columns (columns, as the table
// has them) with the slot as "time", ordered by time. The time column is
// the slot unless the query names another.
func (q Query) JobSQL(table string, columns []string) (string, error) {
	if !regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`).MatchString(table) {
		return "", fmt.Errorf("%w: job result table %q is not a plain table name", ErrInvalid, table)
	}
	col := q.TimeColumn
	if col == "" {
		col = JobSlotColumn
	}
	if !identRe.MatchString(col) {
		return "", fmt.Errorf("%w: time column %q is not a plain column name", ErrInvalid, col)
	}
	sel := []string{col + " AS time"}
	has := map[string]bool{}
	for _, c := range columns {
		has[c] = true
		if c == col || jobMetaColumns[c] || (c == JobSlotColumn && col != JobSlotColumn) {
			continue
		}
		if !identRe.MatchString(c) {
			c = "`" + strings.ReplaceAll(c, "`", "\\`") + "`"
		}
		sel = append(sel, c)
	}
	if !has[col] {
		return "", fmt.Errorf("%w: job table %s has no column %q (columns: %s)", ErrInvalid, table, col, strings.Join(columns, ", "))
	}
	limit := q.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	where := fmt.Sprintf("$__timeFilter(%s)", col)
	if has[JobSlotColumn] && has[JobAttemptColumn] {
		where += fmt.Sprintf(" AND (%s, %s) IN (SELECT %s, max(%s) FROM %s WHERE $__timeFilter(%s) GROUP BY %s)",
			JobSlotColumn, JobAttemptColumn, JobSlotColumn, JobAttemptColumn, table, col, JobSlotColumn)
	}
	return fmt.Sprintf("SELECT %s\nFROM %s\nWHERE %s\nORDER BY time\nLIMIT %d", strings.Join(sel, ", "), table, where, limit), nil
}
