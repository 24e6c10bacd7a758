// Package testenv gives integration tests the real services that `make test`
// starts (ops/services up): Apache Kafka and ClickHouse. Integration tests
// are built with the tag "integration"; when a service is not configured
// they fail with a message that says how to start it — they never skip.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/store"
)

const howTo = "start the services with `eval \"$(ops/services up)\"` or run `make test`"

// Kafka returns the bootstrap addresses of the real broker (HIGHWAY_KAFKA).
func Kafka(t testing.TB) []string {
	t.Helper()
	v := os.Getenv("HIGHWAY_KAFKA")
	if v == "" {
		t.Fatalf("HIGHWAY_KAFKA is not set: this integration test needs a real Kafka broker; %s", howTo)
	}
	return strings.Split(v, ",")
}

// ClickHouse returns the DSN of the real server (HIGHWAY_CLICKHOUSE).
func ClickHouse(t testing.TB) string {
	t.Helper()
	v := os.Getenv("HIGHWAY_CLICKHOUSE")
	if v == "" {
		t.Fatalf("HIGHWAY_CLICKHOUSE is not set: this integration test needs a real ClickHouse server; %s", howTo)
	}
	return v
}

// As returns the DSN of the real server (HIGHWAY_CLICKHOUSE) with user
// instead of its own, for the read-only users of ops/clickhouse/start
// (store.ReaderUser, store.OpenReaderUser). The database stays the DSN's:
// "default", the only one store.OpenReaderUser may read.
func As(t testing.TB, user string) string {
	t.Helper()
	dsn := ClickHouse(t)
	rest, ok := strings.CutPrefix(dsn, "clickhouse://")
	if !ok {
		t.Fatalf("HIGHWAY_CLICKHOUSE %q does not start with clickhouse://", dsn)
	}
	if at := strings.Index(rest, "@"); at >= 0 && at < strings.IndexAny(rest+"/", "/") {
		rest = rest[at+1:]
	}
	return "clickhouse://" + user + "@" + rest
}

// StoreOptions are the store options of the test servers: cluster mode
// (store.WithCluster) when HIGHWAY_CLICKHOUSE_CLUSTER names the cluster
// HIGHWAY_CLICKHOUSE belongs to (ops/clickhouse/cluster env prints both),
// so that the store's and the processor's integration tests run on a
// replicated cluster too.
func StoreOptions() []store.Option {
	return []store.Option{store.WithCluster(os.Getenv("HIGHWAY_CLICKHOUSE_CLUSTER"))}
}

// onCluster is " ON CLUSTER name" for the cluster of StoreOptions, else "".
func onCluster() string {
	if c := os.Getenv("HIGHWAY_CLICKHOUSE_CLUSTER"); c != "" {
		return " ON CLUSTER " + c
	}
	return ""
}

// Name returns a unique lower-case name with the given prefix, for
// databases, topics and groups that must not collide between tests.
func Name(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// Database creates a fresh ClickHouse database, drops it and the restricted
// database the store may make beside it (store.RestrictedDatabase) when the
// test ends, and returns a DSN that points at it.
func Database(t testing.TB) string {
	t.Helper()
	return DatabaseOn(t, ClickHouse(t))
}

// DatabaseOn is Database on the server at dsn (SecureClickHouse's).
func DatabaseOn(t testing.TB, dsn string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := store.Open(ctx, dsn, nil, StoreOptions()...)
	if err != nil {
		t.Fatalf("connecting to ClickHouse at %s: %v", dsn, err)
	}
	db := Name("test")
	on := onCluster()
	if err := admin.Exec(ctx, "CREATE DATABASE "+db+on); err != nil {
		t.Fatalf("creating database %s: %v", db, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		_ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db+on)
		_ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+store.RestrictedDatabase(db)+on)
		admin.Close()
	})
	out, err := store.WithDatabase(dsn, db)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// howToSecure says how to get the TLS and SASL_SSL services.
const howToSecure = "start them with `eval \"$(ops/services secure)\"` or run `make test`"

// SecureClickHouse returns the DSN of the real server's secure native port
// (HIGHWAY_TEST_CLICKHOUSE_TLS: secure=true&tls_ca=..., ops/clickhouse/start
// with CLICKHOUSE_TLS_PORT).
func SecureClickHouse(t testing.TB) string {
	t.Helper()
	v := os.Getenv("HIGHWAY_TEST_CLICKHOUSE_TLS")
	if v == "" {
		t.Fatalf("HIGHWAY_TEST_CLICKHOUSE_TLS is not set: this integration test needs ClickHouse's secure native port; %s", howToSecure)
	}
	return v
}

// SecureKafka is a broker's SASL_SSL listener (ops/kafka/start with
// KAFKA_SECURITY=sasl_ssl): its address, the CA of its certificate, and a
// user that may authenticate with both PLAIN and SCRAM-SHA-512.
type SecureKafka struct {
	Brokers        []string
	CA             string
	User, Password string
}

// SASLSSLKafka returns the SASL_SSL listener of the real broker
// (HIGHWAY_TEST_KAFKA_SASL_SSL, HIGHWAY_TEST_KAFKA_TLS_CA,
// HIGHWAY_TEST_KAFKA_SASL_USER, HIGHWAY_TEST_KAFKA_SASL_PASSWORD: not the
// HIGHWAY_KAFKA_* variables of the commands, so that the commands other
// tests run keep the plaintext broker).
func SASLSSLKafka(t testing.TB) SecureKafka {
	t.Helper()
	k := SecureKafka{CA: os.Getenv("HIGHWAY_TEST_KAFKA_TLS_CA"), User: os.Getenv("HIGHWAY_TEST_KAFKA_SASL_USER"), Password: os.Getenv("HIGHWAY_TEST_KAFKA_SASL_PASSWORD")}
	v := os.Getenv("HIGHWAY_TEST_KAFKA_SASL_SSL")
	if v == "" || k.CA == "" || k.User == "" {
		t.Fatalf("HIGHWAY_TEST_KAFKA_SASL_SSL, HIGHWAY_TEST_KAFKA_TLS_CA and HIGHWAY_TEST_KAFKA_SASL_USER must be set: this integration test needs a broker's SASL_SSL listener; %s", howToSecure)
	}
	k.Brokers = strings.Split(v, ",")
	return k
}
