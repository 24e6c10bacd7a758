package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cityhighway/highway/highway/api"
)

func TestTokenCommand(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens.json")
	tok := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append(append([]string{"token"}, args...), "--tokens-file", file), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	code, secret, msg := tok("create", "--department", "TD", "--scopes", "read,push:td.traffic.detectors", "--expires-in", "30d")
	if code != 0 {
		t.Fatalf("create: %d %s", code, msg)
	}
	tf, err := api.OpenTokenFile(file)
	if err != nil {
		t.Fatal(err)
	}
	info, ok := tf.Verify(strings.TrimSpace(secret))
	if !ok || info.Has(api.ScopeAdmin) || !info.CanPush("td.traffic.detectors") || info.CanPush("td.traffic.cameras") ||
		info.Expires.Sub(info.Created).Hours() != 30*24 {
		t.Fatalf("created %+v", info)
	}
	if code, _, msg := tok("rotate", info.ID, "--overlap", "1d"); code != 0 || !strings.Contains(msg, "replaces "+info.ID) {
		t.Fatalf("rotate: %d %s", code, msg)
	}
	if code, out, _ := tok("list"); code != 0 || strings.Count(out, "read,push:td.traffic.detectors") != 2 {
		t.Fatalf("list: %d\n%s", code, out)
	}
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"create", "--department", "TD", "--scopes", "write"}, `unknown scope "write"`},
		{[]string{"create", "--department", "TD", "--scopes", "push:epd.aqhi.stations"}, `TD owns no feed called "epd.aqhi.stations"`},
		{[]string{"create", "--department", "TD", "--expires-in", "soon"}, "--expires-in"},
		{[]string{"rotate"}, "give the ID of one token"},
		{[]string{"rotate", "tok_nope"}, "no such token"},
	} {
		if code, _, msg := tok(tc.args...); code != 2 || !strings.Contains(msg, tc.err) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tc.args, code, msg, tc.err)
		}
	}
}
