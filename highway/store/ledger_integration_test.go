//go:build integration

package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/record"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/internal/testenv"
)

// The ledger keeps the highest offset written per partition, and Landed
// and InsertMissing see rows by (offset, month): a batch whose October
// rows landed gets only its November rows inserted again.
func TestLedgerAndInsertMissing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := testenv.Store(t)
	feed := testenv.FeedTable(t, st, specV1)
	res, err := st.ResumePoint(ctx, feed, "test.readings", 0)
	if err != nil || res.HasLedger || res.HasRows {
		t.Fatalf("a new partition: %+v, %v; want nothing", res, err)
	}
	for _, next := range []int64{10, 40, 25} { // a late writer's older entry does not win
		if err := st.RecordProgress(ctx, "test.readings", 0, next); err != nil {
			t.Fatal(err)
		}
	}
	if res, err = st.ResumePoint(ctx, feed, "test.readings", 0); err != nil || !res.HasLedger || res.Ledger != 40 {
		t.Fatalf("after entries 10, 40, 25: %+v, %v; want ledger 40", res, err)
	}

	dec := record.NewDecoder(feed)
	defer dec.Release()
	times := []string{"2026-10-31T12:00:00Z", "2026-11-01T12:00:00Z", "2026-10-31T13:00:00Z", "2026-11-01T13:00:00Z"}
	prov := store.Provenance{Topic: "test.readings", IngestedAt: time.Now()}
	for i, at := range times {
		if err := dec.Append([]byte(`{"station":"S","count":1,"at":"` + at + `"}`)); err != nil {
			t.Fatal(err)
		}
		prov.Partitions = append(prov.Partitions, 0)
		prov.Offsets = append(prov.Offsets, int64(100+i))
	}
	rec := dec.NewRecordBatch()
	defer rec.Release()
	st.InjectInsertFault(func(_ *catalog.Feed, rec arrow.RecordBatch, _ store.Provenance) []bool {
		return []bool{true, false, true, false} // October lands, November does not
	})
	if _, _, err := st.InsertMissing(ctx, feed, rec, prov, nil); err == nil {
		t.Fatal("the faulted insert succeeded")
	}
	st.InjectInsertFault(nil)
	landed, err := st.Landed(ctx, feed, "test.readings", 0, 100, 104)
	if err != nil {
		t.Fatal(err)
	}
	if len(landed) != 2 {
		t.Fatalf("landed = %v, want offsets 100 and 102 in October", landed)
	}
	inserted, skipped, err := st.InsertMissing(ctx, feed, rec, prov, landed)
	if err != nil || inserted != 2 || skipped != 2 {
		t.Fatalf("InsertMissing = %d inserted, %d skipped, %v; want 2 and 2", inserted, skipped, err)
	}
	var rows, distinct uint64
	if err := st.QueryRow(ctx, []any{&rows, &distinct}, "SELECT count(), uniqExact(_offset) FROM test_readings"); err != nil {
		t.Fatal(err)
	}
	if rows != 4 || distinct != 4 {
		t.Fatalf("the table has %d rows of %d offsets, want 4 of 4", rows, distinct)
	}
}
