// Package feedenv gives an integration test one feed's real plumbing: a bus
// on the real Kafka broker with the feed's topic and dead-letter topic, and
// a store on a fresh ClickHouse database with the feed's table. It is apart
// from testenv because highway/bus's own tests use testenv, which therefore
// may not import the bus. Like testenv, it fails a test whose services are
// missing; it never skips one.
package feedenv

import (
	"context"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/internal/testenv"
)

// SessionTimeout is the consumer-group session timeout of the bus Open
// returns: short, so a test's restarted consumer takes its partitions over
// in seconds rather than the bus's default ten.
const SessionTimeout = 6 * time.Second

// Open returns a bus on the real broker (testenv.Kafka) and a store on a
// fresh database (testenv.Store), both closed when the test ends, with
// feed's topic and dead-letter topic (one partition each) and its table
// created.
func Open(t testing.TB, feed *catalog.Feed) (*bus.Bus, *store.Store) {
	t.Helper()
	b, err := bus.New(bus.Config{Brokers: testenv.Kafka(t), SessionTimeout: SessionTimeout})
	if err != nil {
		t.Fatalf("connecting to Kafka: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	st := testenv.Store(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := b.EnsureTopics(ctx, 1, feed.Topic(), feed.DLQTopic()); err != nil {
		t.Fatalf("creating the topics of feed %s: %v", feed.Name, err)
	}
	if err := st.EnsureFeedTable(ctx, feed); err != nil {
		t.Fatalf("creating the table of feed %s: %v", feed.Name, err)
	}
	return b, st
}
