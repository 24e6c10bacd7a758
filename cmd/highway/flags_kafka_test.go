package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/internal/testcert"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestConnectOverSASLSSL: `highway connect` produces to a broker with a
// TLS listener and SCRAM-SHA-512, its security from the shared flags and
// environment variables (the password from a file); a wrong password and
// an untrusted CA end the command at start, saying which service, which
// broker and what to check. Broken once: with kafkaSecurity.open not
// calling CheckSecurity, the wrong-password run logged "cannot create
// topics yet; is Kafka up? retrying ... unexpected EOF" until its 10 s
// context ended, and never named the password.
func TestConnectOverSASLSSL(t *testing.T) {
	payload, err := os.ReadFile("../../connectors/td/testdata/td_journeytime.xml")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(payload) }))
	defer srv.Close()
	certs, other := testcert.New(t, "kafka test CA"), testcert.New(t, "another CA")
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.TLS(certs.Server(t)),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "connector", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := strings.Join(c.ListenAddrs(), ",")
	passFile := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(passFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HIGHWAY_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
	t.Setenv("HIGHWAY_KAFKA_SASL_USER", "connector")
	t.Setenv("HIGHWAY_KAFKA_SASL_PASSWORD", "")
	connect := func(ctx context.Context, extra ...string) (int, string) {
		var stderr bytes.Buffer
		args := append([]string{"connect", "--feed", "td.traffic.journeytimes", "--kafka", brokers, "--base-url", srv.URL,
			"--state-dir", t.TempDir(), "--metrics-addr", "", "--log-level", "warn"}, extra...)
		code := run(ctx, args, &bytes.Buffer{}, &stderr)
		return code, stderr.String()
	}

	for _, tc := range []struct {
		name  string
		extra []string
		want  []string
	}{
		{"wrong password", []string{"--kafka-tls-ca", certs.CA, "--kafka-sasl-password", "wrong"},
			[]string{"kafka at " + brokers, `SASL authentication failed for user "connector"`, "--kafka-sasl-password"}},
		{"untrusted CA", []string{"--kafka-tls-ca", other.CA, "--kafka-sasl-password-file", passFile},
			[]string{"kafka at " + brokers, "x509: certificate signed by unknown authority", "--kafka-tls-ca"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			code, stderr := connect(ctx, tc.extra...)
			if code != 1 || ctx.Err() != nil {
				t.Fatalf("exit %d (ctx %v), want 1 at start; stderr:\n%s", code, ctx.Err(), stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var stderr string
	go func() {
		code, s := connect(ctx, "--kafka-tls-ca", certs.CA, "--kafka-sasl-password-file", passFile)
		stderr = s
		done <- code
	}()
	b, err := bus.New(bus.Config{Brokers: c.ListenAddrs(), Security: bus.Security{CAFile: certs.CA,
		SASLMechanism: "SCRAM-SHA-512", SASLUser: "connector", SASLPassword: "s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if msgs, _ := b.ReadAll(context.Background(), "td.traffic.journeytimes"); len(msgs) == 2 {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("no records in Kafka after 20 s; stderr:\n%s", stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}
