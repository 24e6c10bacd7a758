//go:build integration

package plugin

// Integration tests: every query type and macro of the datasource against
// the real Highway API (package highway/api, in process) on the real
// ClickHouse (testenv), with a real department token. They fail, never
// skip, without ClickHouse: start it with `eval "$(ops/services up)"`.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cityhighway/highway/highway/api"
	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/internal/testenv"
	"github.com/cityhighway/highway/plugins/grafana/pkg/dashboards"
)

// t0 is the start of the seeded data and of the panels' range [t0, t0+1h].
var t0 = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

// jobSpec is an analytics job whose result table the test fills by hand
// (the scheduler's runner is not what is tested here).
const jobSpec = `kind: job
name: test.district_speed
department: TD
description: Average temperature per district and slot
every: 1h
table: test_district_temperature
sql: SELECT assumeNotNull(district) AS d, avg(temperature) AS avg_temperature FROM hko_weather_temperature WHERE record_time >= {slot_start} AND record_time < {slot_end} AND isNotNull(district) GROUP BY d ORDER BY d
`

// realAPI is the real API on a fresh ClickHouse database with seeded rows.
type realAPI struct {
	url, token string
	store      *store.Store
}

func startRealAPI(t *testing.T, opts ...func(*api.Config)) *realAPI {
	t.Helper()
	ctx := context.Background()
	dsn := testenv.Database(t)
	st, err := store.Open(ctx, dsn, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("opening ClickHouse at %s: %v", dsn, err)
	}
	t.Cleanup(func() { st.Close() })
	base, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "job.yaml"), []byte(jobSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load(base, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range cat.Feeds() {
		if err := st.EnsureFeedTable(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	// The quality ledger's tables, as the ledger job creates them: the
	// feed-health dashboard reads them.
	if err := st.EnsureQualityTables(ctx); err != nil {
		t.Fatal(err)
	}
	// INSERT ... SELECT: clickhouse-go's native protocol does not take
	// inline VALUES on ClickHouse 18.16.
	db := st.Database()
	// One ingestion time for every part of the UNION ALL: ClickHouse 18.16
	// refuses an INSERT ... SELECT whose parts' now() fall in different
	// seconds ("values of constants are different").
	ingested := time.Now().Unix()
	temp := func(station, district string, temperature float64, offset int64, n int) string {
		return fmt.Sprintf("SELECT %s, %s, toFloat64(%g), toDateTime(%d), 'hko.weather.temperature', toInt32(0), toInt64(%d), toDateTime(%d)",
			quoteSQL(station), quoteSQL(district), temperature, t0.Unix()+offset, n, ingested)
	}
	seed := []string{
		"INSERT INTO " + db + ".hko_weather_temperature (station, district, temperature, record_time, _topic, _partition, _offset, _ingested_at) " +
			strings.Join([]string{
				temp("Sha Tin", "ST", 18, 0, 1), temp("King's Park", "YTM", 20, 0, 2),
				temp("Sha Tin", "ST", 19, 60, 3), temp("King's Park", "YTM", 22, 60, 4),
				temp("Sha Tin", "ST", 21, 360, 5), temp("King's Park", "YTM", 24, 360, 6),
				temp("Sha Tin", "ST", 99, 7200, 7),
			}, " UNION ALL "),
	}
	for _, s := range seed {
		if err := st.Exec(ctx, s); err != nil {
			t.Fatalf("seeding: %v\n%s", err, s)
		}
	}
	// The job's results, written as the scheduler's runner writes them: a
	// first attempt of the slot [t0, t0+1h) with other numbers, then the
	// second attempt that is its result; and an hour later, out of range.
	job := cat.Job("test.district_speed")
	attempts := []struct {
		sql     string
		slot    time.Time
		attempt int
	}{
		{"SELECT 'ST' AS d, toFloat64(-1) AS avg_temperature", t0, 1},
		{job.Render(t0, t0.Add(time.Hour)), t0, 2},
		{job.Render(t0.Add(2*time.Hour), t0.Add(3*time.Hour)), t0.Add(2 * time.Hour), 1},
	}
	for _, a := range attempts {
		if _, err := st.WriteSlot(ctx, job.Table, a.sql, a.slot, a.attempt, "node-1"); err != nil {
			t.Fatalf("writing job results: %v", err)
		}
	}
	// One slot of every built-in job, so their result tables exist.
	for _, j := range base.Jobs() {
		if _, err := st.WriteSlot(ctx, j.Table, j.Render(t0, t0.Add(time.Hour)), t0, 1, "node-1"); err != nil {
			t.Fatalf("running built-in job %s: %v", j.Name, err)
		}
	}
	tokens, err := api.OpenTokenFile(filepath.Join(dir, "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := tokens.Create("TD", "grafana plugin integration test")
	if err != nil {
		t.Fatal(err)
	}
	cfg := api.Config{
		Catalog: cat, Stats: st, Querier: st, Database: st.Database(), Tokens: tokens,
		Gatherer: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		TokenRate: api.Rate{PerSecond: 1000, Burst: 1000},
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv := api.New(cfg)
	t.Cleanup(srv.Close)
	// The API does not serve the scheduler's jobs routes yet; serve the
	// catalogue's jobs as the scheduler does ({"jobs": [{name, spec}]}),
	// behind the same token check, and everything else from the real API.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/jobs", func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if _, ok := tokens.Verify(tok); !ok {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error": "unknown token"}`))
			return
		}
		var jobs []map[string]any
		for _, j := range cat.Jobs() {
			jobs = append(jobs, map[string]any{"name": j.Name, "spec": j})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"jobs": jobs})
	})
	mux.Handle("/", srv)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return &realAPI{url: hs.URL, token: token, store: st}
}

func quoteSQL(s string) string { return "'" + strings.ReplaceAll(s, "'", "\\'") + "'" }

func realQuery(refID, queryType, js string) backend.DataQuery {
	return backend.DataQuery{RefID: refID, QueryType: queryType, JSON: json.RawMessage(js),
		TimeRange: backend.TimeRange{From: t0, To: t0.Add(time.Hour)}, Interval: time.Minute, MaxDataPoints: 1000}
}

// cells renders a frame as rows of values, for comparisons.
func cells(f *data.Frame) [][]string {
	var out [][]string
	for i := 0; i < f.Rows(); i++ {
		var row []string
		for _, fld := range f.Fields {
			v, ok := fld.ConcreteAt(i)
			switch x := v.(type) {
			case time.Time:
				row = append(row, x.UTC().Format("15:04"))
			case nil:
				row = append(row, "null")
			default:
				if !ok {
					row = append(row, "null")
				} else {
					row = append(row, fmt.Sprint(x))
				}
			}
		}
		out = append(out, row)
	}
	return out
}

func TestIntegrationSQLMacros(t *testing.T) {
	a := startRealAPI(t)
	ds := newDatasource(t, a.url, a.token)
	tests := []struct {
		name, sql, format string
		want              [][]string
	}{
		{"timeFilter", "SELECT count() AS n FROM hko_weather_temperature WHERE $__timeFilter(record_time)", "", [][]string{{"6"}}},
		{"timeGroup", "SELECT $__timeGroup(record_time, 5m) AS t, count() AS n FROM hko_weather_temperature WHERE $__timeFilter(record_time) GROUP BY t ORDER BY t", "",
			[][]string{{"00:00", "4"}, {"00:05", "2"}}},
		{"timeGroupAlias with $__interval as time series", "SELECT $__timeGroupAlias(record_time, $__interval), max(temperature) AS temperature FROM hko_weather_temperature WHERE $__timeFilter(record_time) GROUP BY time ORDER BY time", "time_series",
			[][]string{{"00:00", "20"}, {"00:01", "22"}, {"00:06", "24"}}},
		{"fromTime and toTime", "SELECT count() AS n, $__fromTime AS f, $__toTime AS t FROM hko_weather_temperature WHERE record_time BETWEEN $__fromTime AND $__toTime", "",
			[][]string{{"6", "00:00", "01:00"}}},
		{"fromTime_ms and toTime_ms", "SELECT $__fromTime_ms AS f, $__toTime_ms AS t", "", [][]string{{fmt.Sprint(t0.UnixMilli()), fmt.Sprint(t0.Add(time.Hour).UnixMilli())}}},
		{"interval_s and interval_ms", "SELECT $__interval_s AS s, $__interval_ms AS ms", "", [][]string{{"60", "60000"}}},
		{"timeFilter_ms", "SELECT count() AS n FROM hko_weather_temperature WHERE $__timeFilter_ms(toUInt64(toUInt32(record_time)) * 1000)", "", [][]string{{"6"}}},
		{"unixEpochFilter", "SELECT count() AS n FROM hko_weather_temperature WHERE $__unixEpochFilter(toUInt32(record_time))", "", [][]string{{"6"}}},
		{"dateFilter", "SELECT count() AS n FROM hko_weather_temperature WHERE $__dateFilter(toDate(record_time))", "", [][]string{{"7"}}},
		{"group by district as wide series", "SELECT $__timeGroupAlias(record_time, 5m), district, avg(temperature) AS temperature FROM hko_weather_temperature WHERE $__timeFilter(record_time) GROUP BY time, district ORDER BY time, district", "time_series",
			[][]string{{"00:00", "18.5", "21"}, {"00:05", "21", "24"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			js, _ := json.Marshal(map[string]string{"rawSql": tc.sql, "format": tc.format})
			r := run(t, ds, realQuery("A", "sql", string(js))).Responses["A"]
			if r.Error != nil {
				t.Fatalf("%v", r.Error)
			}
			if got := cells(r.Frames[0]); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v\nexecuted: %s", got, tc.want, r.Frames[0].Meta.ExecutedQueryString)
			}
		})
	}
}

func TestIntegrationBuilder(t *testing.T) {
	a := startRealAPI(t)
	ds := newDatasource(t, a.url, a.token)
	tests := []struct {
		name, json string
		want       [][]string
		labels     []string
	}{
		{"avg by district every 5m", `{"feed": "hko.weather.temperature", "metric": "temperature", "groupBy": ["district"], "interval": "5m"}`,
			[][]string{{"00:00", "18.5", "21"}, {"00:05", "21", "24"}}, []string{"ST", "YTM"}},
		{"max of one district over the panel interval", `{"feed": "hko.weather.temperature", "metric": "temperature", "aggregation": "max", "filters": [{"field": "district", "op": "=", "value": "ST"}]}`,
			[][]string{{"00:00", "18"}, {"00:01", "19"}, {"00:06", "21"}}, nil},
		{"last per station as a table", `{"feed": "hko.weather.temperature", "metric": "temperature", "aggregation": "last", "groupBy": ["station"], "format": "table"}`,
			[][]string{{"King's Park", "24"}, {"Sha Tin", "21"}}, nil},
		{"count in range", `{"feed": "hko.weather.temperature", "aggregation": "count", "format": "table", "filters": [{"field": "station", "op": "in", "value": "Sha Tin,King's Park"}]}`,
			[][]string{{"6"}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, ds, realQuery("A", "builder", tc.json)).Responses["A"]
			if r.Error != nil {
				t.Fatalf("%v", r.Error)
			}
			f := r.Frames[0]
			if got := cells(f); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v\nexecuted: %s", got, tc.want, f.Meta.ExecutedQueryString)
			}
			for i, l := range tc.labels {
				if got := f.Fields[i+1].Labels["district"]; got != l {
					t.Errorf("series %d labels %v, want district=%s", i+1, f.Fields[i+1].Labels, l)
				}
			}
		})
	}
}

func TestIntegrationJobsHealthVariables(t *testing.T) {
	a := startRealAPI(t)
	ds := newDatasource(t, a.url, a.token)

	// Only the latest attempt of the slot in range; its columns, not the runner's.
	r := run(t, ds, realQuery("J", "jobs", `{"job": "test.district_speed", "format": "table"}`)).Responses["J"]
	if r.Error != nil {
		t.Fatalf("job results: %v", r.Error)
	}
	if got, want := cells(r.Frames[0]), [][]string{{"00:00", "ST", "19.333333333333332"}, {"00:00", "YTM", "22"}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("job results %v, want %v\nexecuted: %s", got, want, r.Frames[0].Meta.ExecutedQueryString)
	}
	r = run(t, ds, realQuery("J", "jobs", `{"job": "test.district_speed"}`)).Responses["J"]
	if r.Error != nil || r.Frames[0].TimeSeriesSchema().Type != data.TimeSeriesTypeWide || len(r.Frames[0].Fields) != 3 {
		t.Errorf("job results as time series: %v %v", r.Error, r.Frames)
	}

	r = run(t, ds, realQuery("H", "health", `{}`)).Responses["H"]
	if r.Error != nil {
		t.Fatalf("health: %v", r.Error)
	}
	h := r.Frames[0]
	found := false
	for i := 0; i < h.Rows(); i++ {
		if h.Fields[0].At(i) == "hko.weather.temperature" {
			found = true
			if rows := h.Fields[6].At(i).(uint64); rows != 7 {
				t.Errorf("health: %d rows of hko.weather.temperature, want 7", rows)
			}
		}
	}
	if !found {
		t.Error("health: hko.weather.temperature missing")
	}

	vals, err := ds.fieldValues(context.Background(), "hko.weather.temperature", "station", "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range vals {
		names = append(names, v.Value)
	}
	sort.Strings(names)
	if fmt.Sprint(names) != "[King's Park Sha Tin]" {
		t.Errorf("station values %v", names)
	}

	res, err := ds.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	if err != nil || res.Status != backend.HealthStatusOk {
		t.Errorf("health check with a real token: %v %v", res, err)
	}
	bad := newDatasource(t, a.url, "hw_not_a_token")
	res, _ = bad.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	if res.Status != backend.HealthStatusError || !strings.Contains(res.Message, "refused the department token") {
		t.Errorf("health check with a bad token: %v %s", res.Status, res.Message)
	}
}

func TestIntegrationErrors(t *testing.T) {
	a := startRealAPI(t)
	ds := newDatasource(t, a.url, a.token)
	tests := []struct {
		name, sql string
		status    backend.Status
		wants     []string
	}{
		{"unknown column from ClickHouse", "SELECT temp FROM hko_weather_temperature", backend.StatusBadRequest, []string{"query error", "temp"}},
		{"write refused by the API's guard", "DROP TABLE hko_weather_temperature", backend.StatusBadRequest, []string{"query error"}},
		{"bad macro never reaches the API", "SELECT $__timeGroup(record_time) FROM hko_weather_temperature", backend.StatusBadRequest, []string{"$__timeGroup", "expected 2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			js, _ := json.Marshal(map[string]string{"rawSql": tc.sql})
			r := run(t, ds, realQuery("E", "sql", string(js))).Responses["E"]
			if r.Error == nil {
				t.Fatal("no error")
			}
			if r.Status != tc.status {
				t.Errorf("status %d, want %d: %v", r.Status, tc.status, r.Error)
			}
			for _, w := range tc.wants {
				if !strings.Contains(r.Error.Error(), w) {
					t.Errorf("error %q does not mention %q", r.Error, w)
				}
			}
		})
	}
}

// TestIntegrationLatency measures a panel query through the plugin and the
// API (HTTP, auth, SQL guard, Arrow over the wire, frames) against the same
// SQL run by the store's clickhouse-go connection directly (result encoded
// to Arrow and discarded), interleaved in one run. The target is
// plugin ≤ 1.2 × direct + 20 ms; the test fails only beyond 2 × + 50 ms, so
// a noisy machine does not fail it, and logs the figures.
func TestIntegrationLatency(t *testing.T) {
	a := startRealAPI(t)
	ctx := context.Background()
	const rows = 200000
	ins := fmt.Sprintf("INSERT INTO %s.td_traffic_detectors (detector_id, lane_id, district, speed, volume, valid, period_from, _topic, _partition, _offset, _ingested_at) "+
		"SELECT concat('AID', toString(number %% 500)), 'Fast Lane', ['CW', 'ST', 'YTM', 'KC', 'TW'][number %% 5 + 1], toFloat64(30 + number %% 70), toInt64(number %% 20), toUInt8(1), "+
		"toDateTime(%d + intDiv(number, 500) * 30), 'td.traffic.detectors', toInt32(0), toInt64(number), now() FROM system.numbers LIMIT %d",
		a.store.Database(), t0.Unix()-3600, rows)
	if err := a.store.Exec(ctx, ins); err != nil {
		t.Fatal(err)
	}
	ds := newDatasource(t, a.url, a.token)
	cases := []struct{ name, sql, format string }{
		{"aggregate panel", "SELECT $__timeGroupAlias(period_from, 1m), district, avg(speed) AS speed FROM td_traffic_detectors WHERE $__timeFilter(period_from) GROUP BY time, district ORDER BY time, district", "time_series"},
		{"raw rows (10000)", "SELECT period_from, detector_id, district, speed, volume FROM td_traffic_detectors WHERE $__timeFilter(period_from) ORDER BY period_from LIMIT 10000", "table"},
	}
	const n = 25
	for _, c := range cases {
		js, _ := json.Marshal(map[string]string{"rawSql": c.sql, "format": c.format})
		q := realQuery("A", "sql", string(js))
		expanded := strings.NewReplacer("$__timeGroupAlias(period_from, 1m)", "toDateTime(intDiv(toUInt32(period_from), 60) * 60) AS time",
			"$__timeFilter(period_from)", fmt.Sprintf("period_from >= toDateTime(%d) AND period_from <= toDateTime(%d)", t0.Unix(), t0.Add(time.Hour).Unix())).Replace(c.sql)
		lim := store.Limits{MaxExecutionTime: 30 * time.Second}
		var viaPlugin, direct []time.Duration
		for i := 0; i < n+2; i++ {
			start := time.Now()
			r := run(t, ds, q).Responses["A"]
			d1 := time.Since(start)
			if r.Error != nil {
				t.Fatal(r.Error)
			}
			start = time.Now()
			if _, err := a.store.Query(ctx, expanded, lim, store.FormatArrow, io.Discard); err != nil {
				t.Fatal(err)
			}
			d2 := time.Since(start)
			if i >= 2 { // warm-up
				viaPlugin, direct = append(viaPlugin, d1), append(direct, d2)
			}
		}
		p, d := median(viaPlugin), median(direct)
		t.Logf("%s: plugin+API median %v p90 %v; clickhouse-go direct median %v p90 %v; ratio %.2f, difference %v",
			c.name, p, p90(viaPlugin), d, p90(direct), float64(p)/float64(d), p-d)
		if p > 2*d+50*time.Millisecond {
			t.Errorf("%s: plugin+API %v is over 2 × direct (%v) + 50 ms", c.name, p, d)
		}
	}
}

func median(ds []time.Duration) time.Duration { return quantile(ds, 0.5) }
func p90(ds []time.Duration) time.Duration    { return quantile(ds, 0.9) }

func quantile(ds []time.Duration, q float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(q*float64(len(s)-1))]
}

// TestIntegrationDashboards runs every Highway query of the generated
// dashboards through the plugin against the real API and ClickHouse: each
// must run (a field renamed in ClickHouse but not in a dashboard fails here).
func TestIntegrationDashboards(t *testing.T) {
	a := startRealAPI(t)
	ds := newDatasource(t, a.url, a.token)
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	all, err := dashboards.All(cat)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range all {
		for _, tg := range dashboards.Targets(d) {
			// Dashboard variables as Grafana would replace them ($district: All).
			q := tg.Query
			q.RawSQL = strings.ReplaceAll(q.RawSQL, "$district", "'ST','YTM'")
			js, err := json.Marshal(q)
			if err != nil {
				t.Fatal(err)
			}
			r := run(t, ds, realQuery(q.RefID, string(q.QueryType), string(js))).Responses[q.RefID]
			if r.Error != nil {
				t.Errorf("%s: %s %s: %v", *d.Title, q.RefID, q.QueryType, r.Error)
			}
			n++
		}
	}
	t.Logf("ran %d dashboard queries", n)
}

// TestIntegrationLive follows a feed through Grafana Live's calls
// (SubscribeStream, RunStream) from the real API's live tail on real Kafka:
// records produced to the feed's topic arrive as frames.
func TestIntegrationLive(t *testing.T) {
	b, err := bus.New(bus.Config{Brokers: testenv.Kafka(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a := startRealAPI(t, func(c *api.Config) { c.Tail = b })
	ds := newDatasource(t, a.url, a.token)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const feed = "hko.weather.temperature"
	if err := b.EnsureTopics(ctx, 1, feed); err != nil {
		t.Fatal(err)
	}
	sub, err := ds.SubscribeStream(ctx, &backend.SubscribeStreamRequest{Path: StreamPath(feed)})
	if err != nil || sub.Status != backend.SubscribeStreamStatusOK {
		t.Fatalf("subscribe: %v %v", sub, err)
	}
	p := &packets{}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- ds.RunStream(runCtx, &backend.RunStreamRequest{Path: StreamPath(feed)}, backend.NewStreamSender(p))
	}()

	// The topic is shared with other tests: look for a marker station. The
	// tail starts at the end, so keep producing until a frame arrives.
	marker := testenv.Name("station")
	prod := b.NewProducer()
	defer prod.Close()
	rec := fmt.Sprintf(`{"station": %q, "district": "ST", "temperature": 23.5, "record_time": "2026-11-26T08:00:00+08:00"}`, marker)
	found := false
	for !found && ctx.Err() == nil {
		_ = prod.Produce(ctx, bus.Message{Topic: feed, Key: []byte(marker), Value: []byte(rec)})
		time.Sleep(200 * time.Millisecond)
		p.mu.Lock()
		for _, f := range p.frames {
			for i := 0; i < f.Rows(); i++ {
				if v, ok := f.Fields[1].ConcreteAt(i); ok && v == marker {
					found = true
					if tv, _ := f.Fields[0].ConcreteAt(i); !tv.(time.Time).Equal(t0) {
						t.Errorf("record_time %v, want %v", tv, t0)
					}
					if x, _ := f.Fields[3].ConcreteAt(i); x != 23.5 {
						t.Errorf("temperature %v", x)
					}
				}
			}
		}
		p.mu.Unlock()
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("RunStream: %v", err)
	}
	if !found {
		t.Fatal("no live record reached the stream")
	}
}
