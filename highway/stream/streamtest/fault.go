package streamtest

import (
	"errors"

	"github.com/cityhighway/highway/highway/store"
)

// ErrInjected is the error of an insert failed by FailInserts.
var ErrInjected = errors.New("insert failed by an injected fault")

// faults are the insert failures a test asked for.
type faults struct {
	failNext int
	fault    InsertFault
	failed   int
}

// FailInserts makes the next n inserts that have rows to write fail with
// ErrInjected, landing nothing.
func (s *Tables) FailInserts(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.failNext = n
}

// InsertFault decides, for the rows an insert is about to write (those
// not already landed), which of them land before the insert fails; nil
// lets the insert through. It plays the part of store.InsertFault: a
// server killed between committing the months of one insert.
type InsertFault func(rows []Row) (land []bool)

// InjectInsertFault makes f decide the fate of every later insert; an
// insert f fails lands the rows it marks true (missing entries: not landed)
// and returns store.ErrInjectedFault. nil removes it. f is called with the
// Tables' lock held: it must not call the Tables.
func (s *Tables) InjectInsertFault(f InsertFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.fault = f
}

// FailedInserts returns how many inserts an injected fault has failed.
func (s *Tables) FailedInserts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.failed
}

// take decides the fate of an insert of rows: a nil
// error lets it through; otherwise land says which of rows land.
func (f *faults) take(rows []Row) (land []bool, err error) {
	if f.failNext > 0 {
		f.failNext--
		f.failed++
		return nil, ErrInjected
	}
	if f.fault == nil {
		return nil, nil
	}
	if land = f.fault(rows); land == nil {
		return nil, nil
	}
	f.failed++
	return land, store.ErrInjectedFault
}
