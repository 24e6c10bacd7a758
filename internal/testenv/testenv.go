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

// Name returns a unique lower-case name with the given prefix, for
// databases, topics and groups that must not collide between tests.
func Name(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// Database creates a fresh ClickHouse database, drops it when the test ends,
// and returns a DSN that points at it.
func Database(t testing.TB) string {
	t.Helper()
	dsn := ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := store.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatalf("connecting to ClickHouse at %s: %v", dsn, err)
	}
	db := Name("test")
	if err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatalf("creating database %s: %v", db, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db)
		admin.Close()
	})
	i := strings.LastIndex(dsn, "/")
	if i < len("clickhouse://") {
		return dsn + "/" + db
	}
	rest := dsn[i+1:]
	query := ""
	if q := strings.Index(rest, "?"); q >= 0 {
		query = rest[q:]
	}
	return dsn[:i+1] + db + query
}
