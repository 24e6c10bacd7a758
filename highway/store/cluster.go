package store

import (
	"fmt"
	"strings"
)

// Cluster mode: every table of the store on a ClickHouse cluster.
//
// With DDL.Cluster set (highway's --clickhouse-cluster), each table the
// store makes is two tables, created ON CLUSTER so that every server of
// the cluster has them:
//
//   - <name>_local, a Replicated*MergeTree whose replicas (the servers of
//     one shard) share a ZooKeeper path /clickhouse/tables/{shard}/<db>/<name>;
//     the {shard} and {replica} macros come from each server's config.
//   - <name>, a Distributed table in front of the local ones, which every
//     reader uses (users' SQL, the API, windows, jobs): its name is the
//     one a single server's table has, so nothing above the store changes.
//
// The processor writes a feed's rows, and the batch ledger's entries, to a
// local table directly: all of one Kafka partition goes to one shard
// (ShardOf), so a batch stays whole, and its resume reads are made there
// (see cluster_route.go). Everything else writes through the Distributed
// table, synchronously (clusterSettings).
//
// One spec (tableSpec) gives both the single-server statement and the
// cluster's: DDL.create is the only place that writes CREATE TABLE.

// LocalSuffix names the replicated table behind a Distributed one in
// cluster mode: <table>_local.
const LocalSuffix = "_local"

// ZooKeeperPrefix is where the replicated tables keep their state in
// ZooKeeper (or ClickHouse Keeper): <prefix>/{shard}/<database>/<table>.
const ZooKeeperPrefix = "/clickhouse/tables"

// clusterSettings are the session settings of every connection in cluster
// mode. insert_distributed_sync: an INSERT into a Distributed table
// (windows, job results, the audit log, the quality ledger, push keys)
// returns once every shard has its rows, not when they are queued on the
// local disk of the server that took it. (clickhouse-go sends only number
// settings to 18.16; string ones go in a statement's SETTINGS clause, see
// readFresh.)
var clusterSettings = map[string]any{
	"insert_distributed_sync": 1,
}

// readFresh is the SETTINGS clause of a read that must see what the
// processor just wrote (a window's aggregation of the raw rows): in cluster
// mode it reads the first live replica of each shard in the cluster's
// order, the one the processor writes to (cluster_route.go), even when the
// server it runs on is another replica of a shard. "" on a single server.
func (d DDL) readFresh() string {
	if d.Cluster == "" {
		return ""
	}
	return "\nSETTINGS load_balancing = 'in_order', prefer_localhost_replica = 0"
}

// in returns op (IN, NOT IN) for a subquery over one of the store's tables
// inside a query over another: GLOBAL op in cluster mode, which runs the
// subquery once and sends its result to the shards (a plain one over a
// Distributed table is refused under distributed_product_mode deny, the
// default).
func (d DDL) in(op string) string {
	if d.Cluster == "" {
		return op
	}
	return "GLOBAL " + op
}

// tableSpec is what a table of the store is, whatever the mode.
type tableSpec struct {
	db, name string
	columns  []column
	// engine is MergeTree or ReplacingMergeTree; version is the
	// ReplacingMergeTree's version column, as SQL ("" for none).
	engine, version string
	// partition and order are the PARTITION BY (optional) and ORDER BY
	// expressions; ttl is a TTL expression, "" for none.
	partition, order, ttl string
	// shardBy is the Distributed table's sharding key in cluster mode: rows
	// with the same key go to the same shard.
	shardBy string
}

// create returns the statements that make the table if it is missing, in
// order: one CREATE TABLE on a single server; in cluster mode the
// replicated local table and the Distributed table in front of it, both
// ON CLUSTER.
func (d DDL) create(t tableSpec) []string {
	engine := t.engine + "(" + t.version + ")"
	if d.Cluster == "" {
		return []string{d.createStatement(quoteIdent(t.db)+"."+quoteIdent(t.name), t.columns, engine, t)}
	}
	local := t.name + LocalSuffix
	args := []string{quoteString(ZooKeeperPrefix + "/{shard}/" + t.db + "/" + t.name), quoteString("{replica}")}
	if t.version != "" {
		args = append(args, t.version)
	}
	replicated := "Replicated" + t.engine + "(" + strings.Join(args, ", ") + ")"
	shard := t.shardBy
	if shard == "" {
		shard = "rand()"
	}
	dist := fmt.Sprintf("Distributed(%s, %s, %s, %s)", quoteString(d.Cluster), quoteString(t.db), quoteString(local), shard)
	return []string{
		d.createStatement(quoteIdent(t.db)+"."+quoteIdent(local), t.columns, replicated, t),
		d.createStatement(quoteIdent(t.db)+"."+quoteIdent(t.name), t.columns, dist, tableSpec{}),
	}
}

// createStatement returns CREATE TABLE IF NOT EXISTS name [ON CLUSTER]
// (columns) ENGINE = engine and t's PARTITION BY, ORDER BY and TTL.
func (d DDL) createStatement(name string, columns []column, engine string, t tableSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s%s (\n", name, d.onCluster())
	for i, c := range columns {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, "  %s %s", quoteIdent(c.name), c.typ)
	}
	b.WriteString("\n) ENGINE = " + engine)
	if t.partition != "" {
		b.WriteString("\nPARTITION BY " + t.partition)
	}
	if t.order != "" {
		b.WriteString("\nORDER BY (" + t.order + ")")
	}
	if t.ttl != "" {
		b.WriteString("\nTTL " + t.ttl)
	}
	return b.String()
}

// onCluster is " ON CLUSTER `name`" in cluster mode, else "".
func (d DDL) onCluster() string {
	if d.Cluster == "" {
		return ""
	}
	return " ON CLUSTER " + quoteIdent(d.Cluster)
}

// addColumn returns the statements that add a column to table db.name. In
// cluster mode: first to the local replicated table ON CLUSTER (the server
// answers once every shard has run it; replication carries it to the other
// replicas), then to the Distributed table, a statement the caller runs on
// every server itself: ClickHouse refuses an ALTER ON CLUSTER of a table
// that is not replicated on a cluster whose shards are (18.16: "Table isn't
// replicated, but shard is replicated according to its cluster
// definition").
func (d DDL) addColumn(db, name string, c column) []string {
	alter := func(table, on string) string {
		return fmt.Sprintf("ALTER TABLE %s.%s%s ADD COLUMN %s %s", quoteIdent(db), quoteIdent(table), on, quoteIdent(c.name), c.typ)
	}
	if d.Cluster == "" {
		return []string{alter(name, "")}
	}
	return []string{alter(name+LocalSuffix, d.onCluster()), alter(name, "")}
}

// writeTable returns the quoted db.name a writer that picked its shard
// inserts into: the local replicated table in cluster mode, else the
// table itself.
func (d DDL) writeTable(db, name string) string {
	if d.Cluster != "" {
		name += LocalSuffix
	}
	return quoteIdent(db) + "." + quoteIdent(name)
}

// storageName is the name of the table that holds db.name's rows on each
// server: name + LocalSuffix in cluster mode (what system.columns and
// SYSTEM SYNC REPLICA name), else name.
func (d DDL) storageName(name string) string {
	if d.Cluster != "" {
		return name + LocalSuffix
	}
	return name
}

// ShardOf returns the shard index (0-based, in the cluster's order) that
// holds the rows of Kafka partition p when the cluster has shards shards:
// p mod shards, which is also where the Distributed table's sharding key
// (_partition, with every shard's weight 1) sends a row.
func ShardOf(p int32, shards int) int {
	if shards <= 1 {
		return 0
	}
	s := int(p) % shards
	if s < 0 {
		s += shards
	}
	return s
}
