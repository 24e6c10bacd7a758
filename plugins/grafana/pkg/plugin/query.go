package plugin

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/live"

	"github.com/cityhighway/highway/plugins/grafana/pkg/apiclient"
	"github.com/cityhighway/highway/plugins/grafana/pkg/macros"
	"github.com/cityhighway/highway/plugins/grafana/pkg/query"
)

// maxParallel bounds the queries of one request that run at once.
const maxParallel = 4

// QueryData answers a panel's queries, each on its own, at most maxParallel
// at a time. A failed query fails only its own response.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxParallel)
	for _, q := range req.Queries {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			r := d.query(ctx, req.PluginContext, q)
			mu.Lock()
			resp.Responses[q.RefID] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
	return resp, nil
}

// query answers one query.
func (d *Datasource) query(ctx context.Context, pc backend.PluginContext, dq backend.DataQuery) backend.DataResponse {
	q, err := query.Parse(dq.JSON, dq.QueryType)
	if err != nil {
		return errorResponse(err)
	}
	q.RefID = dq.RefID
	r := macros.Range{From: dq.TimeRange.From, To: dq.TimeRange.To, Interval: dq.Interval}
	var frames data.Frames
	switch q.QueryType {
	case query.SQL:
		frames, err = d.querySQL(ctx, q, q.RawSQL, r)
	case query.Builder:
		frames, err = d.queryBuilder(ctx, q, r)
	case query.JobResults:
		frames, err = d.queryJob(ctx, q, r)
	case query.FeedHealth:
		frames, err = d.queryHealth(ctx)
	case query.Live:
		frames, err = d.queryLive(ctx, pc, q)
	default:
		err = fmt.Errorf("%w: unknown query type %q; use builder, sql, jobs, health or live", query.ErrInvalid, q.QueryType)
	}
	if err != nil {
		d.log.Debug("query failed", "refId", dq.RefID, "type", q.QueryType, "error", err)
		return errorResponse(err)
	}
	return backend.DataResponse{Frames: frames}
}

// querySQL expands sql's macros, runs it through the API and shapes the
// answer by the query's format.
func (d *Datasource) querySQL(ctx context.Context, q query.Query, sql string, r macros.Range) (data.Frames, error) {
	if sql == "" {
		return nil, fmt.Errorf("%w: the SQL is empty", query.ErrInvalid)
	}
	expanded, err := macros.Expand(sql, r)
	if err != nil {
		return nil, err
	}
	api, err := d.api()
	if err != nil {
		return nil, err
	}
	frame, err := api.Query(ctx, expanded, q.RefID)
	if err != nil {
		return nil, err
	}
	frame.Meta = &data.FrameMeta{ExecutedQueryString: expanded}
	if q.Format == query.TimeSeries {
		return toTimeSeries(frame)
	}
	frame.Meta.PreferredVisualization = data.VisTypeTable
	return data.Frames{frame}, nil
}

// toTimeSeries turns a long frame (time, label columns, values) into a wide
// one with a series per label set; a frame that is already wide is kept.
func toTimeSeries(frame *data.Frame) (data.Frames, error) {
	switch frame.TimeSeriesSchema().Type {
	case data.TimeSeriesTypeLong:
		if frame.Rows() == 0 {
			return data.Frames{frame}, nil
		}
		wide, err := data.LongToWide(frame, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: turning rows into time series: %v (ORDER BY the time column first)", query.ErrInvalid, err)
		}
		wide.Name, wide.RefID, wide.Meta = frame.Name, frame.RefID, frame.Meta
		return data.Frames{wide}, nil
	case data.TimeSeriesTypeWide:
		return data.Frames{frame}, nil
	default:
		if frame.Rows() == 0 {
			return data.Frames{frame}, nil
		}
		return nil, fmt.Errorf("%w: format time series needs a DateTime column and a number column; use format table, or select e.g. $__timeGroupAlias(col, $__interval)", query.ErrInvalid)
	}
}

// queryBuilder turns a builder query into SQL from the feed's spec.
func (d *Datasource) queryBuilder(ctx context.Context, q query.Query, r macros.Range) (data.Frames, error) {
	if q.Feed == "" {
		return nil, fmt.Errorf("%w: choose a feed", query.ErrInvalid)
	}
	feed, table, err := d.feedTable(ctx, q.Feed)
	if err != nil {
		return nil, err
	}
	sql, err := q.BuilderSQLFrom(feed, table)
	if err != nil {
		return nil, err
	}
	return d.querySQL(ctx, q, sql, r)
}

// queryJob reads the result table of an analytics job.
func (d *Datasource) queryJob(ctx context.Context, q query.Query, r macros.Range) (data.Frames, error) {
	if q.Job == "" {
		return nil, fmt.Errorf("%w: choose a job", query.ErrInvalid)
	}
	api, err := d.api()
	if err != nil {
		return nil, err
	}
	jobs, err := api.Jobs(ctx)
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		if j.Name != q.Job {
			continue
		}
		if j.ResultTableName() == "" {
			return nil, fmt.Errorf("%w: the API does not say which table holds the results of job %q", apiclient.ErrProtocol, q.Job)
		}
		table := j.ResultTableName()
		cols, err := d.columns(ctx, table)
		if err != nil {
			return nil, err
		}
		sql, err := q.JobSQL(table, cols)
		if err != nil {
			return nil, err
		}
		return d.querySQL(ctx, q, sql, r)
	}
	return nil, fmt.Errorf("%w: no job %q visible to this department", query.ErrInvalid, q.Job)
}

// queryHealth lists the feeds with their freshness, worst first.
func (d *Datasource) queryHealth(ctx context.Context) (data.Frames, error) {
	api, err := d.api()
	if err != nil {
		return nil, err
	}
	feeds, err := api.Feeds(ctx)
	if err != nil {
		return nil, err
	}
	return data.Frames{HealthFrame(feeds, time.Now())}, nil
}

// freshnessRank orders freshness from worst to best.
var freshnessRank = map[string]int{"stale": 0, "unknown": 1, "empty": 2, "late": 3, "fresh": 4}

// HealthFrame is the feed-health table: one row per feed, worst freshness
// first, with the age of its latest event in seconds.
func HealthFrame(feeds []apiclient.Feed, now time.Time) *data.Frame {
	sort.SliceStable(feeds, func(i, j int) bool {
		ri, rj := freshnessRank[feeds[i].Freshness], freshnessRank[feeds[j].Freshness]
		if ri != rj {
			return ri < rj
		}
		return feeds[i].Name < feeds[j].Name
	})
	n := len(feeds)
	var (
		name, dept, fresh, statsErr = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		latest                      = make([]*time.Time, n)
		age                         = make([]*float64, n)
		rows                        = make([]uint64, n)
		interval                    = make([]float64, n)
	)
	for i, f := range feeds {
		name[i], dept[i], fresh[i], statsErr[i] = f.Name, f.Department, f.Freshness, f.StatsError
		rows[i], interval[i] = f.Rows, f.IntervalSeconds
		if f.LatestEventTime != nil {
			t := f.LatestEventTime.UTC()
			a := now.Sub(t).Seconds()
			latest[i], age[i] = &t, &a
		}
	}
	frame := data.NewFrame("feed health",
		data.NewField("feed", nil, name),
		data.NewField("department", nil, dept),
		data.NewField("freshness", nil, fresh),
		data.NewField("latest_event_time", nil, latest),
		data.NewField("age_seconds", nil, age).SetConfig(&data.FieldConfig{Unit: "s"}),
		data.NewField("interval_seconds", nil, interval).SetConfig(&data.FieldConfig{Unit: "s"}),
		data.NewField("rows", nil, rows),
		data.NewField("stats_error", nil, statsErr),
	)
	frame.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return frame
}

// queryLive answers a live query with an empty frame of the feed's fields
// whose meta names the Grafana Live channel; the frontend subscribes to it.
func (d *Datasource) queryLive(ctx context.Context, pc backend.PluginContext, q query.Query) (data.Frames, error) {
	if q.Feed == "" {
		return nil, fmt.Errorf("%w: choose a feed to follow live", query.ErrInvalid)
	}
	feed, err := d.feed(ctx, q.Feed)
	if err != nil {
		return nil, err
	}
	uid := ""
	if pc.DataSourceInstanceSettings != nil {
		uid = pc.DataSourceInstanceSettings.UID
	}
	ch := live.Channel{Scope: live.ScopeDatasource, Namespace: uid, Path: StreamPath(feed.Name)}
	frame := NewRecordBuilder(feed).Frame()
	frame.SetMeta(&data.FrameMeta{Channel: ch.String()})
	return data.Frames{frame}, nil
}

// columns returns the columns of a table the department may read, from an
// empty answer of the API (SELECT * ... LIMIT 0), cached for feedTTL.
func (d *Datasource) columns(ctx context.Context, table string) ([]string, error) {
	d.mu.Lock()
	c, ok := d.tables[table]
	d.mu.Unlock()
	if ok && time.Since(c.at) < feedTTL {
		return c.cols, nil
	}
	api, err := d.api()
	if err != nil {
		return nil, err
	}
	frame, err := api.Query(ctx, "SELECT * FROM "+table+" LIMIT 0", "columns")
	if err != nil {
		return nil, fmt.Errorf("reading the columns of %s: %w", table, err)
	}
	cols := make([]string, len(frame.Fields))
	for i, f := range frame.Fields {
		cols[i] = f.Name
	}
	d.mu.Lock()
	d.tables[table] = cachedColumns{cols: cols, at: time.Now()}
	d.mu.Unlock()
	return cols, nil
}
