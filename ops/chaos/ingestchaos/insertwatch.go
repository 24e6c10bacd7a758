package main

import (
	"context"
	"time"

	"github.com/cityhighway/highway/highway/store"
)

// waitInsert polls ClickHouse's system.processes, every 2 ms for at most
// max, until an INSERT into table is running, so that a SIGKILL lands in
// the middle of one: ClickHouse writes an insert's block one part per
// table partition, so an insert killed there may have landed in some
// months and not others. It reports whether it saw one.
func waitInsert(ctx context.Context, st *store.Store, table string, max time.Duration) bool {
	const q = "SELECT count() FROM system.processes WHERE substring(query, 1, 6) = 'INSERT' AND position(query, ?) > 0"
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var n uint64
		if err := st.QueryRow(ctx, []any{&n}, q, table); err == nil && n > 0 {
			return true
		}
		sleep(ctx, 2*time.Millisecond)
	}
	return false
}
