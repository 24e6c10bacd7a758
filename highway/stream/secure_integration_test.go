//go:build integration

package stream_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/internal/testcert"
	"github.com/cityhighway/highway/internal/testenv"
)

// TestIngestOverSASLSSLAndTLS runs the ingest path (produce, the
// processor's consumer group and own fetches, dead letters, the batch
// ledger and inserts) over Kafka's SASL_SSL listener, with PLAIN and with
// SCRAM-SHA-512, into ClickHouse over its secure native port: every good
// record lands once, the bad ones go to the DLQ, the group commits the end.
func TestIngestOverSASLSSLAndTLS(t *testing.T) {
	k := testenv.SASLSSLKafka(t)
	dsn := testenv.SecureClickHouse(t)
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			r := newRigWith(t, readingsSpec, testenv.DatabaseOn(t, dsn), bus.Config{Brokers: k.Brokers, SessionTimeout: 6 * time.Second,
				Security: bus.Security{CAFile: k.CA, SASLMechanism: mech, SASLUser: k.User, SASLPassword: k.Password}})
			const n = 2000
			r.produce(t, n, []string{`not json at all`}, 500)
			stop := start(t, r.processor(t, nil))
			r.waitRows(t, n)
			stop()
			if rows, distinct := r.count(t); rows != n || distinct != n {
				t.Fatalf("rows=%d distinct=%d, want %d", rows, distinct, n)
			}
			r.committedEnd(t)
			dead, err := r.bus.ReadAll(context.Background(), r.feed.DLQTopic())
			if err != nil || len(dead) != 4 {
				t.Errorf("DLQ: %d messages, %v; want 4", len(dead), err)
			}
		})
	}
}

// TestSecureClickHouseRefusesAtStart: the secure port with a CA that did
// not sign its certificate, and with a wrong password, fails store.Open
// with the service, the address and what to check.
func TestSecureClickHouseRefusesAtStart(t *testing.T) {
	dsn := testenv.SecureClickHouse(t)
	other := testcert.New(t, "another CA")
	i := strings.Index(dsn, "tls_ca=")
	if i < 0 {
		t.Fatalf("HIGHWAY_TEST_CLICKHOUSE_TLS %q has no tls_ca", dsn)
	}
	untrusted := dsn[:i] + "tls_ca=" + other.CA
	wrongUser := strings.Replace(dsn, "clickhouse://", "clickhouse://highway_reader:wrong@", 1)
	for _, tc := range []struct {
		name, dsn string
		want      []string
	}{
		{"untrusted CA", untrusted, []string{"clickhouse at [127.0.0.1:", "x509: certificate signed by unknown authority", "tls_ca=/path/ca.pem"}},
		{"wrong password", wrongUser, []string{"clickhouse at [127.0.0.1:", `authentication failed for user "highway_reader"`, "check the user and password"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			st, err := store.Open(ctx, tc.dsn, nil)
			if err == nil {
				st.Close()
				t.Fatal("Open succeeded")
			}
			t.Logf("%v", err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
