package main

// The contract test: it starts the plugin's backend binary the way Grafana
// does — a child process, the hashicorp/go-plugin handshake with the SDK's
// magic cookie, protocol version 2 over gRPC — and calls CheckHealth,
// QueryData and a stream subscription through the SDK's gRPC services, with
// a Highway API (apitest) behind it.
//
// The binary is $HIGHWAY_PLUGIN_BINARY (test.sh passes dist/gpx_highway_linux_<arch>)
// or, when that is unset, one built from this package into a temporary folder.

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/plugins/grafana/pkg/apitest"
	"github.com/cityhighway/highway/plugins/grafana/pkg/plugin"
)

// pluginBinary returns the backend binary to start.
func pluginBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HIGHWAY_PLUGIN_BINARY"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("HIGHWAY_PLUGIN_BINARY: %v", err)
		}
		return p
	}
	bin := filepath.Join(t.TempDir(), "gpx_highway")
	// The flags of test.sh, so both reuse the same compiled packages.
	cmd := exec.Command("go", "build", "-ldflags", "-s -w", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the plugin: %v\n%s", err, out)
	}
	return bin
}

// grafanaHost is what Grafana's plugin manager holds of a started plugin:
// the gRPC clients of its services.
type grafanaHost struct {
	client      *goplugin.Client
	diagnostics pluginv2.DiagnosticsClient
	data        pluginv2.DataClient
	stream      pluginv2.StreamClient
}

// startPlugin starts bin as Grafana does and dispenses its services.
func startPlugin(t *testing.T, bin string) *grafanaHost {
	t.Helper()
	c := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion:  grpcplugin.ProtocolVersion,
			MagicCookieKey:   grpcplugin.MagicCookieKey,
			MagicCookieValue: grpcplugin.MagicCookieValue,
		},
		VersionedPlugins: map[int]goplugin.PluginSet{
			grpcplugin.ProtocolVersion: {
				"diagnostics": &grpcplugin.DiagnosticsGRPCPlugin{},
				"resource":    &grpcplugin.ResourceGRPCPlugin{},
				"data":        &grpcplugin.DataGRPCPlugin{},
				"stream":      &grpcplugin.StreamGRPCPlugin{},
			},
		},
		Cmd:              exec.Command(bin),
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		StartTimeout:     30 * time.Second,
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: testWriter{t}, Level: hclog.Warn}),
	})
	t.Cleanup(c.Kill)
	rpc, err := c.Client()
	if err != nil {
		t.Fatalf("handshake with %s: %v", bin, err)
	}
	h := &grafanaHost{client: c}
	dispense := func(name string) any {
		raw, err := rpc.Dispense(name)
		if err != nil {
			t.Fatalf("the plugin does not serve %s: %v", name, err)
		}
		return raw
	}
	h.diagnostics = dispense("diagnostics").(grpcplugin.DiagnosticsClient)
	h.data = dispense("data").(grpcplugin.DataClient)
	h.stream = dispense("stream").(grpcplugin.StreamClient)
	return h
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func TestContract(t *testing.T) {
	bin := pluginBinary(t)
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	api := apitest.New(cat)
	defer api.Close()
	from := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	api.SetAnswer(func(string) (arrow.RecordBatch, error) {
		return apitest.Record(
			apitest.Col{Name: "time", Values: []time.Time{from, from.Add(time.Minute)}},
			apitest.Col{Name: "speed", Values: []float64{61.5, 58}},
		), nil
	})
	api.SetLive("td.traffic.detectors", []json.RawMessage{
		json.RawMessage(`{"detector_id": "AID01101", "lane_id": "Fast Lane", "speed": 72.5, "period_from": "2026-11-26T08:30:00+08:00"}`),
	}, false)

	h := startPlugin(t, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pc := backend.PluginContext{
		OrgID: 1, PluginID: plugin.ID,
		DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{
			ID: 1, UID: "hw", Name: "Highway", URL: api.URL, Updated: time.Now(),
			JSONData:                json.RawMessage(`{}`),
			DecryptedSecureJSONData: map[string]string{"token": apitest.Token},
		},
	}
	ppc := backend.ToProto().PluginContext(pc)

	t.Run("CheckHealth", func(t *testing.T) {
		res, err := h.diagnostics.CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: ppc})
		if err != nil {
			t.Fatal(err)
		}
		r := backend.FromProto().CheckHealthResponse(res)
		if r.Status != backend.HealthStatusOk || !strings.Contains(r.Message, "Connected to the Highway API") {
			t.Errorf("health %v: %s", r.Status, r.Message)
		}
	})

	t.Run("CheckHealth with a bad token", func(t *testing.T) {
		bad := pc
		s := *pc.DataSourceInstanceSettings
		s.DecryptedSecureJSONData = map[string]string{"token": "nope"}
		s.Updated = time.Now().Add(time.Second) // a new settings version: Grafana makes a new instance
		bad.DataSourceInstanceSettings = &s
		res, err := h.diagnostics.CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: backend.ToProto().PluginContext(bad)})
		if err != nil {
			t.Fatal(err)
		}
		r := backend.FromProto().CheckHealthResponse(res)
		if r.Status != backend.HealthStatusError || !strings.Contains(r.Message, "refused the department token") {
			t.Errorf("health %v: %s", r.Status, r.Message)
		}
	})

	t.Run("QueryData", func(t *testing.T) {
		req := &backend.QueryDataRequest{PluginContext: pc, Queries: []backend.DataQuery{
			{RefID: "A", QueryType: "sql", JSON: json.RawMessage(`{"rawSql": "SELECT $__timeGroupAlias(period_from, 1m), avg(speed) AS speed FROM td_traffic_detectors WHERE $__timeFilter(period_from) GROUP BY time ORDER BY time", "format": "time_series"}`),
				TimeRange: backend.TimeRange{From: from, To: from.Add(time.Hour)}, Interval: time.Minute},
			{RefID: "B", QueryType: "sql", JSON: json.RawMessage(`{"rawSql": "SELECT $__nope"}`),
				TimeRange: backend.TimeRange{From: from, To: from.Add(time.Hour)}},
		}}
		res, err := h.data.QueryData(ctx, backend.ToProto().QueryDataRequest(req))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := backend.FromProto().QueryDataResponse(res)
		if err != nil {
			t.Fatal(err)
		}
		a := resp.Responses["A"]
		if a.Error != nil || len(a.Frames) != 1 || a.Frames[0].Rows() != 2 {
			t.Fatalf("A: %v, %d frames", a.Error, len(a.Frames))
		}
		if v, _ := a.Frames[0].Fields[1].ConcreteAt(0); v != 61.5 {
			t.Errorf("A: first speed %v, want 61.5", v)
		}
		if !strings.Contains(a.Frames[0].Meta.ExecutedQueryString, "period_from >= toDateTime(1795651200)") {
			t.Errorf("A: executed %q", a.Frames[0].Meta.ExecutedQueryString)
		}
		b := resp.Responses["B"]
		if b.Error == nil || b.Status != backend.StatusBadRequest || !strings.Contains(b.Error.Error(), "$__nope") {
			t.Errorf("B: %d %v, want a 400 naming the macro", b.Status, b.Error)
		}
	})

	t.Run("stream", func(t *testing.T) {
		sub, err := h.stream.SubscribeStream(ctx, backend.ToProto().SubscribeStreamRequest(&backend.SubscribeStreamRequest{PluginContext: pc, Path: "feed/td.traffic.detectors"}))
		if err != nil {
			t.Fatal(err)
		}
		if s := backend.FromProto().SubscribeStreamResponse(sub).Status; s != backend.SubscribeStreamStatusOK {
			t.Fatalf("subscribe: %v", s)
		}
		sctx, scancel := context.WithCancel(ctx)
		defer scancel()
		rs, err := h.stream.RunStream(sctx, backend.ToProto().RunStreamRequest(&backend.RunStreamRequest{PluginContext: pc, Path: "feed/td.traffic.detectors"}))
		if err != nil {
			t.Fatal(err)
		}
		pkt, err := rs.Recv()
		if err != nil {
			t.Fatal(err)
		}
		var f data.Frame
		if err := json.Unmarshal(pkt.Data, &f); err != nil {
			t.Fatal(err)
		}
		if f.Rows() != 1 || f.Fields[0].Name != "period_from" {
			t.Fatalf("live frame: %d rows, first field %s", f.Rows(), f.Fields[0].Name)
		}
		if v, _ := f.Fields[0].ConcreteAt(0); !v.(time.Time).Equal(time.Date(2026, 11, 26, 0, 30, 0, 0, time.UTC)) {
			t.Errorf("event time %v", v)
		}
	})

	h.client.Kill()
	if !h.client.Exited() {
		t.Error("the plugin did not exit when Grafana stopped it")
	}
}

// TestTalksToTheAPIOnly keeps Kafka and ClickHouse clients out of the
// plugin binary: it reaches the platform through the Highway API only.
func TestTalksToTheAPIOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/segmentio/kafka-go", "github.com/ClickHouse/clickhouse-go", "github.com/twmb/franz-go"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("the plugin binary depends on %s", dep)
			}
		}
	}
}
