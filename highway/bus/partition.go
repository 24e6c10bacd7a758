package bus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// partitionReader reads one partition with fetch requests made from the
// caller's goroutine, message by message out of each fetched batch. Unlike
// kafka.Reader it runs no goroutine of its own and hands no message through
// a channel, which at hundreds of thousands of messages per second was a
// fifth of a processor's CPU (docs/BENCHMARKS.md). It is not safe for
// concurrent use.
type partitionReader struct {
	dialer    *kafka.Dialer
	brokers   []string
	topic     string
	partition int
	logf      func(string, ...any)

	// offset is the next offset to read, or kafka.FirstOffset until the
	// partition's first offset is known.
	offset int64
	// mu guards conn against interrupt, which runs on another goroutine.
	mu    sync.Mutex
	conn  *kafka.Conn
	batch *kafka.Batch
	// fresh says the current batch has not yielded a message yet.
	fresh bool
	// hwm is the partition's high watermark at the last fetch, -1 before.
	hwm int64
}

// errEmptyFetch says a fetch came back without messages: nothing arrived
// within its wait.
var errEmptyFetch = errors.New("no messages within the fetch wait")

// fetchMaxBytes bounds one fetch response.
const fetchMaxBytes = 16 << 20

func newPartitionReader(dialer *kafka.Dialer, brokers []string, topic string, partition int, logf func(string, ...any)) *partitionReader {
	return &partitionReader{dialer: dialer, brokers: brokers, topic: topic, partition: partition, logf: logf, offset: kafka.FirstOffset, hwm: -1}
}

// seek makes the next message the one at offset.
func (r *partitionReader) seek(offset int64) {
	if r.batch != nil {
		_ = r.batch.Close()
		r.batch = nil
	}
	r.offset = offset
}

// interrupt makes a pending fetch or read return at once (with an error
// next turns into its context's): called when the caller's context ends.
func (r *partitionReader) interrupt() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn != nil {
		_ = r.conn.SetReadDeadline(time.Unix(1, 0))
	}
}

// keepAlive gives the connection's pending read another deadline: a batch
// may stay half read while the caller inserts the previous one.
func (r *partitionReader) keepAlive(maxWait time.Duration) {
	if r.conn != nil {
		_ = r.conn.SetReadDeadline(time.Now().Add(maxWait + 10*time.Second))
	}
}

// lag is how many messages of the partition follow the last one read, as
// of the last fetch, or -1 when not known.
func (r *partitionReader) lag() int64 {
	if r.hwm < 0 || r.offset < 0 {
		return -1
	}
	return max(r.hwm-r.offset, 0)
}

// next returns the next message. When the current fetch is used up it makes
// another that the broker answers within maxWait; errEmptyFetch says that
// one brought nothing. Other errors close the connection (the next call
// dials again) and are worth retrying with a backoff.
func (r *partitionReader) next(ctx context.Context, maxWait time.Duration) (kafka.Message, error) {
	for {
		if err := ctx.Err(); err != nil {
			return kafka.Message{}, err
		}
		if r.batch == nil {
			if err := r.fetch(ctx, maxWait); err != nil {
				return kafka.Message{}, err
			}
		}
		m, err := r.batch.ReadMessage()
		if err == nil {
			r.fresh = false
			r.offset = m.Offset + 1
			return m, nil
		}
		empty := r.fresh
		// The batch's next offset covers a compacted tail that ends past the
		// last message read.
		if off := r.batch.Offset(); off > r.offset {
			r.offset = off
		}
		if cerr := r.batch.Close(); cerr != nil {
			err = cerr
		}
		r.batch = nil
		switch {
		case err == nil || errors.Is(err, io.EOF):
			if empty {
				return kafka.Message{}, errEmptyFetch
			}
		case errors.Is(err, kafka.OffsetOutOfRange):
			if err := r.outOfRange(); err != nil {
				return kafka.Message{}, err
			}
		case errors.Is(err, kafka.RequestTimedOut):
			return kafka.Message{}, errEmptyFetch
		default:
			r.drop()
			if ctx.Err() != nil {
				return kafka.Message{}, ctx.Err() // interrupted
			}
			return kafka.Message{}, fmt.Errorf("reading %s/%d at offset %d: %w", r.topic, r.partition, r.offset, err)
		}
	}
}

// fetch sends one fetch request for r.offset, dialling the partition's
// leader first when there is no connection.
func (r *partitionReader) fetch(ctx context.Context, maxWait time.Duration) error {
	if r.conn == nil {
		if err := r.connect(ctx); err != nil {
			return err
		}
	}
	// SeekDontCheck: a fetch out of range says so itself, without a
	// ListOffsets request before every fetch.
	if _, err := r.conn.Seek(r.offset, kafka.SeekAbsolute|kafka.SeekDontCheck); err != nil {
		r.drop()
		return fmt.Errorf("seeking %s/%d to %d: %w", r.topic, r.partition, r.offset, err)
	}
	// The broker answers within maxWait; the deadline only catches a dead
	// connection.
	_ = r.conn.SetReadDeadline(time.Now().Add(maxWait + 10*time.Second))
	r.batch = r.conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: fetchMaxBytes, MaxWait: maxWait})
	r.fresh = true
	if hwm := r.batch.HighWaterMark(); hwm >= 0 {
		r.hwm = hwm
	}
	return nil
}

// connect dials the partition's leader and resolves kafka.FirstOffset, or
// an offset before the first one Kafka still holds, to the first one.
func (r *partitionReader) connect(ctx context.Context) error {
	var errs []error
	for _, broker := range r.brokers {
		conn, err := r.dialer.DialLeader(ctx, "tcp", broker, r.topic, r.partition)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		first, _, err := conn.ReadOffsets()
		_ = conn.SetDeadline(time.Time{})
		if err != nil {
			conn.Close()
			errs = append(errs, err)
			continue
		}
		if r.offset < first {
			if r.offset != kafka.FirstOffset {
				r.logf("partition %d of %s: offset %d is gone (retention); skipping to the first offset Kafka holds, %d", r.partition, r.topic, r.offset, first)
			}
			r.offset = first
		}
		r.mu.Lock()
		r.conn = conn
		r.mu.Unlock()
		return nil
	}
	return fmt.Errorf("connecting to the leader of %s/%d: %w", r.topic, r.partition, errors.Join(errs...))
}

// outOfRange handles a fetch Kafka refused as out of range: an offset
// before the first one held moves to it; one past the end waits for data.
func (r *partitionReader) outOfRange() error {
	_ = r.conn.SetDeadline(time.Now().Add(10 * time.Second))
	first, last, err := r.conn.ReadOffsets()
	_ = r.conn.SetDeadline(time.Time{})
	if err != nil {
		r.drop()
		return fmt.Errorf("reading the offsets of %s/%d: %w", r.topic, r.partition, err)
	}
	switch {
	case r.offset < first:
		r.logf("partition %d of %s: offset %d is gone (retention); skipping to the first offset Kafka holds, %d", r.partition, r.topic, r.offset, first)
		r.offset = first
		return nil
	case r.offset <= last:
		return nil // it is there now
	}
	return errEmptyFetch
}

// drop abandons the current batch and connection.
func (r *partitionReader) drop() {
	if r.batch != nil {
		_ = r.batch.Close()
		r.batch = nil
	}
	if r.conn != nil {
		r.mu.Lock()
		_ = r.conn.Close()
		r.conn = nil
		r.mu.Unlock()
	}
}

// close releases the connection.
func (r *partitionReader) close() { r.drop() }
