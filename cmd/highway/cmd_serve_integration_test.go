//go:build integration

package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/internal/testenv"
)

// TestServeOpenClickHouse checks --open-clickhouse before the API starts,
// on the real ClickHouse and the users of ops/clickhouse/start.
func TestServeOpenClickHouse(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(ctx, testenv.ClickHouse(t), log)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	restricted, err := catalog.Parse("r.yaml", []byte(`
kind: feed
name: test.secret
department: POLICE
access: restricted
fields:
  - {name: id, type: string, required: true}
  - {name: at, type: time, required: true}
key: [id]
event_time: at
interval: 1m
`))
	if err != nil {
		t.Fatal(err)
	}
	builtin, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	otherDB := testenv.Database(t) // a fresh database, not the feeds'
	for _, tc := range []struct {
		name    string
		dsn     string
		cat     *catalog.Catalog
		wantNil bool   // no separate store: the caller uses --query-clickhouse's
		wantErr string // in the error, when it must fail
		usage   bool   // the error is a usage error
	}{
		{name: "open user", dsn: testenv.As(t, store.OpenReaderUser), cat: restricted},
		{name: "a user that reads the restricted database", dsn: testenv.As(t, store.ReaderUser), cat: restricted,
			wantErr: "must connect as a user denied the restricted database default_restricted", usage: true},
		{name: "another database", dsn: otherDB, cat: restricted, wantErr: "--open-clickhouse uses database", usage: true},
		{name: "missing with a restricted feed", cat: restricted, wantErr: "feed test.secret is restricted but no --open-clickhouse is given", usage: true},
		{name: "missing without restricted feeds", cat: builtin, wantNil: true},
		{name: "opted out", dsn: "none", cat: restricted, wantNil: true},
		{name: "no server there", dsn: "clickhouse://127.0.0.1:1/default", cat: restricted, wantErr: "--open-clickhouse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			open, err := openDataStore(ctx, tc.dsn, st, tc.cat, log)
			if open != nil {
				defer open.Close()
			}
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || errors.Is(err, errUsage) != tc.usage {
					t.Fatalf("err = %v, want one with %q (usage error: %v)", err, tc.wantErr, tc.usage)
				}
			case err != nil:
				t.Fatal(err)
			case tc.wantNil != (open == nil):
				t.Fatalf("store %v, want nil: %v", open, tc.wantNil)
			}
		})
	}
}
