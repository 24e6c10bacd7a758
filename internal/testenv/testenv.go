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
		_ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+store.RestrictedDatabase(db))
		admin.Close()
	})
	out, err := store.WithDatabase(dsn, db)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
