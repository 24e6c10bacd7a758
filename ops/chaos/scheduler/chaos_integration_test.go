//go:build integration

package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/cityhighway/highway/internal/testenv"
)

// TestChaosShort runs the chaos test's short form: three real processes,
// three leader kills, a pause beyond the lease; every slot exactly once.
func TestChaosShort(t *testing.T) {
	dsn := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out bytes.Buffer
	dir := t.TempDir()
	res, err := run(ctx, options{
		trials: 3, dsn: dsn, basePort: 17500, election: 500 * time.Millisecond, lease: 3 * time.Second,
		workDir: dir, out: &out,
	})
	t.Log(out.String())
	if err != nil {
		t.Fatalf("%v (node logs in %s)", err, filepath.Join(dir, "n*.log"))
	}
	if res.duplicates != 0 || res.missed != 0 || res.trials != 3 || res.slots < 5 {
		t.Errorf("got %s", res.line(500*time.Millisecond))
	}
	if p50 := pct(res.failovers, 50); p50 > 3*500*time.Millisecond {
		t.Errorf("failover p50 %s is above 3 × the election timeout", p50)
	}
}
