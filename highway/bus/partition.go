package bus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// partitionReader reads one partition with fetch requests made from the
// caller's goroutine (fetch.go), handing out the messages of each response
// one by one. Unlike kafka.Reader it runs no goroutine of its own and hands
// no message through a channel. It is not safe for concurrent use, except
// interrupt.
type partitionReader struct {
	sec       security
	dialer    *kafka.Dialer
	brokers   []string
	topic     string
	partition int
	logf      func(string, ...any)

	// offset is the next offset to read, or kafka.FirstOffset until the
	// partition's first offset is known.
	offset int64
	// mu guards conn against interrupt, which runs on another goroutine.
	mu   sync.Mutex
	conn *fetchConn
	// pending are the fetched messages not handed out yet; after them the
	// next fetch starts at after, unless bad says the batch there cannot
	// be read.
	pending []Message
	after   int64
	bad     *BadBatchError
	// hwm is the partition's high watermark at the last fetch, -1 before.
	hwm int64
	// fetchBytes bounds one fetch response; fetchMaxBytes until bound.
	fetchBytes int
	// mem is the memory fetches reuse. current is what of it pending point
	// into; retired is that of responses whose messages have all been
	// handed out, which release gives back to mem.
	mem     fetchMemory
	current usedMemory
	retired usedMemory
}

// errEmptyFetch says a fetch came back without messages: nothing arrived
// within its wait.
var errEmptyFetch = errors.New("no messages within the fetch wait")

// fetchMaxBytes bounds one fetch response (Kafka still sends a first record
// batch larger than that whole).
const fetchMaxBytes = 1 << 20

func newPartitionReader(sec security, brokers []string, topic string, partition int, logf func(string, ...any)) *partitionReader {
	return &partitionReader{sec: sec, dialer: sec.dialer(), brokers: brokers, topic: topic, partition: partition, logf: logf, offset: kafka.FirstOffset, hwm: -1, fetchBytes: fetchMaxBytes}
}

// seek makes the next message the one at offset.
func (r *partitionReader) seek(offset int64) {
	r.pending, r.after, r.bad = nil, 0, nil
	r.retired.add(r.current)
	r.current = usedMemory{}
	r.offset = offset
}

// interrupt makes a pending fetch return at once (with an error next
// turns into its context's): called when the caller's context ends.
func (r *partitionReader) interrupt() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn != nil {
		_ = r.conn.conn.SetDeadline(time.Unix(1, 0))
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

// next returns the next message. When the fetched messages are used up it
// makes another fetch that the broker answers within maxWait; errEmptyFetch
// says that one brought nothing. A *BadBatchError says the next batch
// cannot be read, and is returned until skipBad. Other errors close the
// connection (the next call dials again) and are worth retrying with a
// backoff.
func (r *partitionReader) next(ctx context.Context, maxWait time.Duration) (Message, error) {
	if err := r.fill(ctx, maxWait); err != nil {
		return Message{}, err
	}
	if r.bad != nil && len(r.pending) == 0 {
		return Message{}, r.bad
	}
	m := r.pending[0]
	r.pending = r.pending[1:]
	r.offset = m.Offset + 1
	if len(r.pending) == 0 {
		r.offset = max(r.offset, r.after)
	}
	return m, nil
}

// fill makes sure a message is pending, or an unreadable batch is next
// (r.bad), fetching when none is; it returns next's errors otherwise.
func (r *partitionReader) fill(ctx context.Context, maxWait time.Duration) error {
	for {
		if len(r.pending) > 0 || r.bad != nil {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := r.fetch(ctx, maxWait)
		if used := r.mem.takeUsed(); err == nil && len(res.messages) > 0 {
			r.retired.add(r.current)
			r.current = used
		} else {
			r.retired.add(used) // no message points into it
		}
		switch {
		case err == nil:
			if res.highWatermark >= 0 {
				r.hwm = res.highWatermark
			}
			r.bad = res.bad
			if len(res.messages) == 0 {
				if r.bad != nil {
					r.offset = max(r.offset, res.next)
					continue
				}
				if res.next > r.offset { // only batches with nothing for us
					r.offset = res.next
					continue
				}
				return errEmptyFetch
			}
			r.pending, r.after = res.messages, res.next
		case errors.Is(err, kafka.OffsetOutOfRange):
			if err := r.outOfRange(ctx); err != nil {
				return err
			}
		default:
			r.drop()
			if ctx.Err() != nil {
				return ctx.Err() // interrupted
			}
			return fmt.Errorf("reading %s/%d at offset %d: %w", r.topic, r.partition, r.offset, err)
		}
	}
}

// fetch sends one fetch request for r.offset, dialling the partition's
// leader first when there is no connection.
func (r *partitionReader) fetch(ctx context.Context, maxWait time.Duration) (fetchResult, error) {
	if r.conn == nil || r.offset < 0 {
		if err := r.connect(ctx); err != nil {
			return fetchResult{}, err
		}
	}
	// The broker answers within maxWait; the deadline only catches a dead
	// connection.
	_ = r.conn.conn.SetDeadline(time.Now().Add(maxWait + 10*time.Second))
	return r.conn.fetch(r.topic, r.partition, r.offset, maxWait, r.fetchBytes, &r.mem)
}

// minFetchBytes is the least a fetch request asks for.
const minFetchBytes = 16 << 10

// bound sizes the reader's fetches and kept buffers for batches of at
// most values bytes of values.
func (r *partitionReader) bound(values int64) {
	r.fetchBytes = int(min(max(values, minFetchBytes), fetchMaxBytes))
	r.mem.keep = int(min(max(2*values, minFetchBytes), maxFreeBytes))
}

// skipBad moves past the unreadable batch next reported.
func (r *partitionReader) skipBad() {
	if r.bad != nil {
		r.offset, r.bad = r.bad.Next, nil
	}
}

// release says the messages handed out so far are done with: the buffers
// of responses whose messages have all been handed out are reused.
func (r *partitionReader) release() {
	r.mem.recycle(r.retired)
	clear(r.retired.bufs)
	clear(r.retired.headers)
	r.retired = usedMemory{bufs: r.retired.bufs[:0], headers: r.retired.headers[:0]}
}

// shed gives back what the reader keeps for reuse, but for a small
// fetch's worth, when no message is pending and the last fetch reached the
// partition's end, and says whether it did. The caller is done with every
// message handed out.
func (r *partitionReader) shed() bool {
	if len(r.pending) > 0 || r.bad != nil || r.lag() != 0 {
		return false
	}
	r.retired.add(r.current)
	r.current = usedMemory{}
	r.mem.keep = minFetchBytes // the next Wait or Fetch bounds it again
	r.release()
	r.mem.messages = nil
	if r.conn != nil {
		r.conn.spare = nil
	}
	return true
}

// connect finds the partition's leader, resolves kafka.FirstOffset (or an
// offset before the first one Kafka still holds) to the first one, and
// connects to the leader for fetching.
func (r *partitionReader) connect(ctx context.Context) error {
	r.drop()
	first, _, leader, err := r.offsets(ctx)
	if err != nil {
		return err
	}
	if r.offset < first {
		if r.offset != kafka.FirstOffset {
			r.logf("partition %d of %s: offset %d is gone (retention); skipping to the first offset Kafka holds, %d", r.partition, r.topic, r.offset, first)
		}
		r.offset = first
	}
	conn, err := dialFetch(ctx, leader, r.sec)
	if err != nil {
		return fmt.Errorf("connecting to %s, the leader of %s/%d: %w", leader, r.topic, r.partition, err)
	}
	r.mu.Lock()
	r.conn = conn
	r.mu.Unlock()
	return nil
}

// offsets asks the partition's leader (found with kafka-go) for the first
// and next offsets it holds, and returns its address.
func (r *partitionReader) offsets(ctx context.Context) (first, last int64, leader string, err error) {
	var errs []error
	for _, broker := range r.brokers {
		conn, err := r.dialer.DialLeader(ctx, "tcp", broker, r.topic, r.partition)
		if err != nil {
			errs = append(errs, r.sec.classify(broker, err))
			continue
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		first, last, err = conn.ReadOffsets()
		b := conn.Broker()
		conn.Close()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return first, last, net.JoinHostPort(b.Host, strconv.Itoa(b.Port)), nil
	}
	return 0, 0, "", fmt.Errorf("finding the leader of %s/%d: %w", r.topic, r.partition, errors.Join(errs...))
}

// outOfRange handles a fetch Kafka refused as out of range: an offset
// before the first one held moves to it; one past the end waits for data.
func (r *partitionReader) outOfRange(ctx context.Context) error {
	first, last, _, err := r.offsets(ctx)
	if err != nil {
		r.drop()
		return err
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

// drop closes the connection.
func (r *partitionReader) drop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn != nil {
		_ = r.conn.close()
		r.conn = nil
	}
}
