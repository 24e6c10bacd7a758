package testenv

import (
	"context"
	"os"
	"testing"

	"github.com/cityhighway/highway/internal/chdb"
)

// Chdb starts a chdb session (current ClickHouse in-process, see package
// chdb) for the test and closes it when the test ends. It fails the test,
// never skips it, when ops/chdb/install has not been run: the test needs
// HIGHWAY_CHDB_PYTHON and HIGHWAY_CHDB_RUNNER from its output.
func Chdb(t testing.TB) *chdb.Session {
	t.Helper()
	python, runner := os.Getenv("HIGHWAY_CHDB_PYTHON"), os.Getenv("HIGHWAY_CHDB_RUNNER")
	if python == "" || runner == "" {
		t.Fatal("HIGHWAY_CHDB_PYTHON or HIGHWAY_CHDB_RUNNER is not set: this test runs SQL on current ClickHouse through chdb; " +
			"install it with `eval \"$(ops/chdb/install)\"` or run `make test`")
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := chdb.Start(ctx, python, runner)
	if err != nil {
		cancel()
		t.Fatalf("starting chdb: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("closing chdb: %v", err)
		}
		cancel()
	})
	return s
}
