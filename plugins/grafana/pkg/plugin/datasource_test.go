package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/plugins/grafana/pkg/apiclient"
	"github.com/cityhighway/highway/plugins/grafana/pkg/apitest"
)

var (
	from = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	to   = from.Add(time.Hour)
)

// newServer starts the API over the built-in catalogue, changed by edit
// if given.
func newServer(t *testing.T, edit ...func(*catalog.Catalog)) *apitest.Server {
	t.Helper()
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range edit {
		e(cat)
	}
	s := apitest.New(cat)
	t.Cleanup(s.Close)
	return s
}

func newDatasource(t *testing.T, url, token string) *Datasource {
	t.Helper()
	inst, err := NewDatasource(context.Background(), settings(url, token))
	if err != nil {
		t.Fatal(err)
	}
	ds := inst.(*Datasource)
	t.Cleanup(ds.Dispose)
	return ds
}

func settings(url, token string) backend.DataSourceInstanceSettings {
	return backend.DataSourceInstanceSettings{
		UID: "hw", URL: url, JSONData: json.RawMessage(`{"timeoutSeconds": 5}`),
		DecryptedSecureJSONData: map[string]string{"token": token},
	}
}

func dataQuery(refID, queryType, js string) backend.DataQuery {
	return backend.DataQuery{RefID: refID, QueryType: queryType, JSON: json.RawMessage(js),
		TimeRange: backend.TimeRange{From: from, To: to}, Interval: time.Minute, MaxDataPoints: 1000}
}

func run(t *testing.T, ds *Datasource, qs ...backend.DataQuery) *backend.QueryDataResponse {
	t.Helper()
	resp, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{
		PluginContext: backend.PluginContext{DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{UID: "hw"}},
		Queries:       qs,
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// series answers every query with a long frame: two districts over two minutes.
func series(string) (arrow.RecordBatch, error) {
	return apitest.Record(
		apitest.Col{Name: "time", Values: []time.Time{from, from, from.Add(time.Minute), from.Add(time.Minute)}},
		apitest.Col{Name: "district", Values: []string{"CW", "ST", "CW", "ST"}},
		apitest.Col{Name: "temperature", Values: []float64{20, 18, 21, 19}},
	), nil
}

func TestQueryDataTypes(t *testing.T) {
	srv := newServer(t)
	srv.SetAnswer(func(sql string) (arrow.RecordBatch, error) {
		if strings.HasSuffix(sql, "LIMIT 0") { // the columns of a job table
			return apitest.Record(
				apitest.Col{Name: "district", Values: []string{}}, apitest.Col{Name: "speed", Values: []float64{}},
				apitest.Col{Name: "_slot", Values: []time.Time{}}, apitest.Col{Name: "_attempt", Values: []uint64{}},
				apitest.Col{Name: "_node", Values: []string{}}), nil
		}
		return series(sql)
	})
	srv.SetJobs([]apiclient.Job{{Name: "city.district_hourly", Spec: &apiclient.JobSpec{Table: "city_district_hourly"}}})
	ds := newDatasource(t, srv.URL, apitest.Token)

	tests := []struct {
		name, queryType, json string
		// wantSQL is the SQL the API must receive (macros expanded).
		wantSQL string
		check   func(t *testing.T, frames data.Frames)
	}{
		{"sql with macros, table", "sql", `{"rawSql": "SELECT $__timeGroupAlias(record_time, $__interval), district, avg(temperature) AS temperature FROM hko_weather_temperature WHERE $__timeFilter(record_time) GROUP BY time, district ORDER BY time"}`,
			"SELECT toDateTime(intDiv(toUInt32(record_time), 60) * 60) AS time, district, avg(temperature) AS temperature FROM hko_weather_temperature WHERE record_time >= toDateTime(1795651200) AND record_time <= toDateTime(1795654800) GROUP BY time, district ORDER BY time",
			func(t *testing.T, f data.Frames) {
				if len(f) != 1 || f[0].Rows() != 4 || len(f[0].Fields) != 3 {
					t.Errorf("table: got %d frames, %d rows", len(f), f[0].Rows())
				}
			}},
		{"sql as time series is wide", "sql", `{"rawSql": "SELECT 1", "format": "time_series"}`, "SELECT 1",
			func(t *testing.T, f data.Frames) { wantWide(t, f) }},
		{"builder", "builder", `{"feed": "hko.weather.temperature", "metric": "temperature", "groupBy": ["district"], "interval": "5m"}`,
			"SELECT toDateTime(intDiv(toUInt32(record_time), 300) * 300) AS time, district, avg(temperature) AS temperature\nFROM hko_weather_temperature\nWHERE record_time >= toDateTime(1795651200) AND record_time <= toDateTime(1795654800)\nGROUP BY time, district\nORDER BY time, district\nLIMIT 100000",
			func(t *testing.T, f data.Frames) {
				wantWide(t, f)
				if !strings.Contains(f[0].Meta.ExecutedQueryString, "intDiv(toUInt32(record_time), 300)") {
					t.Errorf("executed query not in meta: %q", f[0].Meta.ExecutedQueryString)
				}
			}},
		{"job results", "jobs", `{"job": "city.district_hourly"}`,
			"SELECT _slot AS time, district, speed\nFROM city_district_hourly\nWHERE _slot >= toDateTime(1795651200) AND _slot <= toDateTime(1795654800) AND (_slot, _attempt) IN (SELECT _slot, max(_attempt) FROM city_district_hourly WHERE _slot >= toDateTime(1795651200) AND _slot <= toDateTime(1795654800) GROUP BY _slot)\nORDER BY time\nLIMIT 100000",
			func(t *testing.T, f data.Frames) { wantWide(t, f) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(srv.Queries())
			resp := run(t, ds, dataQuery("A", tc.queryType, tc.json))
			r := resp.Responses["A"]
			if r.Error != nil {
				t.Fatalf("error: %v", r.Error)
			}
			qs := srv.Queries()
			if len(qs) <= before || qs[len(qs)-1] != tc.wantSQL {
				t.Fatalf("API received\n%q\nwant\n%q", qs[before:], tc.wantSQL)
			}
			tc.check(t, r.Frames)
		})
	}
}

func wantWide(t *testing.T, f data.Frames) {
	t.Helper()
	if len(f) != 1 {
		t.Fatalf("%d frames", len(f))
	}
	if f[0].TimeSeriesSchema().Type != data.TimeSeriesTypeWide || len(f[0].Fields) != 3 || f[0].Rows() != 2 {
		s, _ := f[0].StringTable(-1, -1)
		t.Fatalf("want a wide frame: time + one series per district, got\n%s", s)
	}
	if got := f[0].Fields[1].Labels["district"]; got != "CW" {
		t.Errorf("first series labels %v, want district=CW", f[0].Fields[1].Labels)
	}
}

func TestQueryDataHealth(t *testing.T) {
	srv := newServer(t)
	srv.SetStats("td.traffic.detectors", 100, time.Now().Add(-24*time.Hour))
	ds := newDatasource(t, srv.URL, apitest.Token)
	r := run(t, ds, dataQuery("H", "health", `{}`)).Responses["H"]
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	f := r.Frames[0]
	cat, _ := catalog.Builtin()
	if f.Rows() != len(cat.Feeds()) {
		t.Errorf("%d rows, want one per feed (%d)", f.Rows(), len(cat.Feeds()))
	}
	if f.Fields[0].At(0) != "td.traffic.detectors" || f.Fields[2].At(0) != "stale" {
		t.Errorf("stale feed not first: %v %v", f.Fields[0].At(0), f.Fields[2].At(0))
	}
	if age := f.Fields[4].At(0).(*float64); age == nil || *age < 59 {
		t.Errorf("age_seconds = %v, want about 60", age)
	}
}

func TestQueryDataLive(t *testing.T) {
	srv := newServer(t)
	ds := newDatasource(t, srv.URL, apitest.Token)
	r := run(t, ds, dataQuery("L", "live", `{"feed": "td.traffic.detectors"}`)).Responses["L"]
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	if got, want := r.Frames[0].Meta.Channel, "ds/hw/feed/td.traffic.detectors"; got != want {
		t.Errorf("channel %q, want %q", got, want)
	}
	if r.Frames[0].Fields[0].Name != "period_from" {
		t.Errorf("first field %q, want the event time period_from", r.Frames[0].Fields[0].Name)
	}
}

func TestQueryDataErrors(t *testing.T) {
	srv := newServer(t)
	srv.SetAnswer(func(sql string) (arrow.RecordBatch, error) {
		if strings.Contains(sql, "boom") {
			return nil, errors.New("ClickHouse is down")
		}
		return nil, &store.QueryError{Code: 47, Message: "Unknown identifier: temp"}
	})
	ds := newDatasource(t, srv.URL, apitest.Token)
	tests := []struct {
		name, queryType, json string
		status                backend.Status
		source                backend.ErrorSource
		wants                 []string
	}{
		{"bad macro", "sql", `{"rawSql": "SELECT $__timeGroup(t) FROM x"}`, backend.StatusBadRequest, backend.ErrorSourceDownstream,
			[]string{"query error", "$__timeGroup", "expected 2"}},
		{"clickhouse refuses the SQL", "sql", `{"rawSql": "SELECT temp FROM hko_weather_temperature"}`, backend.StatusBadRequest, backend.ErrorSourceDownstream,
			[]string{"query error", "Unknown identifier: temp", "the query is at fault"}},
		{"the API's guard refuses the SQL", "sql", `{"rawSql": "SELECT temp FROM x"}`, backend.StatusBadRequest, backend.ErrorSourceDownstream,
			[]string{"query error", `no table "x" that you may read`}},
		{"server fails", "sql", `{"rawSql": "SELECT boom"}`, backend.StatusBadGateway, backend.ErrorSourceDownstream,
			[]string{"highway API error", "ClickHouse is down"}},
		{"renamed builder field", "builder", `{"feed": "hko.weather.temperature", "metric": "temp"}`, backend.StatusBadRequest, backend.ErrorSourceDownstream,
			[]string{"query error", `no field "temp"`}},
		{"unknown feed", "builder", `{"feed": "nope.feed", "metric": "x"}`, backend.StatusNotFound, backend.ErrorSourceDownstream,
			[]string{`no feed "nope.feed"`}},
		{"unknown type", "graph", `{}`, backend.StatusBadRequest, backend.ErrorSourceDownstream, []string{`unknown query type "graph"`}},
		{"time series without time", "sql", `{"rawSql": "SELECT 1", "format": "time_series"}`, backend.StatusBadRequest, backend.ErrorSourceDownstream,
			[]string{"query error"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "time series without time" {
				srv.SetAnswer(func(string) (arrow.RecordBatch, error) {
					return apitest.Record(apitest.Col{Name: "x", Values: []float64{1}}), nil
				})
			}
			r := run(t, ds, dataQuery("E", tc.queryType, tc.json)).Responses["E"]
			if r.Error == nil {
				t.Fatal("no error")
			}
			if r.Status != tc.status || r.ErrorSource != tc.source {
				t.Errorf("status %d source %q, want %d %q (%v)", r.Status, r.ErrorSource, tc.status, tc.source, r.Error)
			}
			for _, w := range tc.wants {
				if !strings.Contains(r.Error.Error(), w) {
					t.Errorf("error %q does not mention %q", r.Error, w)
				}
			}
		})
	}
}

func TestQueryDataBadToken(t *testing.T) {
	srv := newServer(t)
	srv.SetAnswer(series)
	ds := newDatasource(t, srv.URL, "wrong")
	r := run(t, ds, dataQuery("A", "sql", `{"rawSql": "SELECT 1"}`)).Responses["A"]
	if r.Status != backend.StatusUnauthorized || !strings.Contains(r.Error.Error(), "datasource settings") {
		t.Errorf("got %d %v", r.Status, r.Error)
	}
	if strings.Contains(r.Error.Error(), "wrong") {
		t.Errorf("the token leaked into the error: %v", r.Error)
	}
}

func TestCheckHealth(t *testing.T) {
	srv := newServer(t)
	down := newServer(t)
	down.Close()
	tests := []struct {
		name, url, token string
		status           backend.HealthStatus
		wants            []string
	}{
		{"ok", srv.URL, apitest.Token, backend.HealthStatusOk, []string{"Connected", "10 feeds", "10 fresh"}},
		{"bad token", srv.URL, "nope", backend.HealthStatusError, []string{"refused the department token", "highway token create"}},
		{"no token", srv.URL, "", backend.HealthStatusError, []string{"no department token"}},
		{"no url", "", apitest.Token, backend.HealthStatusError, []string{"API URL is empty"}},
		{"not a url", "highway:8080", apitest.Token, backend.HealthStatusError, []string{"not an http(s) URL"}},
		{"unreachable", down.URL, apitest.Token, backend.HealthStatusError, []string{"Cannot reach the Highway API", "Check the URL"}},
		{"wrong path", srv.URL + "/grafana", apitest.Token, backend.HealthStatusError, []string{"404", "base URL"}},
	}
	cat, _ := catalog.Builtin()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds := newDatasource(t, tc.url, tc.token)
			res, err := ds.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status {
				t.Errorf("status %v, want %v: %s", res.Status, tc.status, res.Message)
			}
			for _, w := range tc.wants {
				w = strings.Replace(w, "10", strconv.Itoa(len(cat.Feeds())), 1)
				if !strings.Contains(res.Message, w) {
					t.Errorf("message %q does not say %q", res.Message, w)
				}
			}
			if tc.token != "" && strings.Contains(res.Message, tc.token) && tc.token != apitest.Token {
				t.Errorf("token in message: %s", res.Message)
			}
		})
	}
}

// packets records what a stream sends to Grafana.
type packets struct {
	mu     sync.Mutex
	frames []*data.Frame
}

func (p *packets) Send(pk *backend.StreamPacket) error {
	var f data.Frame
	if err := json.Unmarshal(pk.Data, &f); err != nil {
		return err
	}
	p.mu.Lock()
	p.frames = append(p.frames, &f)
	p.mu.Unlock()
	return nil
}

func (p *packets) rows() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, f := range p.frames {
		n += f.Rows()
	}
	return n
}

func TestStream(t *testing.T) {
	FlushEvery, ReconnectMin = 20*time.Millisecond, 20*time.Millisecond
	srv := newServer(t)
	srv.SetLive("hko.weather.temperature", []json.RawMessage{
		json.RawMessage(`{"station": "Sha Tin", "district": "ST", "temperature": 18.5, "record_time": "2026-11-26T08:00:00+08:00"}`),
		json.RawMessage(`{"station": "King's Park", "district": null, "temperature": 19, "record_time": 1795651200000}`),
		json.RawMessage(`{"station": "Bad", "temperature": "hot", "record_time": 1795651200000}`),
	}, true)
	ds := newDatasource(t, srv.URL, apitest.Token)
	ctx := context.Background()

	for path, want := range map[string]backend.SubscribeStreamStatus{
		"feed/hko.weather.temperature": backend.SubscribeStreamStatusOK,
		"feed/no.such.feed":            backend.SubscribeStreamStatusNotFound,
		"other/x":                      backend.SubscribeStreamStatusNotFound,
	} {
		res, err := ds.SubscribeStream(ctx, &backend.SubscribeStreamRequest{Path: path})
		if err != nil || res.Status != want {
			t.Errorf("SubscribeStream(%s) = %v, %v; want %v", path, res, err, want)
		}
	}
	denied := newDatasource(t, srv.URL, "nope")
	if res, _ := denied.SubscribeStream(ctx, &backend.SubscribeStreamRequest{Path: "feed/hko.weather.temperature"}); res == nil || res.Status != backend.SubscribeStreamStatusPermissionDenied {
		t.Errorf("bad token: %v, want permission denied", res)
	}

	// The tail closes after its records: the stream reconnects and sends them again.
	ctx, cancel := context.WithCancel(ctx)
	p := &packets{}
	done := make(chan error, 1)
	go func() {
		done <- ds.RunStream(ctx, &backend.RunStreamRequest{Path: "feed/hko.weather.temperature"}, backend.NewStreamSender(p))
	}()
	deadline := time.Now().Add(5 * time.Second)
	for (p.rows() < 4 || srv.LiveConnections() < 2) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunStream: %v", err)
	}
	if p.rows() < 4 || srv.LiveConnections() < 2 {
		t.Fatalf("got %d rows over %d connections; want the 2 good records at least twice, after a reconnect", p.rows(), srv.LiveConnections())
	}
	f := p.frames[0]
	if f.Fields[0].Name != "record_time" || f.Fields[1].Name != "station" {
		t.Errorf("fields %s, %s; want record_time first", f.Fields[0].Name, f.Fields[1].Name)
	}
	if ts := f.Fields[0].At(0).(*time.Time); !ts.Equal(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("time %v", ts)
	}
}

func TestRecordBufferDropsOldest(t *testing.T) {
	b := newRecordBuffer(3)
	for _, s := range []string{"1", "2", "3", "4", "5"} {
		b.push(json.RawMessage(s))
	}
	recs, dropped := b.take()
	if dropped != 2 || len(recs) != 3 || string(recs[0]) != "3" || string(recs[2]) != "5" {
		t.Errorf("got %q dropped %d; want 3,4,5 and 2 dropped", recs, dropped)
	}
	if recs, dropped := b.take(); len(recs) != 0 || dropped != 0 {
		t.Errorf("second take: %q %d", recs, dropped)
	}
}

func TestResources(t *testing.T) {
	srv := newServer(t)
	srv.SetAnswer(func(sql string) (arrow.RecordBatch, error) {
		return apitest.Record(apitest.Col{Name: "value", Values: []string{"CW", "ST"}}), nil
	})
	ds := newDatasource(t, srv.URL, apitest.Token)
	call := func(path string) (int, string) {
		var got *backend.CallResourceResponse
		err := ds.CallResource(context.Background(), &backend.CallResourceRequest{Method: "GET", Path: strings.SplitN(path, "?", 2)[0], URL: path},
			backend.CallResourceResponseSenderFunc(func(r *backend.CallResourceResponse) error { got = r; return nil }))
		if err != nil {
			t.Fatal(err)
		}
		return got.Status, string(got.Body)
	}
	if st, body := call("values?feed=hko.weather.temperature&field=district"); st != 200 || !strings.Contains(body, `{"text":"CW","value":"CW"}`) {
		t.Errorf("values: %d %s", st, body)
	}
	if q := srv.Queries(); q[len(q)-1] != "SELECT DISTINCT toString(district) AS value FROM hko_weather_temperature WHERE isNotNull(district) ORDER BY value LIMIT 1000" {
		t.Errorf("values SQL: %s", q[len(q)-1])
	}
	if st, body := call("values?feed=hko.weather.temperature&field=record_time"); st != 400 || !strings.Contains(body, "is a time") {
		t.Errorf("values of a time: %d %s", st, body)
	}
	if st, body := call("feeds"); st != 200 || !strings.Contains(body, `"name":"td.traffic.detectors"`) {
		t.Errorf("feeds: %d %.200s", st, body)
	}
}

type failingSender struct{}

func (failingSender) Send(*backend.StreamPacket) error { return errors.New("grafana went away") }

// TestStreamStopsWhenGrafanaGoesAway: a failed send ends RunStream and its
// live tail, even while the tail stays open.
func TestStreamStopsWhenGrafanaGoesAway(t *testing.T) {
	FlushEvery = 20 * time.Millisecond
	srv := newServer(t)
	srv.SetLive("hko.weather.temperature", []json.RawMessage{
		json.RawMessage(`{"station": "Sha Tin", "temperature": 18.5, "record_time": 1795651200000}`),
	}, false)
	ds := newDatasource(t, srv.URL, apitest.Token)
	done := make(chan error, 1)
	go func() {
		done <- ds.RunStream(context.Background(), &backend.RunStreamRequest{Path: "feed/hko.weather.temperature"}, backend.NewStreamSender(failingSender{}))
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("RunStream returned no error after the send failed")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("RunStream kept running after Grafana went away")
	}
}

// TestRestrictedFeedTable: the builder and variables name a feed's table as
// the API's catalogue does; a restricted feed's table is in the restricted
// database (database.table), and a name that is neither form is refused.
func TestRestrictedFeedTable(t *testing.T) {
	for _, tc := range []struct {
		name string
		// restricted makes the feed a restricted one of the caller's
		// department, whose table the API names database.table.
		restricted bool
		// edit changes the API's answer for the feed: one no API of this
		// version gives (an older one's, a hostile one's).
		edit     func(*apiclient.Feed)
		wantFrom string // the FROM of the SQL sent, or "" when refused
	}{
		{"open feed", false, nil, "FROM hko_weather_temperature"},
		{"restricted feed", true, nil, "FROM default_restricted.hko_weather_temperature"},
		{"API of before the split", false, func(f *apiclient.Feed) { f.Table = "" }, "FROM hko_weather_temperature"},
		{"not a table name", false, func(f *apiclient.Feed) { f.Table = "x; DROP TABLE y" }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(cat *catalog.Catalog) {
				if f := cat.Feed("hko.weather.temperature"); tc.restricted {
					f.Access, f.Department = catalog.Restricted, apitest.Department
				}
			})
			srv.SetAnswer(series)
			if tc.edit != nil {
				srv.SetFeed("hko.weather.temperature", tc.edit)
			}
			ds := newDatasource(t, srv.URL, apitest.Token)
			r := run(t, ds, dataQuery("A", "builder", `{"feed": "hko.weather.temperature", "metric": "temperature", "groupBy": ["district"]}`)).Responses["A"]
			qs := srv.Queries()
			if tc.wantFrom == "" {
				if r.Error == nil || len(qs) != 0 || !strings.Contains(r.Error.Error(), "not table or database.table") {
					t.Fatalf("error %v, queries %q; want a refusal naming the table form and no query", r.Error, qs)
				}
				return
			}
			if r.Error != nil || len(qs) != 1 || !strings.Contains(qs[0], "\n"+tc.wantFrom+"\n") {
				t.Fatalf("error %v, queries %q; want one with %q", r.Error, qs, tc.wantFrom)
			}
			var got *backend.CallResourceResponse
			err := ds.CallResource(context.Background(), &backend.CallResourceRequest{Method: "GET", Path: "values", URL: "values?feed=hko.weather.temperature&field=district"},
				backend.CallResourceResponseSenderFunc(func(r *backend.CallResourceResponse) error { got = r; return nil }))
			if err != nil {
				t.Fatal(err)
			}
			if qs := srv.Queries(); got.Status != 200 || !strings.Contains(qs[len(qs)-1], " "+tc.wantFrom+" ") {
				t.Errorf("values: %d, SQL %q; want %q", got.Status, qs[len(qs)-1], tc.wantFrom)
			}
		})
	}
}
