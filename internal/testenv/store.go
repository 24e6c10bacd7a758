package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// Store opens a store on a fresh database (Database) of the real ClickHouse
// server (in cluster mode with HIGHWAY_CLICKHOUSE_CLUSTER) and closes it when the test ends, before the database is dropped.
// It fails the test, never skips it, when the server is missing.
func Store(t testing.TB) *store.Store {
	t.Helper()
	return openStore(t, Database(t))
}

// openStore opens a store on dsn and closes it when the test ends.
func openStore(t testing.TB, dsn string) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, dsn, nil, StoreOptions()...)
	if err != nil {
		t.Fatalf("opening a store on %s: %v", dsn, err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// Feed parses spec, a catalog document of exactly one feed (it may hold
// other kinds beside it), and returns that feed; a spec that does not parse
// or holds no feed or several fails the test.
func Feed(t testing.TB, spec string) *catalog.Feed {
	t.Helper()
	c, err := catalog.Parse("test.yaml", []byte(spec))
	if err != nil {
		t.Fatalf("parsing the test feed spec: %v", err)
	}
	if n := len(c.Feeds()); n != 1 {
		t.Fatalf("the test feed spec holds %d feeds, want 1", n)
	}
	return c.Feeds()[0]
}

// DefaultStore opens a store on the real server's database that
// HIGHWAY_CLICKHOUSE names, which must be "default": the only one
// ops/clickhouse/start lets store.OpenReaderUser read, so the tests of the
// open-data user put their tables there (under names of their own, which
// they drop). The store is closed when the test ends.
func DefaultStore(t testing.TB) *store.Store {
	t.Helper()
	st := openStore(t, ClickHouse(t))
	if st.Database() != "default" {
		t.Fatalf("HIGHWAY_CLICKHOUSE uses database %q; this test needs \"default\", the database ops/clickhouse/start lets %s read", st.Database(), store.OpenReaderUser)
	}
	return st
}

// FeedTable parses spec as Feed does and makes the feed's table on st
// (store.EnsureFeedTable); either failing fails the test.
func FeedTable(t testing.TB, st *store.Store, spec string) *catalog.Feed {
	t.Helper()
	feed := Feed(t, spec)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := st.EnsureFeedTable(ctx, feed); err != nil {
		t.Fatalf("making the table of %s: %v", feed.Name, err)
	}
	return feed
}
