package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cityhighway/highway/analytics/scheduler"
	"github.com/cityhighway/highway/highway/api"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/control"
	"github.com/cityhighway/highway/internal/testenv"
)

type noRunner struct{}

func (noRunner) Run(context.Context, *catalog.Job, scheduler.Run) (int64, error) { return 0, nil }

// oneNode starts a one-node control plane in this process and returns
// its URL.
func oneNode(t *testing.T) string {
	t.Helper()
	_, trans := raft.NewInmemTransport("")
	n, err := scheduler.New(scheduler.Config{ID: "n1", HTTPAddr: "n1", Bootstrap: true, Transport: trans, Runner: noRunner{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RaftLog: io.Discard, ElectionTimeout: 100 * time.Millisecond, Heartbeat: 20 * time.Millisecond, Lease: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.Start(ctx)
	srv := httptest.NewServer(n.Handler())
	t.Cleanup(func() { cancel(); srv.Close(); _ = n.Close() })
	return srv.URL
}

// TestMigrateTokens copies a token file's tokens to the control plane
// once: a second start adds nothing, a revoked token stays revoked, a
// token revoked on the control plane is not brought back, and the file's
// secrets verify through a replica.
func TestMigrateTokens(t *testing.T) {
	url := oneNode(t)
	file := filepath.Join(t.TempDir(), "tokens.json")
	tf, err := api.OpenTokenFile(file)
	if err != nil {
		t.Fatal(err)
	}
	keep, kept, err := tf.CreateWith("TD", api.TokenSpec{Note: "kept"})
	if err != nil {
		t.Fatal(err)
	}
	gone, revoked, err := tf.Create("EPD", "revoked in the file")
	if err != nil {
		t.Fatal(err)
	}
	if err := tf.Revoke(revoked.ID); err != nil {
		t.Fatal(err)
	}
	cl, err := control.NewClient([]string{url}, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	for range 2 {
		if err := migrateTokens(ctx, cl, file, log); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(logs.String(), "added=2") || !strings.Contains(logs.String(), "are on the control plane already") {
		t.Errorf("the migration's log does not say what it did:\n%s", logs.String())
	}
	// Revoked on the control plane, then a third start: still revoked.
	if err := cl.Revoke(ctx, kept.ID); err != nil {
		t.Fatal(err)
	}
	if err := migrateTokens(ctx, cl, file, log); err != nil {
		t.Fatal(err)
	}
	st, err := cl.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Tokens) != 2 {
		t.Fatalf("%d tokens on the control plane, want 2: %+v", len(st.Tokens), st.Tokens)
	}
	if _, ok := control.Verify(st.Tokens, keep); ok {
		t.Error("a token revoked on the control plane works again after the migration ran again")
	}
	if _, ok := control.Verify(st.Tokens, gone); ok {
		t.Error("a token revoked in the file works on the control plane")
	}
	// A fresh token of the file, migrated, verifies through a replica.
	fresh, _, err := tf.Create("TD", "new")
	if err != nil {
		t.Fatal(err)
	}
	if err := migrateTokens(ctx, cl, file, log); err != nil {
		t.Fatal(err)
	}
	rep, err := control.NewReplica(control.ReplicaConfig{Nodes: []string{url}, Wait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go rep.Run(rctx)
	if err := rep.Sync(rctx); err != nil {
		t.Fatal(err)
	}
	if info, ok := rep.Verify(fresh); !ok || info.Department != "TD" {
		t.Errorf("the migrated token does not verify: %+v %v", info, ok)
	}
}

// TestGrantCommand runs highway grant against a one-node control plane.
func TestGrantCommand(t *testing.T) {
	url := oneNode(t)
	spec := filepath.Join(t.TempDir(), "specs.yaml")
	writeFile(t, spec, testenv.ControlSpecs("TDX"))
	tests := []struct {
		args   string
		code   int
		output string
	}{
		{"grant add --department TDX --feed police.cases --for 30d --note T-1", 0, "granted police.cases to TDX until"},
		{"grant list", 0, "TDX         police.cases"},
		{"grant add --department TDX --feed nope", 2, "no feed \"nope\""},
		{"grant add --department POLICE --feed police.cases", 2, "owns police.cases"},
		{"grant add --department NOBODY --feed police.cases", 2, "no department"},
		{"grant add --department TDX --feed police.cases --until 2001-01-01", 2, "in the past"},
		{"grant remove --department TDX --feed police.cases", 0, "removed the grant"},
		{"grant remove --department TDX --feed police.cases", 2, "not granted"},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append(strings.Fields(tt.args), "--control-plane", url, "--control-secret", "any (the test node is open)", "--specs", spec)
			code := run(context.Background(), args, &out, &errOut)
			if code != tt.code || !strings.Contains(out.String()+errOut.String(), tt.output) {
				t.Errorf("exit %d, want %d; output %q, want %q", code, tt.code, out.String()+errOut.String(), tt.output)
			}
		})
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAccessCommand runs highway access against an API server on a
// one-node control plane: EPD asks, POLICE lists and approves, EPD sees it.
func TestAccessCommand(t *testing.T) {
	url := oneNode(t)
	cat := testenv.ControlCatalog(t, "EPD")
	cl, err := control.NewClient([]string{url}, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep, err := control.NewReplica(control.ReplicaConfig{Nodes: []string{url}, Wait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	go rep.Run(ctx)
	epd, _, err := cl.CreateWith(ctx, "EPD", api.TokenSpec{})
	if err != nil {
		t.Fatal(err)
	}
	police, _, err := cl.CreateWith(ctx, "POLICE", api.TokenSpec{})
	if err != nil {
		t.Fatal(err)
	}
	srv := api.New(api.Config{Catalog: cat, Tokens: rep, Grants: rep, Control: cl, Requests: rep, Gatherer: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	access := func(token string, args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(ctx, append(append([]string{"access"}, args...), "--api", hs.URL, "--token", token), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	deadline := time.Now().Add(3 * time.Second)
	for rep.Verify(police); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, ok := rep.Verify(police); ok {
			break
		}
	}
	code, said := access(epd, "request", "--feed", "police.cases", "--purpose", "air near cases", "--until", time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339))
	if code != 0 || !strings.Contains(said, "pending") {
		t.Fatalf("request: %d %s", code, said)
	}
	var q api.AccessRequest
	if err := json.NewDecoder(strings.NewReader(said)).Decode(&q); err != nil || q.ID == "" {
		t.Fatalf("request's answer %q: %v", said, err)
	}
	for range 100 {
		if code, said = access(police, "list", "--state", "pending"); strings.Contains(said, q.ID) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code != 0 || !strings.Contains(said, q.ID) || !strings.Contains(said, "air near cases") {
		t.Fatalf("list: %d %s", code, said)
	}
	if code, said = access(epd, "approve", q.ID); code != 1 || !strings.Contains(said, "POLICE owns police.cases") {
		t.Errorf("the requester approving: %d %s", code, said)
	}
	if code, said = access(police, "approve", q.ID, "--until", time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339)); code != 0 || !strings.Contains(said, "approved") {
		t.Fatalf("approve: %d %s", code, said)
	}
	for range 100 {
		if code, said = access(epd, "show", q.ID); strings.Contains(said, `"state": "approved"`) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(said, `"state": "approved"`) {
		t.Errorf("the requester does not see the approval: %s", said)
	}
	if st, _ := cl.State(ctx); len(st.Grants) != 1 || st.Grants[0].Department != "EPD" {
		t.Errorf("grants on the control plane: %+v", st.Grants)
	}
}

// TestControlSecretRequired: outside highway dev, the scheduler and an API
// server on a control plane refuse to start without the control plane's
// secret, and the token and grant commands to reach it (before any
// network call: 127.0.0.1:1 would be exit 1), and say how to give it.
func TestControlSecretRequired(t *testing.T) {
	t.Setenv("HIGHWAY_CONTROL_SECRET", "")
	t.Setenv("HIGHWAY_CONTROL_PLANE", "")
	tests := []struct {
		name string
		args string
	}{
		{"schedule", "schedule --id n1 --bootstrap --clickhouse clickhouse://127.0.0.1:1/none"},
		{"serve on a control plane", "serve --addr 127.0.0.1:0 --clickhouse clickhouse://127.0.0.1:1/none --control-plane 127.0.0.1:1"},
		{"token list", "token list --control-plane 127.0.0.1:1"},
		{"token create", "token create --department TD --control-plane 127.0.0.1:1"},
		{"token revoke", "token revoke tok_1 --control-plane 127.0.0.1:1"},
		{"grant list", "grant list --control-plane 127.0.0.1:1"},
		{"grant add", "grant add --department TD --feed police.cases --control-plane 127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			code := run(ctx, strings.Fields(tt.args), &out, &errOut)
			msg := out.String() + errOut.String()
			if code != 2 || !strings.Contains(msg, "needs the control plane's secret: pass --control-secret or set HIGHWAY_CONTROL_SECRET") {
				t.Errorf("exit %d, want 2 and how to give the secret; output %q", code, msg)
			}
		})
	}
}
