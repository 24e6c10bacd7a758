package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cityhighway/highway/highway/store"
)

func TestAuditKeygen(t *testing.T) {
	dir := t.TempDir()
	key, pub := filepath.Join(dir, "audit.pem"), filepath.Join(dir, "audit.pub")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"audit", "keygen", "--key", key, "--public-key", pub}, &stdout, &stderr); code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, stderr.String())
	}
	priv, err := store.ReadSigningKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p, err := store.ReadVerifyKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Equal(priv.Public()) || !strings.Contains(stdout.String(), store.KeyID(p)) {
		t.Fatalf("the public key is not the private key's, or its ID is not printed: %s", stdout.String())
	}
	// A second keygen must not overwrite the key a server signs with.
	if code := run(context.Background(), []string{"audit", "keygen", "--key", key, "--public-key", pub}, &stdout, &stderr); code != 1 {
		t.Fatalf("keygen over an existing key: exit %d", code)
	}
	tests := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"audit"}, 2, "say verify or keygen"},
		{[]string{"audit", "verify", "--clickhouse", "", "--from", "yesterday"}, 2, "want an RFC 3339 time"},
		{[]string{"audit", "verify", "--clickhouse", ""}, 2, "no ClickHouse"},
		{[]string{"audit", "verify", "--clickhouse", "clickhouse://127.0.0.1:1/x", "--public-key", key}, 1, "want a PEM PUBLIC KEY"},
		{[]string{"serve", "--clickhouse", "clickhouse://127.0.0.1:1/x", "--audit-key", pub}, 2, "--audit-key"},
	}
	for _, tc := range tests {
		stderr.Reset()
		if code := run(context.Background(), tc.args, &stdout, &stderr); code != tc.code || !strings.Contains(stderr.String(), tc.err) {
			t.Errorf("%v: exit %d, %q; want %d and %q", tc.args, code, stderr.String(), tc.code, tc.err)
		}
	}
}
