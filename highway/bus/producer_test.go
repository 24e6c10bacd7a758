package bus

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Keys must stay in the partitions kafka-go's Hash balancer put them in
// before the producer moved to kgo, or one station's records would sit in
// two partitions, out of order, after an upgrade.
func TestKeyPartitionMatchesKafkaGoHash(t *testing.T) {
	h := &kafka.Hash{}
	for _, n := range []int{1, 2, 3, 6, 12, 50} {
		parts := make([]int, n)
		for i := range parts {
			parts[i] = i
		}
		for i := range 2000 {
			key := []byte(fmt.Sprintf("AID%05d-%d", i, i*7919))
			want := h.Balance(kafka.Message{Key: key}, parts...)
			if got := KeyPartition(key, n); got != want {
				t.Fatalf("key %q among %d partitions: got %d, kafka-go's Hash says %d", key, n, got, want)
			}
		}
	}
}

func TestPartitionerPinsDeadLetters(t *testing.T) {
	tp := partitioner{}.ForTopic("t.dlq")
	r := pin(toRecord(Message{Topic: "t.dlq", Key: []byte("k")}), 5)
	if got := tp.Partition(r, 4); got != 1 {
		t.Errorf("a dead letter pinned to source partition 5 of a 4-partition DLQ went to %d, want 1", got)
	}
	keyed := &kgo.Record{Key: []byte("k")}
	if got, want := tp.Partition(keyed, 4), KeyPartition([]byte("k"), 4); got != want {
		t.Errorf("a keyed record went to %d, want %d", got, want)
	}
}

func TestUnsent(t *testing.T) {
	msgs := []Message{{Offset: 0}, {Offset: 1}, {Offset: 2}}
	if got := Unsent(msgs, nil); got != nil {
		t.Errorf("no error: %v unsent", got)
	}
	err := fmt.Errorf("poll: %w", &ProduceError{Topic: "t", Total: 3, Failed: []int{0, 2}, Err: kgo.ErrRecordTimeout})
	if got := Unsent(msgs, err); len(got) != 2 || got[0].Offset != 0 || got[1].Offset != 2 {
		t.Errorf("unsent %v, want messages 0 and 2", got)
	}
	if got := Unsent(msgs, kgo.ErrClientClosed); len(got) != 3 {
		t.Errorf("another error: %d unsent, want all 3", len(got))
	}
}

// ProduceSync's results come in completion order: a failure must be
// placed by its record, not by its place in the results, or a caller's
// retry resends written records and skips failed ones.
func TestFailedRecordsByRecord(t *testing.T) {
	recs := []*kgo.Record{{Value: []byte("a")}, {Value: []byte("b")}, {Value: []byte("c")}, {Value: []byte("d")}}
	at := map[*kgo.Record]int{}
	for i, r := range recs {
		at[r] = i
	}
	boom := errors.New("leader moved")
	results := kgo.ProduceResults{{Record: recs[3], Err: boom}, {Record: recs[0]}, {Record: recs[1], Err: boom}, {Record: recs[2]}}
	failed, first := failedRecords(results, at)
	if !slices.Equal(failed, []int{1, 3}) || first != boom {
		t.Fatalf("failed %v (%v), want [1 3]", failed, first)
	}
	if failed, first := failedRecords(kgo.ProduceResults{{Record: recs[0]}}, at); failed != nil || first != nil {
		t.Fatalf("no failure: %v %v", failed, first)
	}
}
