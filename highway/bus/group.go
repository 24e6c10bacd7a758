package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// Claim is one partition assigned to this member of a consumer group for one
// generation. Its handler reads micro-batches with Fetch and records progress
// with Commit. The claim's context ends when the group rebalances or the
// consumer stops; the handler must then return promptly.
type Claim struct {
	Topic     string
	Partition int
	// Committed is the group's committed offset for the partition: the next
	// offset to read, or a negative value when the group has none.
	Committed int64

	gen    *kafka.Generation
	reader *partitionReader
	batch  []Message // the last Fetch's, reused by the next
}

// SeekTo makes the next Fetch start at offset.
func (c *Claim) SeekTo(offset int64) error {
	c.reader.seek(offset)
	return nil
}

// firstMessageWait is how long one fetch waits on the broker while Fetch
// waits for the first message of a batch (it then asks again). The broker
// answers as soon as a record arrives, and an ending claim interrupts the
// fetch, so a long wait costs no latency; it sets how many requests an idle
// partition makes: one per firstMessageWait (issue 18: 1,000 idle
// partitions made 2,000 fetch requests a second at 500 ms).
const firstMessageWait = 5 * time.Second

// Fetch waits for at least one message, then gathers more until it has
// maxRows messages, maxBytes bytes of values, or wait has passed since the
// first one arrived; messages fetched with those before it join the batch
// even after the wait (a wait of 0 returns what one fetch brought). It returns what it has when ctx ends after the first
// message. maxBytes also bounds what each fetch request asks the broker for
// (which still sends a first record batch larger than that whole) and the
// buffers the claim keeps for reuse, so a claim given few bytes holds few.
//
// The keys, values and headers of the messages returned are valid until
// the next Fetch on the claim, which reuses their memory: keep a Clone of a
// message needed longer.
//
// A record batch that cannot be read (see BadBatchError) ends the messages
// before it; the next Fetch returns the *BadBatchError alone, and the one
// after that goes on after the batch. What to do with its offsets (a
// dead-letter note, an alert) is the caller's.
func (c *Claim) Fetch(ctx context.Context, maxRows int, maxBytes int64, wait time.Duration) ([]Message, error) {
	c.reader.bound(maxBytes)
	c.reader.release()
	stop := context.AfterFunc(ctx, c.reader.interrupt)
	defer stop()
	var first Message
	for {
		m, err := c.reader.next(ctx, firstMessageWait)
		if errors.Is(err, errEmptyFetch) {
			continue
		}
		var bad *BadBatchError
		if errors.As(err, &bad) {
			c.reader.skipBad() // reported once; the next Fetch reads on after it
			return nil, bad
		}
		if err != nil {
			return nil, fmt.Errorf("fetching from %s/%d: %w", c.Topic, c.Partition, err)
		}
		first = m
		break
	}
	// The last batch's slice is free now: reuse it, growing it as a feed's
	// batches grow rather than making room for maxRows up front (a quiet
	// feed's batches hold a few records), and letting it go when it is far
	// larger than the last batch needed (a burst gone quiet).
	if cap(c.batch) > 4*len(c.batch)+1024 {
		c.batch = nil
	}
	msgs := append(c.batch[:0], first)
	size := int64(len(first.Value))
	deadline := time.Now().Add(wait)
	for len(msgs) < maxRows && size < maxBytes {
		// Messages already fetched join the batch whatever the wait (a
		// wait of 0 takes what came with the first message).
		left := time.Until(deadline)
		if ctx.Err() != nil || left < time.Millisecond && len(c.reader.pending) == 0 {
			break
		}
		m, err := c.reader.next(ctx, max(left, time.Millisecond))
		if err != nil {
			break // nothing more within the wait, or the claim ends; what we have is a batch
		}
		msgs = append(msgs, m)
		size += int64(len(m.Value))
	}
	c.batch = msgs
	return msgs, nil
}

// Done says the messages of the last Fetch are done with (their rows
// decoded, what must outlive them cloned), before the next Fetch or Wait.
// A claim that has caught up with its partition then lets go of the
// memory it keeps for reusing on the next batch: the slices and buffers
// of that batch, which for a partition that goes quiet after a burst stay
// unused, outside any budget, until records come again (1,000 partitions
// kept 360 MB after a burst of 1,000 records each, and the Go heap's
// soft limit made the collector run without pause). A partition with a
// backlog keeps them: its next batch reuses them at once.
func (c *Claim) Done() {
	if c.reader.shed() {
		c.batch = nil
	}
}

// Wait waits until a message is there for Fetch to return at once (or an
// unreadable batch for it to report), fetching with the bounds of a batch of
// maxBytes bytes of values. A caller that must pay for a batch before it
// fetches (a memory budget) can wait for records with little and take what
// the batch needs once they are there. Errors are Fetch's.
func (c *Claim) Wait(ctx context.Context, maxBytes int64) error {
	c.reader.bound(maxBytes)
	c.reader.release()
	stop := context.AfterFunc(ctx, c.reader.interrupt)
	defer stop()
	for {
		err := c.reader.fill(ctx, firstMessageWait)
		if errors.Is(err, errEmptyFetch) {
			continue
		}
		if err != nil {
			return fmt.Errorf("fetching from %s/%d: %w", c.Topic, c.Partition, err)
		}
		return nil
	}
}

// Lag is how many messages of the partition are behind the last fetched one,
// or -1 when not yet known.
func (c *Claim) Lag() int64 { return c.reader.lag() }

// End is the partition's high watermark (the offset after its last
// message) as of the last fetch, or -1 before the first. Like Fetch, it is
// for the claim's handler goroutine.
func (c *Claim) End() int64 { return c.reader.hwm }

// Commit records next as the offset the group resumes from on this partition.
func (c *Claim) Commit(next int64) error {
	if err := c.gen.CommitOffsets(map[string]map[int]int64{c.Topic: {c.Partition: next}}); err != nil {
		return fmt.Errorf("committing %s/%d at %d: %w", c.Topic, c.Partition, next, err)
	}
	return nil
}

// ClaimHandler consumes one claimed partition until its context ends. An
// error it returns ends the whole Consume with that error.
type ClaimHandler func(ctx context.Context, c *Claim) error

// Consume joins consumer group `group` on topic and runs handle for every
// partition assigned to this member, one goroutine per partition, across
// rebalances, until ctx ends (then it returns nil) or a handler fails.
func (b *Bus) Consume(ctx context.Context, group, topic string, handle ClaimHandler) error {
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                group,
		Brokers:           b.cfg.Brokers,
		Dialer:            b.sec.dialer(),
		Topics:            []string{topic},
		StartOffset:       kafka.FirstOffset,
		SessionTimeout:    b.cfg.SessionTimeout,
		HeartbeatInterval: b.cfg.SessionTimeout / 5,
		RebalanceTimeout:  b.cfg.SessionTimeout,
		JoinGroupBackoff:  time.Second,
		Timeout:           10 * time.Second,
		Logger:            kafka.LoggerFunc(b.logf),
		ErrorLogger:       kafka.LoggerFunc(b.logf),
	})
	if err != nil {
		return fmt.Errorf("joining consumer group %s on %s: %w", group, topic, err)
	}
	defer cg.Close()

	var (
		mu      sync.Mutex
		failure error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	failed := 0 // joins failed in a row
	for {
		gen, err := cg.Next(ctx)
		if ctx.Err() != nil {
			mu.Lock()
			defer mu.Unlock()
			return failure
		}
		if err != nil {
			if errors.Is(err, kafka.ErrGroupClosed) {
				return nil
			}
			// Said at Warn once, then at Debug until a join succeeds (a
			// broker down fails every attempt, a second apart).
			failed++
			lvl := slog.LevelDebug
			if failed == 1 {
				lvl = slog.LevelWarn
			}
			b.cfg.Logger.Log(ctx, lvl, "consumer group: joining failed; retrying", "group", group, "topic", topic, "attempt", failed, "err", err)
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
			}
			continue
		}
		if failed > 0 {
			b.cfg.Logger.Info("consumer group: joined", "group", group, "topic", topic, "failed_attempts", failed)
			failed = 0
		}
		for _, a := range gen.Assignments[topic] {
			claim := &Claim{Topic: topic, Partition: a.ID, Committed: a.Offset, gen: gen}
			gen.Start(func(gctx context.Context) {
				claim.reader = newPartitionReader(b.sec, b.cfg.Brokers, topic, claim.Partition, b.logf)
				claim.reader.mem.limit = b.cfg.MaxBatchBytes
				defer claim.reader.drop()
				if claim.Committed >= 0 {
					claim.reader.seek(claim.Committed)
				}
				if err := handle(gctx, claim); err != nil && gctx.Err() == nil {
					mu.Lock()
					if failure == nil {
						failure = err
					}
					mu.Unlock()
					cancel()
				}
			})
		}
	}
}
