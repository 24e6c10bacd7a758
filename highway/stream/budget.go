package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Budget is one process's memory budget for what records occupy: fetched
// buffers, decoded batches and the dead letters of a batch waiting to be
// sent. A partition takes bytes from its feed's Account before it fetches
// (Acquire) and gives them back when its batch is written (Release); when the
// budget is spent, fetching waits and the backlog stays in Kafka.
//
// Fairness, in three tiers. Every account (one per feed) has a small
// reserve, Reserve bytes (less when the budget is too small for that),
// which no one else may borrow: room for a quiet feed's batches, so that it
// never waits, whatever the others do, even when their batches are stuck on
// a failing table. Up to its fair share, total / accounts, an account takes
// from what is free. Past its share it borrows what others leave unused,
// at most half of what is not reserved, and only while no account below
// its share waits: a feed draining a large backlog, or one whose records
// are all rejected, cannot take the whole budget, and gives way to the
// others as soon as its batches are written.
//
// A Budget is safe for concurrent use.
type Budget struct {
	total int64

	mu       sync.Mutex
	accounts map[*Account]struct{}
	share    int64 // total / accounts
	reserve  int64 // min(Reserve, share)
	// committed is the sum over accounts of max(used, reserve): the bytes
	// held or set aside, never more than total except by Charge.
	committed int64
	used      int64 // the sum of the accounts' used
	waiting   int   // Acquire calls blocked now
	needy     int   // of them, those within their account's share
	waits     int64
	// changed is closed (and replaced) whenever bytes are given back or
	// the shares change, to wake the Acquire calls that wait.
	changed chan struct{}
}

// BudgetStats is a snapshot of a Budget.
type BudgetStats struct {
	// Total is the budget; Used what the accounts hold now.
	Total, Used int64
	// Share is each account's fair share, Reserve what is set aside for
	// each, Accounts how many there are.
	Share, Reserve int64
	Accounts       int
	// Waiting is the Acquire calls blocked now; Waits how many ever blocked.
	Waiting int
	Waits   int64
}

// Reserve is what a budget sets aside for each account: room for the
// batches a quiet feed's partitions hold (a grant of minGrant while one
// waits for records, a small batch being written).
const Reserve = 4 * minGrant

// NewBudget returns a budget of total bytes (at least 1).
func NewBudget(total int64) *Budget {
	total = max(total, 1)
	return &Budget{total: total, accounts: map[*Account]struct{}{}, share: total, reserve: min(Reserve, total), changed: make(chan struct{})}
}

// Account is one feed's part of a Budget. Its methods are safe for
// concurrent use by the feed's partitions.
type Account struct {
	b    *Budget
	name string
	// used is what the account holds; needy counts its Acquire calls
	// waiting for bytes within its share. Guarded by b.mu.
	used  int64
	needy int
}

// Account opens an account named name (a feed's name, for messages) and
// recomputes every account's share.
func (b *Budget) Account(name string) *Account {
	a := &Account{b: b, name: name}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.accounts[a] = struct{}{}
	b.reshare()
	return a
}

// Close gives back what the account holds and closes it; the others' shares
// grow. An Acquire call of the account still waiting counts among those the
// borrowers give way to until it returns (its context ends): it takes
// itself off the count then, so Close leaves the count alone.
func (a *Account) Close() {
	b := a.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.accounts[a]; !ok {
		return
	}
	b.used -= a.used
	a.used = 0
	delete(b.accounts, a)
	b.reshare()
}

// reshare recomputes the share, reserve and committed bytes after the
// accounts changed, and wakes the waiters. b.mu is held.
func (b *Budget) reshare() {
	n := int64(max(len(b.accounts), 1))
	b.share = b.total / n
	b.reserve = min(Reserve, b.share)
	b.committed = 0
	for a := range b.accounts {
		b.committed += max(a.used, b.reserve)
	}
	b.wake()
}

func (b *Budget) wake() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// limit is the most one account may hold: its share, or half of what is
// not reserved when that is more. b.mu is held.
func (b *Budget) limit() int64 {
	free := b.total - int64(len(b.accounts))*b.reserve
	return max(b.share, b.reserve+free/2)
}

// fits says whether a may take n more bytes now. b.mu is held.
func (b *Budget) fits(a *Account, n int64) bool {
	after := a.used + n
	if after <= b.reserve {
		return true // its own, always
	}
	if after > b.limit() {
		return false
	}
	if after > b.share && b.needy-a.needy > 0 {
		return false // a borrower gives way to those below their share
	}
	return b.committed-max(a.used, b.reserve)+after <= b.total
}

// take adds n (negative: gives back) to a's bytes. b.mu is held.
func (b *Budget) take(a *Account, n int64) {
	b.committed += max(a.used+n, b.reserve) - max(a.used, b.reserve)
	a.used += n
	b.used += n
}

// Clamp returns n bounded to what one Acquire of the account can ever get:
// at least 1, at most the most one account may hold.
func (a *Account) Clamp(n int64) int64 {
	a.b.mu.Lock()
	defer a.b.mu.Unlock()
	return min(max(n, 1), a.b.limit())
}

// errAccountClosed is returned by an Acquire that was waiting when its
// account was closed.
var errAccountClosed = errors.New("the account is closed")

// Acquire waits until the account may take n bytes (clamped with Clamp) and
// takes them, returning how many it took. It returns ctx's error if ctx
// ends first, and errAccountClosed if the account is closed while it
// waits, having taken nothing.
func (a *Account) Acquire(ctx context.Context, n int64) (int64, error) {
	b := a.b
	b.mu.Lock()
	defer b.mu.Unlock()
	n = min(max(n, 1), b.limit())
	waiting, needy := false, false
	// setNeedy notes whether this call waits within its share.
	setNeedy := func(v bool) {
		if v == needy {
			return
		}
		d := 1
		if !v {
			d = -1
		}
		b.needy += d
		a.needy += d
		needy = v
	}
	defer func() {
		setNeedy(false)
		if waiting {
			b.waiting--
		}
	}()
	for {
		if _, open := b.accounts[a]; !open {
			return 0, fmt.Errorf("waiting for %d bytes of the memory budget for %s: %w", n, a.name, errAccountClosed)
		}
		if b.fits(a, n) {
			break
		}
		if !waiting {
			waiting = true
			b.waits++
			b.waiting++
		}
		setNeedy(a.used+n <= b.share)
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			b.mu.Lock()
			return 0, fmt.Errorf("waiting for %d bytes of the memory budget for %s: %w", n, a.name, ctx.Err())
		}
		b.mu.Lock()
		n = min(n, b.limit()) // the shares may have changed
	}
	b.take(a, n)
	return n, nil
}

// TryAcquire takes, without waiting, the most of n bytes that fits now,
// halving it down to least, and returns what it
// took: 0 when not even least fits. A partition that has records waits for
// nothing more than its first grant: what its batch would like beyond that
// it takes if it is there, so that no batch waits on bytes that quiet
// partitions hold.
func (a *Account) TryAcquire(n, least int64) int64 {
	b := a.b
	b.mu.Lock()
	defer b.mu.Unlock()
	for n = min(n, b.limit()); n >= max(least, 1); n /= 2 {
		if b.fits(a, n) {
			b.take(a, n)
			return n
		}
	}
	return 0
}

// Charge takes n bytes without waiting, past the budget if need be: for
// memory already in use (a fetch that brought more than was acquired, a
// decoded batch larger than its estimate). The next Acquire waits longer;
// the budget is exceeded by at most what is charged past it.
func (a *Account) Charge(n int64) {
	if n <= 0 {
		return
	}
	a.b.mu.Lock()
	defer a.b.mu.Unlock()
	a.b.take(a, n)
}

// Release gives back n bytes taken with Acquire or Charge.
func (a *Account) Release(n int64) {
	if n <= 0 {
		return
	}
	b := a.b
	b.mu.Lock()
	defer b.mu.Unlock()
	b.take(a, -min(n, a.used))
	b.wake()
}

// Used returns what the account holds.
func (a *Account) Used() int64 {
	a.b.mu.Lock()
	defer a.b.mu.Unlock()
	return a.used
}

// Stats returns a snapshot of the budget.
func (b *Budget) Stats() BudgetStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return BudgetStats{Total: b.total, Used: b.used, Share: b.share, Reserve: b.reserve, Accounts: len(b.accounts), Waiting: b.waiting, Waits: b.waits}
}
