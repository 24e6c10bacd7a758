package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/record"
	"github.com/cityhighway/highway/highway/store"
)

// ceilingWriters is the concurrency of the ceiling: what highway does with
// two partitions (one insert at a time per partition). Its batch size is
// -ceiling-batch, by default highway's --max-rows default.
const ceilingWriters = 2

// ceiling is what ClickHouse takes of the same rows from memory.
type ceiling struct {
	Rate      int64         // store.InsertColumns, columns prepared beforehand
	ArrowRate int64         // store.Insert from pre-built Arrow batches
	Took      time.Duration // of Rate
	ArrowTook time.Duration
	CHCPU     time.Duration // clickhouse-server's CPU time during the InsertColumns run
	ClientCPU time.Duration // this process's CPU time then (clickhouse-go's encoding)
	Load      string
}

// ceilingData is the run's rows in memory: Arrow batches of -ceiling-batch
// rows as the processor's decoder makes them, their provenance, and the
// clickhouse-go columns prepared from them.
type ceilingData struct {
	rows    int
	recs    []arrow.RecordBatch
	provs   []store.Provenance
	cols    []*store.Columns
	prepare time.Duration
}

// release frees the Arrow batches.
func (d *ceilingData) release() {
	if d == nil {
		return
	}
	for _, r := range d.recs {
		r.Release()
	}
	d.recs, d.cols = nil, nil
}

// prepareCeiling decodes records [0, n) and prepares their columns.
func (e *env) prepareCeiling(n int) (*ceilingData, error) {
	began := time.Now()
	feed := e.feeds[roleCeiling]
	recs, provs, err := e.arrowBatches(n, feed)
	if err != nil {
		return nil, err
	}
	d := &ceilingData{rows: n, recs: recs, provs: provs, cols: make([]*store.Columns, len(recs))}
	for i := range recs {
		if d.cols[i], err = store.PrepareColumns(feed, recs[i], provs[i]); err != nil {
			d.release()
			return nil, err
		}
	}
	d.prepare = time.Since(began)
	e.log.Info("ceiling: batches ready in memory", "batches", len(recs), "rows", n, "took", d.prepare.Round(time.Millisecond))
	return d, nil
}

// measureCeiling inserts the prepared rows twice with ceilingWriters
// concurrent writers, each time into a new table of the same shape: once from
// prepared clickhouse-go columns (the ceiling as the issue defines it:
// clickhouse-go's columnar batch, no per-row work left) and once through
// store.Insert from the Arrow batches (highway's own native-protocol insert,
// which ClickHouse takes faster: reported as a stricter yardstick).
func (e *env) measureCeiling(ctx context.Context, d *ceilingData) (ceiling, error) {
	var c ceiling
	feedCols, feedArrow := e.feeds[roleCeiling], e.feeds[roleCeilArrow]
	for _, f := range []*catalog.Feed{feedCols, feedArrow} {
		if err := e.dropTable(ctx, f.Table()); err != nil {
			return c, err
		}
		if err := e.store.EnsureFeedTable(ctx, f); err != nil {
			return c, err
		}
	}
	// The data stays live throughout; keep the collector out of the timings.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	runtime.GC()
	meter, self := newCPUMeter(e.o.chPIDFile), selfCPUMeter()
	var err error
	c.Took, err = insertAll(ctx, len(d.cols), func(i int) error { return e.store.InsertColumns(ctx, feedCols, d.cols[i]) })
	if err != nil {
		return c, err
	}
	c.CHCPU, c.ClientCPU = meter.since(), self.since()
	c.Rate = rate(int64(d.rows), c.Took)
	c.Load = loadavg()
	e.log.Info("ceiling: prepared columns inserted", "rows", d.rows, "took", c.Took.Round(time.Millisecond), "rate", c.Rate, "clickhouse_cpu", c.CHCPU.Round(time.Millisecond), "load", c.Load)
	e.quiesce(ctx)

	runtime.GC()
	c.ArrowTook, err = insertAll(ctx, len(d.recs), func(i int) error { return e.store.Insert(ctx, feedArrow, d.recs[i], d.provs[i]) })
	if err != nil {
		return c, err
	}
	c.ArrowRate = rate(int64(d.rows), c.ArrowTook)
	e.log.Info("ceiling: store.Insert from Arrow", "rows", d.rows, "took", c.ArrowTook.Round(time.Millisecond), "rate", c.ArrowRate, "load", loadavg())

	for _, f := range []*catalog.Feed{feedCols, feedArrow} {
		got, err := e.rows(ctx, f.Table())
		if err != nil {
			return c, err
		}
		if got != int64(d.rows) {
			return c, fmt.Errorf("ceiling table %s holds %d rows, want %d", f.Table(), got, d.rows)
		}
	}
	return c, nil
}

// insertAll runs insert(0..count-1) on ceilingWriters goroutines and returns
// the wall time.
func insertAll(ctx context.Context, count int, insert func(i int) error) (time.Duration, error) {
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		mu      sync.Mutex
		failure error
	)
	began := time.Now()
	for w := 0; w < ceilingWriters; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= count {
					return
				}
				if err := insert(i); err != nil {
					mu.Lock()
					failure = err
					mu.Unlock()
					next.Store(int64(count)) // stop the others
					return
				}
			}
		}()
	}
	wg.Wait()
	if failure != nil {
		return 0, failure
	}
	return time.Since(began), ctx.Err()
}

// arrowBatches decodes records [0, n) into Arrow batches of -ceiling-batch
// rows with the processor's decoder. Batch j is attributed to partition j
// mod the run's partitions, offsets counting up, like highway's batches.
func (e *env) arrowBatches(n int, feed *catalog.Feed) ([]arrow.RecordBatch, []store.Provenance, error) {
	size := e.o.ceilBatch
	count := (n + size - 1) / size
	recs := make([]arrow.RecordBatch, count)
	provs := make([]store.Provenance, count)
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		mu      sync.Mutex
		failure error
	)
	now := time.Now()
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dec := record.NewDecoder(feed)
			defer dec.Release()
			for {
				j := int(next.Add(1)) - 1
				if j >= count {
					return
				}
				from, to := j*size, min((j+1)*size, n)
				prov := store.Provenance{Topic: feed.Topic(), IngestedAt: now}
				for i, m := range e.gen.records(from, to, feed.Topic()) {
					if err := dec.Append(m.Value); err != nil {
						mu.Lock()
						failure = fmt.Errorf("decoding record %d for the ceiling: %w", from+i, err)
						mu.Unlock()
						return
					}
					prov.Partitions = append(prov.Partitions, int32(j%e.o.partitions))
					prov.Offsets = append(prov.Offsets, int64(j/e.o.partitions*size+i))
				}
				recs[j], provs[j] = dec.NewRecordBatch(), prov
			}
		}()
	}
	wg.Wait()
	if failure != nil {
		for _, r := range recs {
			if r != nil {
				r.Release()
			}
		}
		return nil, nil, failure
	}
	return recs, provs, nil
}
