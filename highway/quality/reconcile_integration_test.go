//go:build integration

package quality_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/quality"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/highway/stream"
	"github.com/cityhighway/highway/internal/testenv"
	"github.com/cityhighway/highway/internal/testenv/feedenv"
)

// droppingSink is the fault hook: a store that silently loses the rows of
// the messages at the offsets in drop, as a broken writer between Kafka and
// ClickHouse would.
type droppingSink struct {
	*store.Store
	drop func(offset int64) bool
}

func (d *droppingSink) InsertMissing(ctx context.Context, feed *catalog.Feed, rec arrow.RecordBatch, prov store.Provenance, landed store.Landed) (inserted, skipped int, err error) {
	n := int(rec.NumRows())
	for i := 0; i < n; {
		if d.drop(prov.Offsets[i]) {
			i++
			continue
		}
		j := i
		for j < n && !d.drop(prov.Offsets[j]) {
			j++
		}
		part := rec.NewSlice(int64(i), int64(j))
		in, sk, err := d.Store.InsertMissing(ctx, feed, part, sliceProvenance(prov, i, j), landed)
		part.Release()
		inserted, skipped = inserted+in, skipped+sk
		if err != nil {
			return inserted, skipped, err
		}
		i = j
	}
	return inserted, skipped, nil
}

func sliceProvenance(p store.Provenance, i, j int) store.Provenance {
	cut := func(s []int64) []int64 {
		if s == nil {
			return nil
		}
		return s[i:j]
	}
	out := p
	out.Offsets, out.FetchedAt = cut(p.Offsets), cut(p.FetchedAt)
	if p.Partitions != nil {
		out.Partitions = p.Partitions[i:j]
	}
	if p.Sources != nil {
		out.Sources = p.Sources[i:j]
	}
	if p.ETags != nil {
		out.ETags = p.ETags[i:j]
	}
	if p.SchemaVersions != nil {
		out.SchemaVersions = p.SchemaVersions[i:j]
	}
	return out
}

// Records dropped between Kafka and ClickHouse on purpose are a
// reconciliation error in the ledger within two buckets of their arrival,
// in its Prometheus gauge too; a reject the processor dead-letters is not.
func TestReconciliationSeesDroppedRecords(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := "it.recon." + strings.ReplaceAll(testenv.Name("f"), "_", "")
	cat, err := catalog.Parse("recon.yaml", []byte(`kind: feed
name: `+name+`
department: TEST
fields:
  - {name: id, type: string, required: true}
  - {name: v, type: int64, max: 100}
  - {name: at, type: time, required: true}
key: [id]
event_time: at
interval: 1m
`))
	if err != nil {
		t.Fatal(err)
	}
	feed := cat.Feed(name)
	b, st := feedenv.Open(t, feed)
	if err := st.EnsureQualityTables(ctx); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	prod := b.NewProducer()
	defer prod.Close()
	sink := &droppingSink{Store: st, drop: func(o int64) bool { return o >= 20 && o < 25 }}
	stop := feedenv.Pipeline(ctx, t, b, sink, st, stream.Config{Feed: feed, MaxRows: 7, MaxWait: 50 * time.Millisecond, Logger: quiet}, name)
	defer stop()

	bucket := time.Hour
	b0 := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	ledger := quality.NewLedger(quality.Config{Store: st, Catalog: cat, Offsets: b, Bucket: bucket, Logger: quiet})
	runBucket := func(k int) {
		t.Helper()
		start := b0.Add(time.Duration(k) * bucket)
		if _, err := ledger.Run(ctx, start, start.Add(bucket), 1, "n1"); err != nil {
			t.Fatal(err)
		}
	}
	runBucket(0) // measures the empty topic

	// 50 messages: offsets 20-24 are lost on the way, offset 30 is
	// rejected (v above 100) and dead-lettered.
	var msgs []bus.Message
	for i := range 50 {
		v := i
		if i == 30 {
			v = 500
		}
		msgs = append(msgs, bus.Message{Topic: feed.Topic(), Key: []byte(fmt.Sprint(i)),
			Value: []byte(fmt.Sprintf(`{"id": "r%d", "v": %d, "at": %d}`, i, v, b0.Add(time.Duration(i)*time.Second).UnixMilli()))})
	}
	if err := prod.Produce(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var rows, dead uint64
		if err := st.QueryRow(ctx, []any{&rows}, "SELECT count() FROM "+feed.Table()); err != nil {
			t.Fatal(err)
		}
		if err := st.QueryRow(ctx, []any{&dead}, fmt.Sprintf("SELECT count() FROM %s.%s WHERE feed = '%s'", store.RestrictedDatabase(st.Database()), store.DeadLetterTable, name)); err != nil {
			t.Fatal(err)
		}
		if rows == 44 && dead == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d rows and %d dead letters, want 44 and 1", rows, dead)
		}
		time.Sleep(200 * time.Millisecond)
	}
	runBucket(1) // the messages arrived between the runs of buckets 0 and 1
	runBucket(2) // which bucket 2 reconciles

	rows, err := st.ReadQuality(ctx, feed, b0, b0.Add(3*bucket))
	if err != nil || len(rows) != 3 {
		t.Fatalf("ledger: %v, %v", rows, err)
	}
	if rows[0].Reconciliation != nil || rows[1].Reconciliation != nil {
		t.Errorf("buckets 0 and 1 have no two runs before them, yet reconcile: %+v, %+v", rows[0].Reconciliation, rows[1].Reconciliation)
	}
	rc := rows[2].Reconciliation
	if rc == nil || rc.Messages != 50 || rc.Stored != 44 || rc.DeadLettered != 1 || rc.InFlight != 0 || rc.Unexplained != 5 || rc.Source != 50 {
		t.Fatalf("bucket 2 reconciliation %+v, want 50 messages, 44 stored, 1 dead-lettered, 5 unexplained", rc)
	}
	if rows[2].Parts.Consistency != 0.9 {
		t.Errorf("consistency %v, want 1 - 5/50", rows[2].Parts.Consistency)
	}

	// The gauges say so, from any process that reads the ledger (the part is
	// the mean over the three buckets: (1 + 1 + 0.9) / 3).
	reg := prometheus.NewRegistry()
	reg.MustRegister(quality.NewCollector(&quality.Reader{Store: st}, cat.Feeds, 10*time.Second, quiet))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				if l.GetName() == "part" {
					key += "/" + l.GetValue()
				}
			}
			got[key] = m.GetGauge().GetValue()
		}
	}
	if got["highway_quality_reconciliation_unexplained"] != 5 || got["highway_quality_part/consistency"] != 0.9667 || got["highway_quality_ledger_up"] != 1 {
		t.Errorf("gauges %v", got)
	}
}
