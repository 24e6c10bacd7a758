package bus

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// Tail follows topic from its end: it calls fn with every message produced
// to any of the topic's partitions after Tail started reading it, until ctx
// ends (then it returns nil) or fn or Kafka fails. It joins no consumer
// group and commits nothing, so any number of tails may follow one topic.
// fn is called from one goroutine at a time; order is kept within a
// partition, not across partitions. Partitions added while it runs are not
// followed.
func (b *Bus) Tail(ctx context.Context, topic string, fn func(Message) error) error {
	ids, err := b.Partitions(ctx, topic)
	if err != nil {
		return fmt.Errorf("tailing %s: %w", topic, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs := make(chan Message)
	errs := make(chan error, len(ids))
	var wg sync.WaitGroup
	for _, p := range ids {
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: b.cfg.Brokers, Topic: topic, Partition: p,
			MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 250 * time.Millisecond,
			Logger: kafka.LoggerFunc(b.logf), ErrorLogger: kafka.LoggerFunc(b.logf),
		})
		if err := r.SetOffset(kafka.LastOffset); err != nil {
			r.Close()
			cancel()
			wg.Wait()
			return fmt.Errorf("tailing %s/%d: %w", topic, p, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					if ctx.Err() == nil {
						errs <- fmt.Errorf("tailing %s/%d: %w", topic, p, err)
					}
					return
				}
				select {
				case msgs <- fromKafka(m):
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	defer wg.Wait()
	for {
		select {
		case m := <-msgs:
			if err := fn(m); err != nil {
				return err
			}
		case err := <-errs:
			return err
		case <-ctx.Done():
			return nil
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
