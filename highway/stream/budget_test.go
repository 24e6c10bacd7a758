package stream

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// budgetStep is one operation on a budget's accounts: account acct
// acquires (without waiting: the test says whether it must fit), charges or
// releases n half-reserves (Reserve/2 bytes), or an account opens or closes.
type budgetStep struct {
	op   string // acquire, charge, release, open, close
	acct int
	n    int64
	fits bool // for acquire: whether it succeeds at once
}

// half is the unit of the budget tests: half a reserve.
const half = Reserve / 2

func TestBudgetTiers(t *testing.T) {
	tests := []struct {
		name     string
		total    int64 // in halves
		accounts int
		steps    []budgetStep
		used     int64 // in halves
	}{
		{"one account takes the whole budget", 20, 1, []budgetStep{
			{op: "acquire", n: 20, fits: true},
			{op: "acquire", n: 1, fits: false},
			{op: "release", n: 2},
			{op: "acquire", n: 2, fits: true},
		}, 20},
		{"borrowing: at most half of what is not reserved", 20, 4, []budgetStep{
			// share 5, reserve 2, limit 2 + (20-8)/2 = 8
			{op: "acquire", acct: 0, n: 8, fits: true},
			{op: "acquire", acct: 0, n: 1, fits: false}, // its limit
			{op: "acquire", acct: 1, n: 8, fits: true},  // 8 + 8 + 2 + 2 committed
			{op: "acquire", acct: 2, n: 3, fits: false}, // the others' reserves are set aside
			{op: "acquire", acct: 2, n: 2, fits: true},
			{op: "acquire", acct: 3, n: 2, fits: true},
		}, 20},
		{"a reserve fits whatever the others hold", 20, 4, []budgetStep{
			{op: "acquire", acct: 0, n: 8, fits: true},
			{op: "charge", acct: 0, n: 40}, // a batch far larger than its grant
			{op: "acquire", acct: 1, n: 2, fits: true},
			{op: "acquire", acct: 1, n: 1, fits: false},
			{op: "acquire", acct: 2, n: 2, fits: true},
			{op: "release", acct: 0, n: 48},
			{op: "acquire", acct: 1, n: 3, fits: true},
		}, 7},
		{"a closed account's share goes to the others", 20, 2, []budgetStep{
			{op: "acquire", acct: 0, n: 10, fits: true}, // share 10, limit 2 + 16/2 = 10
			{op: "acquire", acct: 0, n: 1, fits: false},
			{op: "close", acct: 1},
			{op: "acquire", acct: 0, n: 10, fits: true},
		}, 20},
		{"a new account's reserve is set aside at once", 20, 1, []budgetStep{
			{op: "acquire", acct: 0, n: 19, fits: true},
			{op: "open"}, // account 1: share 10, reserve 2; committed 21
			{op: "acquire", acct: 1, n: 2, fits: true},
			{op: "acquire", acct: 1, n: 1, fits: false},
			{op: "release", acct: 0, n: 10},
			{op: "acquire", acct: 1, n: 8, fits: true},
		}, 19},
		{"a budget too small for the reserves reserves the shares", 4, 4, []budgetStep{
			{op: "acquire", acct: 0, n: 1, fits: true},
			{op: "acquire", acct: 0, n: 1, fits: false},
			{op: "acquire", acct: 3, n: 1, fits: true},
		}, 2},
		{"a release of more than is held gives back what is held", 20, 1, []budgetStep{
			{op: "acquire", acct: 0, n: 6, fits: true},
			{op: "release", acct: 0, n: 16},
			{op: "acquire", acct: 0, n: 20, fits: true},
		}, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBudget(tt.total * half)
			var accts []*Account
			for range tt.accounts {
				accts = append(accts, b.Account("feed"))
			}
			for i, s := range tt.steps {
				switch s.op {
				case "open":
					accts = append(accts, b.Account("feed"))
				case "close":
					accts[s.acct].Close()
				case "charge":
					accts[s.acct].Charge(s.n * half)
				case "release":
					accts[s.acct].Release(s.n * half)
				case "acquire":
					ctx, cancel := context.WithCancel(context.Background())
					cancel() // fits at once or not at all
					got, err := accts[s.acct].Acquire(ctx, s.n*half)
					if s.fits && (err != nil || got != s.n*half) {
						t.Fatalf("step %d: acquire %d halves by account %d: got %d bytes, %v; want it to fit", i, s.n, s.acct, got, err)
					}
					if !s.fits && !errors.Is(err, context.Canceled) {
						t.Fatalf("step %d: acquire %d halves by account %d: got %d bytes, %v; want it to wait", i, s.n, s.acct, got, err)
					}
				}
			}
			if st := b.Stats(); st.Used != tt.used*half {
				t.Fatalf("used %d halves, want %d (%+v)", st.Used/half, tt.used, st)
			}
		})
	}
}

// TestBudgetBorrowerGivesWay: while an account below its share waits, a
// borrower takes nothing more, even where it would fit; the bytes given back
// go to the one waiting.
func TestBudgetBorrowerGivesWay(t *testing.T) {
	b := NewBudget(20 * half) // 4 accounts: share 5, reserve 2, limit 8
	backlog, storm, quiet := b.Account("backlog"), b.Account("storm"), b.Account("quiet")
	b.Account("idle")
	ctx := context.Background()
	for _, a := range []*Account{backlog, storm} {
		if _, err := a.Acquire(ctx, 8*half); err != nil { // committed 8 + 8 + 2 + 2
			t.Fatal(err)
		}
	}
	got := make(chan error, 1)
	go func() {
		_, err := quiet.Acquire(ctx, 5*half) // its share: 3 more than its reserve
		got <- err
	}()
	waitFor(t, func() bool { return b.Stats().Waiting == 1 })
	backlog.Release(2 * half) // committed 18: not enough for the quiet feed's 3 yet
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := backlog.Acquire(cancelled, half); err == nil { // 7 > share 5: borrowing
		t.Fatal("the borrower took bytes while a feed below its share waited")
	}
	storm.Release(half)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.Used != 18*half || st.Waiting != 0 || st.Waits != 2 {
		t.Fatalf("stats %+v, want used 18 halves, no one waiting, two waits (the quiet feed's, the borrower's)", st)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestBudgetWaitsForRelease: an Acquire that does not fit waits until
// bytes are given back, and is counted while it waits.
func TestBudgetWaitsForRelease(t *testing.T) {
	b := NewBudget(100)
	a := b.Account("backlog")
	if _, err := a.Acquire(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	got := make(chan int64)
	go func() {
		n, err := a.Acquire(context.Background(), 40)
		if err != nil {
			t.Error(err)
		}
		got <- n
	}()
	waitFor(t, func() bool { return b.Stats().Waiting == 1 })
	select {
	case n := <-got:
		t.Fatalf("Acquire returned %d before any release", n)
	default:
	}
	a.Release(60)
	if n := <-got; n != 40 {
		t.Fatalf("acquired %d, want 40", n)
	}
	if st := b.Stats(); st.Used != 80 || st.Waiting != 0 || st.Waits != 1 {
		t.Fatalf("stats %+v, want used 80, no one waiting, one wait", st)
	}
}

// TestBudgetClamp: a request larger than an account may ever hold is cut
// to what it may hold, so it never waits forever.
func TestBudgetClamp(t *testing.T) {
	tests := []struct {
		total    int64 // in halves
		accounts int
		want     int64 // in halves
	}{
		{20, 1, 20},
		{20, 2, 10},
		{20, 4, 8},
		{20, 10, 2},
		{20, 40, 0}, // half a half: the share
	}
	for _, tt := range tests {
		b := NewBudget(tt.total * half)
		var a *Account
		for range tt.accounts {
			a = b.Account("feed")
		}
		want := max(tt.want*half, tt.total*half/int64(tt.accounts))
		if got := a.Clamp(1 << 40); got != want {
			t.Errorf("total %d halves, %d accounts: clamp %d, want %d", tt.total, tt.accounts, got, want)
		}
		n, err := a.Acquire(context.Background(), 1<<40)
		if err != nil || n != want {
			t.Errorf("total %d halves, %d accounts: acquired %d, %v; want %d", tt.total, tt.accounts, n, err, want)
		}
	}
}

func TestSizer(t *testing.T) {
	const maxValues, maxGrant = 16 << 20, 64 << 20
	tests := []struct {
		name    string
		batches [][2]int64 // values, cost of each batch, cut by the bound when values ≥ the bound
		want    int64      // the grant after them
	}{
		{"a new partition asks for room for a burst", nil, 2 * firstCost},
		{"a quiet feed's grant falls to what it uses", slices.Repeat([][2]int64{{100, 400}}, 12), minGrant},
		{"a backlog doubles the grant batch after batch", [][2]int64{{-1, 3 * firstCost}, {-1, 3 * firstCost * 2}, {-1, 3 * firstCost * 4}}, 2 * 3 * firstCost * 4},
		{"never past the most a grant may be", [][2]int64{{-1, 40 << 20}, {-1, 40 << 20}, {-1, 40 << 20}}, maxGrant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSizer(maxValues, maxGrant)
			for _, vc := range tt.batches {
				limit := s.values(s.grant())
				values := vc[0]
				if values < 0 { // cut by the bound
					values = limit
				}
				s.observe(values, limit, vc[1])
			}
			if got := s.grant(); got != tt.want {
				t.Fatalf("grant %d, want %d", got, tt.want)
			}
			if v := s.values(s.grant()); v < 1 || v > maxValues {
				t.Fatalf("values %d out of [1, %d]", v, maxValues)
			}
		})
	}
}

// TestBudgetTryAcquire: what fits of a request is taken at once, halving
// down to the least asked for, never waiting.
func TestBudgetTryAcquire(t *testing.T) {
	tests := []struct {
		name        string
		held        int64 // in halves, by another account
		n, least    int64 // in halves
		want        int64 // in halves
		accounts    int
		totalHalves int64
	}{
		{"all of it when free", 0, 8, 1, 8, 2, 40},
		{"half when half fits", 34, 8, 1, 4, 2, 40}, // committed 34 + 2 (a reserve): 8 would make 42, 4 makes 38
		{"nothing below least", 20, 8, 4, 0, 2, 22},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBudget(tt.totalHalves * half)
			var accts []*Account
			for range tt.accounts {
				accts = append(accts, b.Account("feed"))
			}
			if tt.held > 0 {
				accts[1].Charge(tt.held * half)
			}
			if got := accts[0].TryAcquire(tt.n*half, tt.least*half); got != tt.want*half {
				t.Fatalf("took %d halves, want %d", got/half, tt.want)
			}
		})
	}
}

// TestSizerWait: a batch waits MaxWait to fill unless the partition's
// recent rate is below one record per MaxWait; a claimed partition judges
// its first batch by how long its first record took to come.
func TestSizerWait(t *testing.T) {
	const maxWait = 500 * time.Millisecond
	t0 := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		claimed bool     // at t0
		batches [][2]int // seconds after t0 it began, records
		first   float64  // seconds after t0 the next batch's first record is there
		want    time.Duration
	}{
		{"a new partition waits", false, nil, 10, maxWait},
		{"one batch says nothing of the rate", false, [][2]int{{0, 1}}, 2, maxWait},
		{"a record every two seconds goes at once", false, [][2]int{{0, 1}, {2, 1}, {4, 1}}, 6, 0},
		{"ten records a second wait", false, [][2]int{{0, 10}, {1, 10}, {2, 10}}, 3, maxWait},
		{"a quiet partition that gets a burst waits again", false, [][2]int{{0, 1}, {2, 1}, {4, 1}, {5, 1000}}, 5.01, maxWait},
		{"a first record long after the claim goes at once", true, nil, 8, 0},
		{"a first record at once after the claim waits", true, nil, 0.01, maxWait},
		{"the second batch of a quiet claimed partition goes at once", true, [][2]int{{8, 1}}, 10, 0},
		{"the second batch of a claimed backlog waits", true, [][2]int{{0, 5000}}, 0.2, maxWait},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSizer(16<<20, 64<<20)
			if tt.claimed {
				s.claim(t0)
			}
			for _, b := range tt.batches { // as a partition's fetcher does: wait, then began
				at := t0.Add(time.Duration(b[0]) * time.Second)
				s.wait(maxWait, at)
				s.began(at, b[1])
			}
			first := t0.Add(time.Duration(tt.first * float64(time.Second)))
			if got := s.wait(maxWait, first); got != tt.want {
				t.Fatalf("wait %s, want %s (rate %.2f/s)", got, tt.want, s.rate)
			}
		})
	}
}

// TestBudgetCloseWhileWaiting: an account closed while one of its Acquire
// calls waits within its share stops counting as a feed the borrowers give
// way to once that call returns, and not before nor twice: the others
// waiting below their share still hold the borrowers back.
func TestBudgetCloseWhileWaiting(t *testing.T) {
	b := NewBudget(20 * half) // 4 accounts: share 5, reserve 2, limit 8
	backlog, storm, quiet, gone := b.Account("backlog"), b.Account("storm"), b.Account("quiet"), b.Account("gone")
	ctx := context.Background()
	for _, a := range []*Account{backlog, storm} {
		if _, err := a.Acquire(ctx, 8*half); err != nil { // committed 8 + 8 + 2 + 2
			t.Fatal(err)
		}
	}
	goneCtx, cancelGone := context.WithCancel(ctx)
	goneErr := make(chan error, 1)
	go func() {
		_, err := gone.Acquire(goneCtx, 3*half) // within its share: waits, needy
		goneErr <- err
	}()
	quietGot := make(chan error, 1)
	go func() {
		_, err := quiet.Acquire(ctx, 5*half) // its share: waits, needy
		quietGot <- err
	}()
	waitFor(t, func() bool { return b.Stats().Waiting == 2 })
	gone.Close() // 3 accounts: share 6⅔, limit 9; committed 18, the quiet feed's 5 do not fit yet
	cancelGone()
	if err := <-goneErr; !errors.Is(err, errAccountClosed) && !errors.Is(err, context.Canceled) {
		t.Fatalf("the closed account's Acquire returned %v, want it refused", err)
	}
	waitFor(t, func() bool { return b.Stats().Waiting == 1 })
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := backlog.Acquire(cancelled, half); err == nil { // 9 > share: borrowing
		t.Fatal("the borrower took bytes while a feed below its share waited (the closed account's waiter was uncounted twice)")
	}
	storm.Release(half)
	if err := <-quietGot; err != nil {
		t.Fatal(err)
	}
}
