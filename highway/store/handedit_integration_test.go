//go:build integration

package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/store"
)

// Tests that change a table by hand, as an operator or an attacker would
// (ALTER … UPDATE, DELETE, MODIFY COLUMN), must change the table that
// holds the rows: on a single server the table itself; in cluster mode its
// local replicated table, on one replica of each shard (replication carries
// the change to the shard's other replicas). The Distributed table in
// front holds no rows, refuses mutations ("Mutations are not supported by
// storage Distributed") and takes a MODIFY COLUMN as a change of itself
// only, which the processor's inserts into the local tables never see.
// Not ON CLUSTER: on 18.16 an ALTER ON CLUSTER of a replicated table now
// and then ends one server's DDL worker for good ("Unexpected ZooKeeper
// error: Node exists, path: …/shards/…/executed"), after which every ON
// CLUSTER statement waits for that server in vain.

// alterByHand runs ALTER TABLE db.table <rest> where the rows are.
func alterByHand(ctx context.Context, t *testing.T, st *store.Store, db, table, rest string) {
	t.Helper()
	if st.Cluster() == "" {
		if err := st.Exec(ctx, fmt.Sprintf("ALTER TABLE `%s`.`%s` %s", db, table, rest)); err != nil {
			t.Fatalf("ALTER TABLE %s.%s %s: %v", db, table, rest, err)
		}
		return
	}
	for _, addr := range clusterServers(ctx, t, st, "replica_num = 1") {
		r, err := store.Open(ctx, "clickhouse://"+addr+"/"+db, nil)
		if err != nil {
			t.Fatalf("connecting to %s: %v", addr, err)
		}
		err = r.Exec(ctx, fmt.Sprintf("ALTER TABLE `%s`.`%s%s` %s", db, table, store.LocalSuffix, rest))
		r.Close()
		if err != nil {
			t.Fatalf("ALTER TABLE %s.%s%s %s on %s: %v", db, table, store.LocalSuffix, rest, addr, err)
		}
	}
}

// clusterServers returns the host:port of the store's cluster's servers
// that the condition on system.clusters picks, in shard and replica order.
func clusterServers(ctx context.Context, t *testing.T, st *store.Store, where string) []string {
	t.Helper()
	var addrs []string
	err := st.QueryEach(ctx, "SELECT host_name, port FROM system.clusters WHERE cluster = ? AND "+where+" ORDER BY shard_num, replica_num",
		func(scan func(...any) error) error {
			var (
				host string
				port uint16
			)
			if err := scan(&host, &port); err != nil {
				return err
			}
			addrs = append(addrs, fmt.Sprintf("%s:%d", host, port))
			return nil
		}, st.Cluster())
	if err != nil || len(addrs) == 0 {
		t.Fatalf("reading the servers of cluster %s: %v (%d servers)", st.Cluster(), err, len(addrs))
	}
	return addrs
}

// waitMutations waits until no mutation of db.table (its local tables in
// cluster mode) is pending on any server: ClickHouse 18.16 applies them in
// the background, on each replica by itself.
func waitMutations(ctx context.Context, t *testing.T, st *store.Store, db, table string) {
	t.Helper()
	from := "system.mutations"
	if st.Cluster() != "" {
		table += store.LocalSuffix
		// Every server as a shard of its own: each one's own mutations.
		from = fmt.Sprintf("remote('%s', system, mutations)", strings.Join(clusterServers(ctx, t, st, "1"), ","))
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var pending uint64
		if err := st.QueryRow(ctx, []any{&pending}, "SELECT count() FROM "+from+" WHERE database = ? AND table = ? AND is_done = 0", db, table); err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mutations of %s.%s still pending after 30 s", pending, db, table)
		}
	}
}
