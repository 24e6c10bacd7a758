//go:build integration

package stream_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/envelope"
	"github.com/cityhighway/highway/highway/store"
)

// produceAcrossMonths writes n good records whose event times alternate
// between the last day of October and the first of November, so that every
// micro-batch spans two partitions (months) of the feed's table.
func (r *rig) produceAcrossMonths(t *testing.T, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	oct := time.Date(2026, 10, 31, 12, 0, 0, 0, time.UTC)
	nov := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	msgs := make([]bus.Message, n)
	for i := range msgs {
		at := oct
		if (i/10)%2 == 1 { // each station alternates between the months
			at = nov
		}
		station := "S" + strconv.Itoa(i%10)
		v := fmt.Sprintf(`{"station":%q,"value":%d,"at":%q}`, station, i%100, at.Add(time.Duration(i)*time.Second).Format(time.RFC3339))
		msgs[i] = bus.Message{Topic: r.feed.Topic(), Key: []byte(station), Value: []byte(v)}
	}
	if err := r.prod.Produce(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

// partialInserts is an InsertFault that, for the first `times` batches that
// span two months, lets only the rows of one month land and fails the
// insert, as a ClickHouse killed between committing the parts of one
// insert leaves it. lastMonth picks the month of the batch's last row (the
// one that carries the batch's highest offset into the table) or the other.
func partialInserts(times int, lastMonth bool, after func()) store.InsertFault {
	var mu sync.Mutex
	return func(feed *catalog.Feed, rec arrow.RecordBatch, prov store.Provenance) []bool {
		mu.Lock()
		defer mu.Unlock()
		n := int(rec.NumRows())
		if times == 0 || n < 2 {
			return nil
		}
		at := rec.Column(feed.FieldIndex(feed.EventTime)).(*array.Timestamp)
		month := func(i int) time.Month { return time.UnixMilli(int64(at.Value(i))).UTC().Month() }
		pick := month(n - 1)
		land := make([]bool, n)
		mixed := false
		for i := range land {
			if month(i) != pick {
				mixed = true
			}
			land[i] = month(i) == pick
			if !lastMonth {
				land[i] = !land[i]
			}
		}
		if !mixed {
			return nil
		}
		times--
		if after != nil {
			after()
		}
		return land
	}
}

// Every offset of a batch is in the table exactly once after an insert that
// landed in part, whichever month landed, whether the same processor
// retries or another one takes the partition over after a crash.
func TestPartialInsertLandsOnce(t *testing.T) {
	cases := []struct {
		name      string
		lastMonth bool
		crash     bool
	}{
		{"retry, the month with the batch's last offset landed", true, false},
		{"retry, the other month landed", false, false},
		{"crash, the month with the batch's last offset landed", true, true},
		{"crash, the other month landed", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			const n = 2400
			r.produceAcrossMonths(t, n)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			after := func() {}
			if tc.crash {
				after = cancel // the processor dies right after the insert landed in part
			}
			r.store.InjectInsertFault(partialInserts(2, tc.lastMonth, after))
			if tc.crash {
				if err := r.processor(t, nil).Run(ctx); err != nil {
					t.Fatal(err)
				}
				r.store.InjectInsertFault(nil)
				if rows, _ := r.count(t); rows == 0 || rows >= n {
					t.Fatalf("after the crash the table has %d rows; want some but not all", rows)
				}
				ctx, cancel = context.WithCancel(context.Background())
				defer cancel()
			}
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := r.processor(t, nil).Run(ctx); err != nil {
					t.Errorf("processor: %v", err)
				}
			}()
			deadline := time.Now().Add(30 * time.Second)
			for {
				if _, distinct := r.count(t); distinct == n || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			time.Sleep(time.Second) // a duplicate would land by now
			cancel()
			wg.Wait()
			rows, distinct := r.count(t)
			if rows != n || distinct != n {
				t.Fatalf("rows=%d distinct offsets=%d, want %d of each: %d lost, %d doubled", rows, distinct, n, n-int(distinct), int(rows)-int(distinct))
			}
		})
	}
}

// A reject is in the dead-letter topic once although the processor sent it
// and died before the rows of its batch landed: the next owner of the
// partition re-reads the batch but leaves out the rejects the topic holds.
func TestDeadLettersOnceThroughACrash(t *testing.T) {
	r := newRig(t)
	const n = 1200
	bad := []string{`{"station":"X","value":500,"at":"2026-11-26T00:00:00Z"}`, `{"station":"Y","at":"not a time"}`}
	r.produce(t, n, bad, 50)
	wantBad := n / 50
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	r.store.InjectInsertFault(func(_ *catalog.Feed, rec arrow.RecordBatch, _ store.Provenance) []bool {
		var land []bool
		if rec.NumRows() < 100 {
			return nil // a batch this small may have no reject in it
		}
		once.Do(func() {
			land = make([]bool, rec.NumRows()) // nothing lands: the server died before the first part
			cancel()
		})
		return land
	})
	if err := r.processor(t, nil).Run(ctx); err != nil {
		t.Fatal(err)
	}
	r.store.InjectInsertFault(nil)
	if rows, _ := r.count(t); rows >= n {
		t.Fatalf("after the crash the table has %d rows; want fewer than %d", rows, n)
	}
	stop := start(t, r.processor(t, nil))
	r.waitRows(t, n)
	time.Sleep(time.Second)
	stop()

	msgs, err := r.bus.ReadAll(context.Background(), r.feed.DLQTopic())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, m := range msgs {
		seen[string(m.Header(envelope.HeaderSourcePartition))+"@"+string(m.Header(envelope.HeaderSourceOffset))]++
	}
	twice := 0
	for at, k := range seen {
		if k > 1 {
			twice++
			t.Errorf("reject of %s is in the dead-letter topic %d times", at, k)
		}
	}
	if len(seen) != wantBad || len(msgs) != wantBad {
		t.Errorf("the dead-letter topic holds %d rejects of %d records, want %d of %d (%d twice)", len(msgs), len(seen), wantBad, wantBad, twice)
	}
}
