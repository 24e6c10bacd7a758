package store

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/internal/testcert"
)

func TestWithDatabase(t *testing.T) {
	tests := []struct {
		dsn, want, err string
	}{
		{"clickhouse://127.0.0.1:19000/default", "clickhouse://127.0.0.1:19000/bench_1", ""},
		{"clickhouse://127.0.0.1:19000", "clickhouse://127.0.0.1:19000/bench_1", ""},
		{"clickhouse://127.0.0.1:19000/", "clickhouse://127.0.0.1:19000/bench_1", ""},
		{"clickhouse://u:p@h:9000/db?dial_timeout=5s&compress=lz4", "clickhouse://u:p@h:9000/bench_1?dial_timeout=5s&compress=lz4", ""},
		{"127.0.0.1:9000", "", "want clickhouse://host:9000/database"},
		{"http://h:8123/db", "", "want clickhouse://"},
		{"clickhouse:///db", "", "want clickhouse://"},
	}
	for _, tt := range tests {
		got, err := WithDatabase(tt.dsn, "bench_1")
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("WithDatabase(%q) = %q, %v; want an error containing %q", tt.dsn, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("WithDatabase(%q) = %q, %v; want %q", tt.dsn, got, err, tt.want)
		}
	}
}

// TestOpenRefusesAnUntrustedServer: a DSN with secure=true reaching a TLS
// server whose certificate the given CA did not sign fails at Open, saying
// which service and address, and to pass tls_ca; a missing CA file and a
// plain port reached with TLS say so too. Broken once: with Open returning
// newStore's error unclassified, the hint was missing (FAIL).
func TestOpenRefusesAnUntrustedServer(t *testing.T) {
	certs, other := testcert.New(t, "clickhouse test CA"), testcert.New(t, "another CA")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", certs.Server(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	go func() {
		for {
			c, err := plain.Accept()
			if err != nil {
				return
			}
			go func() { c.Write([]byte("HTTP/1.0 400 Bad Request\r\n\r\n")); time.Sleep(time.Second); c.Close() }()
		}
	}()
	addr := ln.Addr().String()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := closed.Addr().String()
	closed.Close()
	for _, tc := range []struct {
		dsn  string
		want []string
	}{
		{"clickhouse://" + addr + "/default?secure=true&tls_ca=" + other.CA,
			[]string{"clickhouse at [" + addr + "]", "x509: certificate signed by unknown authority", "tls_ca=/path/ca.pem"}},
		{"clickhouse://" + addr + "/default?tls_ca=" + other.CA, // tls_ca alone implies secure
			[]string{"x509: certificate signed by unknown authority"}},
		{"clickhouse://" + addr + "/default?tls_ca=/nonexistent.pem", []string{"reading the ClickHouse CA bundle"}},
		{"clickhouse://" + plain.Addr().String() + "/default?secure=true&tls_ca=" + certs.CA,
			[]string{"clickhouse at [" + plain.Addr().String() + "]", "does not speak TLS"}},
		{"clickhouse://" + nobody + "/default", []string{"clickhouse at [" + nobody + "]", "no ClickHouse answers there", "ops/services up"}},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := Open(ctx, tc.dsn, slog.New(slog.DiscardHandler))
		cancel()
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v, want %q", tc.dsn, err, w)
			}
		}
	}
}
