//go:build integration

package store_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/internal/testenv"
)

// An audit log edited by hand in ClickHouse — one entry changed, one
// deleted, one inserted — is caught by VerifyAudit, each at its entry; the
// untouched log verifies, and a second log of the same server follows on
// from the first.
func TestAuditChainOnClickHouse(t *testing.T) {
	st := testenv.Store(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := key.Public().(ed25519.PublicKey)
	keys := map[string]ed25519.PublicKey{store.KeyID(pub): pub}
	table := testenv.Name("audit")
	write := func(n int) {
		a, err := st.OpenAuditLog(ctx, store.AuditConfig{Table: table, FlushEvery: 20 * time.Millisecond, Server: "api-1", Signer: key})
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			a.Record(store.AuditEntry{At: time.Now(), Department: "TD", TokenID: "tok_1", Action: "query", Route: "POST /api/v1/query",
				Detail: fmt.Sprintf("SELECT %d", i), Status: 200, Rows: uint64(i)})
			if i%5 == 4 {
				time.Sleep(40 * time.Millisecond) // several batches, several signatures
			}
		}
		if err := a.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	write(20)
	write(3)
	r, err := st.VerifyAudit(ctx, table, time.Time{}, time.Time{}, keys)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() || r.Chains != 2 || r.Entries != 2*2+23 || r.Signed < 4 || len(r.Notes) != 0 {
		t.Fatalf("an untouched log: %+v", r)
	}

	db := st.Layout().AuditDatabase()
	full := "`" + db + "`.`" + table + "`"
	var chain string
	if err := st.QueryRow(ctx, []any{&chain}, "SELECT chain FROM "+full+" WHERE seq = 0 AND detail LIKE 'first chain%'"); err != nil {
		t.Fatal(err)
	}
	mutate := func(q string) {
		t.Helper()
		if err := st.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// The edits change the table that holds the rows (the local tables on
	// a cluster); the forged row goes in through the table readers read.
	alterByHand(ctx, t, st, db, table, fmt.Sprintf("UPDATE detail = 'SELECT 42' WHERE chain = '%s' AND seq = 3", chain))
	alterByHand(ctx, t, st, db, table, fmt.Sprintf("DELETE WHERE chain = '%s' AND seq = 8", chain))
	mutate(fmt.Sprintf("INSERT INTO %s (at, at_ms, department, action, detail, status, chain, seq, prev_hash, hash) "+
		"SELECT at, at_ms, 'POLICE', action, 'SELECT forged', status, chain, seq, prev_hash, hash FROM %s WHERE chain = '%s' AND seq = 12", full, full, chain))
	waitMutations(ctx, t, st, db, table)
	r, err = st.VerifyAudit(ctx, table, time.Time{}, time.Time{}, keys)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		kind store.AuditProblemKind
		seq  uint64
	}{{store.AuditChanged, 3}, {store.AuditRemoved, 9}, {store.AuditInserted, 12}}
	if len(r.Problems) != len(want) {
		t.Fatalf("problems %v, want %v", r.Problems, want)
	}
	for i, w := range want {
		if p := r.Problems[i]; p.Kind != w.kind || p.Seq != w.seq || p.Chain != chain {
			t.Errorf("problem %d: %v, want %s at seq %d of %s", i, p, w.kind, w.seq, chain)
		}
	}
}
