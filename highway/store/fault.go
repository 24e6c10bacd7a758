package store

import (
	"context"
	"errors"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/cityhighway/highway/highway/catalog"
)

// InsertFault decides, for a batch about to be inserted, which of its rows
// land before the insert fails; nil lets the insert through untouched. It
// stands in for a ClickHouse server killed, or a connection cut, in the
// middle of an insert: ClickHouse commits each month (table partition) of
// an insert block on its own, so some months of a batch may be written and
// others not. Tests of exactly-once set one with InjectInsertFault; nothing
// else does.
type InsertFault func(feed *catalog.Feed, rec arrow.RecordBatch, prov Provenance) (land []bool)

// ErrInjectedFault is the error of an insert failed by an InsertFault.
var ErrInjectedFault = errors.New("insert failed by an injected fault after landing in part")

// InjectInsertFault makes f decide the fate of every later Insert (nil
// removes it). It is safe to call while inserts run.
func (s *Store) InjectInsertFault(f InsertFault) {
	if f == nil {
		s.fault.Store(nil)
		return
	}
	s.fault.Store(&f)
}

// injectedFault applies the InsertFault, if any, to a batch: it inserts the
// rows the fault lets land (whatever ctx says since: the server has them)
// and reports whether it failed the insert.
func (s *Store) injectedFault(ctx context.Context, feed *catalog.Feed, rec arrow.RecordBatch, prov Provenance) (bool, error) {
	f := s.fault.Load()
	if f == nil {
		return false, nil
	}
	land := (*f)(feed, rec, prov)
	if land == nil {
		return false, nil
	}
	land = append(land, make([]bool, max(int(rec.NumRows())-len(land), 0))...) // missing: not landed
	sub := filterRows(rec, land)
	defer sub.Release()
	if sub.NumRows() > 0 {
		if err := s.insert(context.WithoutCancel(ctx), feed, sub, prov.filter(land)); err != nil {
			return true, err
		}
	}
	return true, ErrInjectedFault
}
