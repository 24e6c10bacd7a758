// Package jobs runs the scheduler's analytics jobs on ClickHouse: the
// Runner writes a slot's query result keyed by slot and attempt (so a retry
// replaces the result instead of doubling it), and Watermarks tells the
// leader how far each input feed's data has arrived. The built-in jobs
// themselves are specs in highway/catalog/builtin/jobs.yaml.
package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/cityhighway/highway/analytics/scheduler"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/quality"
	"github.com/cityhighway/highway/highway/store"
)

// Runner runs job slots on ClickHouse. It is safe for concurrent use.
type Runner struct {
	store  *store.Store
	log    *slog.Logger
	ledger *quality.Ledger // runs QualityJob's slots (WithLedger)
}

// NewRunner returns a Runner writing through st.
func NewRunner(st *store.Store, log *slog.Logger) *Runner {
	if log == nil {
		log = slog.Default()
	}
	return &Runner{store: st, log: log}
}

// Run renders the job's SQL for the slot and writes its rows into the job's
// table, tagged with slot, attempt and node. After a retry it also deletes
// the earlier attempts' rows (in the background; the <table>_latest view
// hides them meanwhile).
func (r *Runner) Run(ctx context.Context, job *catalog.Job, run scheduler.Run) (int64, error) {
	if job.Name == QualityJobName && r.ledger != nil {
		rows, err := r.ledger.Run(ctx, run.Start, run.End, run.Attempt, run.Node)
		if err != nil {
			return rows, fmt.Errorf("job %s: %w", job.Name, err)
		}
		return rows, nil
	}
	rows, err := r.store.WriteSlot(ctx, job.Table, job.Render(run.Start, run.End), run.Start, run.Attempt, run.Node)
	if err != nil {
		return 0, fmt.Errorf("job %s: %w", job.Name, err)
	}
	if run.Attempt > 1 {
		if err := r.store.DropEarlierAttempts(ctx, job.Table, run.Start, run.Attempt); err != nil {
			r.log.Warn("cleaning up earlier attempts", "job", job.Name, "slot", run.Start, "err", err)
		}
	}
	return rows, nil
}

// Watermarks reads feed watermarks (the latest event time of a feed's
// table) for wait_for.
type Watermarks struct {
	store *store.Store
	cat   *catalog.Catalog
}

// NewWatermarks returns Watermarks over the feeds of cat.
func NewWatermarks(st *store.Store, cat *catalog.Catalog) *Watermarks {
	return &Watermarks{store: st, cat: cat}
}

// Watermark returns the latest event time in the feed's table; the zero
// time when the table is empty.
func (w *Watermarks) Watermark(ctx context.Context, feed string) (time.Time, error) {
	f := w.cat.Feed(feed)
	if f == nil {
		return time.Time{}, fmt.Errorf("no feed called %q", feed)
	}
	st, err := w.store.Stats(ctx, f)
	if err != nil {
		return time.Time{}, err
	}
	return st.LatestEvent, nil
}
