package quality

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/envelope"
	"github.com/cityhighway/highway/highway/store"
)

// DeadLetterSink keeps copied dead letters: *store.Store.
type DeadLetterSink interface {
	EnsureQualityTables(ctx context.Context) error
	InsertDeadLetters(ctx context.Context, dls []store.DeadLetter) error
	DeadLetterResume(ctx context.Context, feed string, partition int) (int64, bool, error)
}

// DeadLetterSource consumes a DLQ topic in a consumer group: *bus.Bus.
type DeadLetterSource interface {
	Consume(ctx context.Context, group, topic string, handle bus.ClaimHandler) error
}

// DeadLetterCopier copies the where, when and why of every message of the
// feeds' <feed>.dlq topics into store.DeadLetterTable, exactly once: each
// claimed partition resumes one past the highest DLQ offset the table
// holds, and each fetch is one INSERT. Run it beside the processors (any
// number of copies; they share the consumer group GroupPrefix.<feed>.dlq).
type DeadLetterCopier struct {
	Source DeadLetterSource
	Sink   DeadLetterSink
	Feeds  []*catalog.Feed
	// GroupPrefix starts the consumer groups' names (default
	// "highway.quality").
	GroupPrefix string
	Logger      *slog.Logger
}

// Run copies until ctx ends; a feed whose copy fails is retried with
// backoff, logged, without stopping the others.
func (c *DeadLetterCopier) Run(ctx context.Context) error {
	if c.GroupPrefix == "" {
		c.GroupPrefix = "highway.quality"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		err := c.Sink.EnsureQualityTables(ctx)
		if err == nil {
			break
		}
		c.Logger.Warn("cannot create the ledger's tables yet; retrying", "wait", wait, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
	var wg sync.WaitGroup
	for _, f := range c.Feeds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.feed(ctx, f)
		}()
	}
	wg.Wait()
	return nil
}

func (c *DeadLetterCopier) feed(ctx context.Context, f *catalog.Feed) {
	group := c.GroupPrefix + "." + f.DLQTopic()
	for wait := time.Second; ctx.Err() == nil; wait = min(2*wait, 30*time.Second) {
		err := c.Source.Consume(ctx, group, f.DLQTopic(), func(ctx context.Context, cl *bus.Claim) error {
			return c.claim(ctx, f, cl)
		})
		if ctx.Err() != nil {
			return
		}
		c.Logger.Warn("copying dead letters failed; retrying", "topic", f.DLQTopic(), "wait", wait, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

func (c *DeadLetterCopier) claim(ctx context.Context, f *catalog.Feed, cl *bus.Claim) error {
	next, ok, err := c.Sink.DeadLetterResume(ctx, f.Name, cl.Partition)
	if err != nil {
		return err
	}
	if !ok {
		next = 0
	}
	if err := cl.SeekTo(next); err != nil {
		return err
	}
	for ctx.Err() == nil {
		msgs, err := cl.Fetch(ctx, 5000, 8<<20, time.Second)
		var bad *bus.BadBatchError
		if errors.As(err, &bad) {
			c.Logger.Error("a dead-letter batch cannot be read; its records are not counted", "topic", f.DLQTopic(), "partition", cl.Partition, "err", err)
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if len(msgs) == 0 {
			continue
		}
		dls := make([]store.DeadLetter, 0, len(msgs))
		for i := range msgs {
			dls = append(dls, DeadLetterOf(f.Name, &msgs[i]))
		}
		for wait := 200 * time.Millisecond; ; wait = min(2*wait, 10*time.Second) {
			err := c.Sink.InsertDeadLetters(ctx, dls)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			c.Logger.Warn("writing dead letters to ClickHouse failed; retrying", "feed", f.Name, "wait", wait, "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
		}
		// ClickHouse is the truth; the commit only shows the group's lag.
		_ = cl.Commit(msgs[len(msgs)-1].Offset + 1)
	}
	return nil
}

// DeadLetterOf reads a message of <feed>.dlq into the row that counts it:
// its envelope's reject says why, when and (for a processor's reject)
// where the record was; the message's own time stands in for a rejection
// time it lacks.
func DeadLetterOf(feed string, m *bus.Message) store.DeadLetter {
	rej := m.Envelope().Reject
	if rej == nil {
		rej = &envelope.Reject{Partition: -1, Offset: -1}
	}
	class, field := Classify(rej.Reason)
	d := store.DeadLetter{Feed: feed, Partition: int32(m.Partition), Offset: m.Offset, RejectedAt: m.Time.UTC(),
		Reason: rej.Reason, Class: class, Field: field, Stage: store.StageSource, SourcePartition: -1, SourceOffset: -1}
	if !rej.At.IsZero() {
		d.RejectedAt = rej.At.UTC()
	}
	if rej.InKafka() {
		d.Stage, d.SourcePartition, d.SourceOffset = store.StageProcessor, int32(rej.Partition), rej.Offset
	}
	return d
}
