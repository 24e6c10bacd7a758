package stream

import (
	"context"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/record"
	"github.com/cityhighway/highway/highway/store"
)

// Sink is where a processor writes rows: the parts of *store.Store it uses,
// so tests can hand in their own.
type Sink interface {
	EnsureFeedTable(ctx context.Context, feed *catalog.Feed) error
	// InsertMissing inserts the rows of rec whose (offset, month) is not in
	// landed (nil: all of them); see store's "Exactly once, per batch".
	InsertMissing(ctx context.Context, feed *catalog.Feed, rec arrow.RecordBatch, prov store.Provenance, landed store.Landed) (inserted, skipped int, err error)
	// Landed says which (offset, month) pairs of offsets [from, to) of
	// topic/partition the feed's table holds.
	Landed(ctx context.Context, feed *catalog.Feed, topic string, partition int, from, to int64) (store.Landed, error)
	// ResumePoint reads the batch ledger's and the table's offsets.
	ResumePoint(ctx context.Context, feed *catalog.Feed, topic string, partition int) (store.Resume, error)
	// RecordProgress writes to the batch ledger that every record before
	// next is written.
	RecordProgress(ctx context.Context, topic string, partition int, next int64) error
	MaxEventTime(ctx context.Context, feed *catalog.Feed, topic string, partition int) (time.Time, error)
	MinEventTime(ctx context.Context, feed *catalog.Feed) (time.Time, error)
	RecentIdentities(ctx context.Context, feed *catalog.Feed, topic string, partition int, since time.Time) ([]record.Identity, error)
	EnsureWindowTable(ctx context.Context, feed *catalog.Feed, w catalog.Window) error
	LastWindowEnd(ctx context.Context, feed *catalog.Feed, w catalog.Window) (time.Time, error)
	AggregateWindows(ctx context.Context, feed *catalog.Feed, w catalog.Window, from, to time.Time) error
}

// Source is the Kafka side of a processor: the parts of *bus.Bus it uses.
type Source interface {
	Consume(ctx context.Context, group, topic string, handle bus.ClaimHandler) error
	// LastDeadLetter says which rejects of topic/partition the dead-letter
	// topic already holds.
	LastDeadLetter(ctx context.Context, topic string, partition int) (bus.DeadLetterMark, bool, error)
}

// DeadLetters receives rejected records: the part of *bus.Producer it uses.
type DeadLetters interface {
	SendDeadLetters(ctx context.Context, msgs []bus.Message, reasons []string) error
}
