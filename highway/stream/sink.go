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

// Sink is where a processor writes: its feed's table and batch ledger
// (Rows) and its pipeline's window tables (Windows). *store.Store is one;
// streamtest.Sink is an in-memory one for tests. A processor calls it from
// one goroutine per claimed partition and from its window firing loop at
// once, so an implementation must be safe for concurrent use.
type Sink interface {
	Rows
	Windows
}

// Rows is the feed's table and the batch ledger: creating the table,
// inserting a micro-batch exactly once, and what a processor reads back
// when it claims a partition (where to resume, the partition's latest
// event time, the identities de-duplication must remember).
type Rows interface {
	// EnsureFeedTable creates the feed's table or evolves it to the
	// feed's fields; an incompatible change is store.ErrIncompatibleSchema.
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
	// MaxEventTime is the latest event time of the rows of
	// topic/partition, the zero time if there are none: the partition's
	// watermark and the end of its de-duplication horizon.
	MaxEventTime(ctx context.Context, feed *catalog.Feed, topic string, partition int) (time.Time, error)
	// RecentIdentities returns the identities of the rows of
	// topic/partition with an event time at or after since.
	RecentIdentities(ctx context.Context, feed *catalog.Feed, topic string, partition int, since time.Time) ([]record.Identity, error)
}

// Windows is the pipeline's window tables, computed from the feed's table:
// creating them, where firing stands, and (re)computing a range of windows.
// A processor whose pipeline has no windows never calls it.
type Windows interface {
	// EnsureWindowTable creates the window's table if it is missing.
	EnsureWindowTable(ctx context.Context, feed *catalog.Feed, w catalog.Window) error
	// LastWindowEnd is the latest window end in the window's table, the
	// zero time if it is empty.
	LastWindowEnd(ctx context.Context, feed *catalog.Feed, w catalog.Window) (time.Time, error)
	// MinEventTime is the earliest event time in the feed's table, the
	// zero time if it is empty: where a new window table's first window
	// starts.
	MinEventTime(ctx context.Context, feed *catalog.Feed) (time.Time, error)
	// AggregateWindows (re)computes every window of w whose start is in
	// [from, to) from the feed's rows, replacing earlier rows of those
	// windows.
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
