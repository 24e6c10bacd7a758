package quality

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// DefaultBucket is the ledger's bucket when Config leaves it out.
const DefaultBucket = time.Hour

// Offsets reads the end offsets of a topic's partitions: *bus.Bus.
type Offsets interface {
	EndOffsets(ctx context.Context, topic string) (map[int]int64, error)
}

// Config configures a Ledger.
type Config struct {
	Store   *store.Store
	Catalog *catalog.Catalog
	// Offsets measures the feeds' topics for the reconciliation; nil leaves
	// the reconciliation out.
	Offsets Offsets
	// Bucket is the length of a ledger bucket, the job's slot (default
	// DefaultBucket).
	Bucket time.Duration
	// Speed divides the feeds' intervals (highway dev --speed; default 1).
	Speed float64
	// Now is the clock of the offsets' measurements (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Ledger writes the ledger's rows of one bucket for every feed. It is safe
// for concurrent use (the scheduler runs one slot at a time by default).
type Ledger struct {
	cfg   Config
	feeds map[string]*catalog.Feed
}

// NewLedger returns a Ledger; it fills Config's defaults.
func NewLedger(cfg Config) *Ledger {
	if cfg.Bucket <= 0 {
		cfg.Bucket = DefaultBucket
	}
	if cfg.Speed <= 0 {
		cfg.Speed = 1
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	feeds := map[string]*catalog.Feed{}
	for _, f := range cfg.Catalog.Feeds() {
		feeds[f.Name] = f
	}
	return &Ledger{cfg: cfg, feeds: feeds}
}

// Bucket is the ledger's bucket length.
func (l *Ledger) Bucket() time.Duration { return l.cfg.Bucket }

// Interval is a feed's cadence as the ledger judges it: its interval over
// the speed, at least a second.
func (l *Ledger) Interval(f *catalog.Feed) time.Duration {
	return max(time.Duration(float64(f.Interval)/l.cfg.Speed), time.Second)
}

// Run computes and writes the rows of bucket [start, end) of every feed as
// the given attempt, and returns how many it wrote. A feed that fails does
// not stop the others; the errors are returned together (and the slot is
// retried whole).
func (l *Ledger) Run(ctx context.Context, start, end time.Time, attempt int, node string) (int64, error) {
	if err := l.cfg.Store.EnsureQualityTables(ctx); err != nil {
		return 0, err
	}
	var rows []store.QualityRow
	var errs []error
	for _, f := range l.cfg.Catalog.Feeds() {
		r, err := l.bucket(ctx, f, start, end, attempt)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.Name, err))
			continue
		}
		rows = append(rows, r)
	}
	if len(rows) > 0 {
		if err := l.cfg.Store.WriteQuality(ctx, l.feeds, rows, attempt, node); err != nil {
			return 0, err
		}
	}
	return int64(len(rows)), errors.Join(errs...)
}

func (l *Ledger) bucket(ctx context.Context, f *catalog.Feed, start, end time.Time, attempt int) (store.QualityRow, error) {
	st := l.cfg.Store
	iv := l.Interval(f)
	agg, err := st.AggregateBucket(ctx, f, start, end, iv, 2*iv)
	if err != nil {
		return store.QualityRow{}, err
	}
	rejects, err := st.CountDeadLetters(ctx, f.Name, start, end)
	if err != nil {
		return store.QualityRow{}, err
	}
	b := l.cfg.Bucket
	history, err := st.ReadQuality(ctx, f, start.Add(-24*b), start)
	if err != nil {
		return store.QualityRow{}, err
	}
	var days []time.Time
	for d := 1; d <= 7; d++ {
		days = append(days, start.Add(-time.Duration(d)*24*time.Hour))
	}
	base, err := st.QualityAt(ctx, f, days)
	if err != nil {
		return store.QualityRow{}, err
	}
	if len(base) == 0 && len(history) > 0 {
		base = history[max(0, len(history)-7):]
	}
	in := Input{Feed: f, Start: start, End: end, Interval: iv, Agg: agg, Rejects: rejects, History: history, Baseline: base}
	if l.cfg.Offsets != nil {
		if in.Reconciliation, err = l.reconcile(ctx, f, start, attempt); err != nil {
			return store.QualityRow{}, err
		}
	}
	return Compute(in), nil
}
