package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// tailWait is how long one fetch of a tail waits for new messages.
const tailWait = 250 * time.Millisecond

// Tail follows topic from its end: it calls fn with every message produced
// to any of the topic's partitions after Tail started reading it, until ctx
// ends (then it returns nil) or fn fails. It joins no consumer group and
// commits nothing, so any number of tails may follow one topic. fn is
// called from one goroutine at a time, with a message it may keep; order is
// kept within a partition, not across partitions. Partitions added while it
// runs are not followed. It reads each partition through the partition
// reader a claim uses (partition.go), from one goroutine per partition; a
// broker that fails is retried with a backoff, a batch nobody can read is
// skipped, both logged.
func (b *Bus) Tail(ctx context.Context, topic string, fn func(Message) error) error {
	ids, err := b.Partitions(ctx, topic)
	if err != nil {
		return fmt.Errorf("tailing %s: %w", topic, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	readers := make([]*partitionReader, len(ids))
	for i, p := range ids {
		r := newPartitionReader(b.sec, b.cfg.Brokers, topic, p, b.logf)
		r.mem.limit = b.cfg.MaxBatchBytes
		readers[i] = r
		defer r.drop()
		_, end, _, err := r.offsets(ctx)
		if err != nil {
			return fmt.Errorf("tailing %s/%d: %w", topic, p, err)
		}
		r.seek(end)
	}
	msgs := make(chan Message)
	var wg sync.WaitGroup
	for _, r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.tailPartition(ctx, r, msgs)
		}()
	}
	// The readers stop before Tail returns, however it returns.
	defer func() {
		cancel()
		wg.Wait()
	}()
	for {
		select {
		case m := <-msgs:
			if err := fn(m); err != nil {
				return err
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// tailPartition sends each message r reads to msgs until ctx ends.
func (b *Bus) tailPartition(ctx context.Context, r *partitionReader, msgs chan<- Message) {
	stop := context.AfterFunc(ctx, r.interrupt)
	defer stop()
	backoff := 100 * time.Millisecond
	for {
		r.release()
		m, err := r.next(ctx, tailWait)
		var bad *BadBatchError
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, errEmptyFetch):
			continue
		case errors.As(err, &bad):
			b.cfg.Logger.Warn("tail: skipping a batch that cannot be read", "topic", r.topic, "partition", r.partition, "err", err)
			r.skipBad()
			continue
		case err != nil:
			b.cfg.Logger.Warn("tail: reading failed; retrying", "topic", r.topic, "partition", r.partition, "in", backoff, "err", err)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		select {
		case msgs <- m.Clone(): // r reuses m's memory after the next release
		case <-ctx.Done():
			return
		}
	}
}

// Ping checks that the cluster answers a metadata request, for readiness
// probes.
func (b *Bus) Ping(ctx context.Context) error {
	if _, err := b.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{}}); err != nil {
		return fmt.Errorf("Kafka at %v does not answer: %w", b.cfg.Brokers, err)
	}
	return nil
}
