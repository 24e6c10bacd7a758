package store

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Where the processor writes and reads on a cluster.
//
// Every row of Kafka partition p, and the batch ledger's entries for p,
// are on shard ShardOf(p) (the Distributed tables' sharding keys agree).
// The processor inserts a batch into the local replicated table of one
// replica of that shard, whole, and writes its ledger entry there too; it
// prefers the shard's first replica in the cluster's order (the one
// Distributed reads prefer, load_balancing in_order) and moves to the next
// when an insert or read fails, coming back after replicaRetry.
//
// Resume reads (ResumePoint, Landed) are made on the replica the shard's
// writes go to, on its local tables, after SYSTEM SYNC REPLICA: the replica
// first fetches every part the shard's replicas have committed (a batch
// another processor wrote on the other replica before it died included).
// When the only replica with such a part is down, the sync does not finish
// and the read fails (the processor retries) instead of answering from a
// replica that lacks rows. On top of that, a retried insert of a batch
// whose part did land is dropped by the replicated table's block
// deduplication (the block's hash is in ZooKeeper for every replica),
// since a batch is sent again byte for byte.

// replicaRetry is how long a replica that failed is passed over.
const replicaRetry = 10 * time.Second

// syncTimeout bounds a SYSTEM SYNC REPLICA before a resume read.
const syncTimeout = 60 * time.Second

// clusterRoutes holds a connection to every replica of the cluster.
type clusterRoutes struct {
	name   string
	shards [][]*replica // in shard_num order, replicas in replica_num order
	log    *slog.Logger

	mu     sync.Mutex
	failed map[*replica]time.Time
	inUse  []*replica // the replica each shard's writes went to last
}

// replica is one server of the cluster.
type replica struct {
	shard, num int // shard_num, replica_num
	addr       string
	conn       driver.Conn
	native     *nativePool
}

// openClusterRoutes reads the cluster's servers from system.clusters (on
// the server conn is connected to) and prepares a connection to each, as
// the same user, with the cluster's session settings.
func openClusterRoutes(ctx context.Context, conn driver.Conn, name string, opts *clickhouse.Options, log *slog.Logger) (*clusterRoutes, error) {
	rows, err := conn.Query(ctx, "SELECT shard_num, replica_num, host_name, port FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num", name)
	if err != nil {
		return nil, fmt.Errorf("reading cluster %s from system.clusters: %w", name, err)
	}
	defer rows.Close()
	r := &clusterRoutes{name: name, log: log, failed: map[*replica]time.Time{}}
	for rows.Next() {
		var (
			shard, num uint32
			host       string
			port       uint16
		)
		if err := rows.Scan(&shard, &num, &host, &port); err != nil {
			return nil, fmt.Errorf("reading cluster %s from system.clusters: %w", name, err)
		}
		if len(r.shards) == 0 || r.shards[len(r.shards)-1][0].shard != int(shard) {
			r.shards = append(r.shards, nil)
		}
		rep := &replica{shard: int(shard), num: int(num), addr: net.JoinHostPort(host, strconv.Itoa(int(port)))}
		o := *opts
		o.Addr = []string{rep.addr}
		o.MaxOpenConns = 4
		if rep.conn, err = clickhouse.Open(&o); err != nil {
			r.close()
			return nil, fmt.Errorf("connecting to replica %s of cluster %s: %w", rep.addr, name, err)
		}
		rep.native = newNativePool(nativeConfig{addrs: o.Addr, database: o.Auth.Database, user: o.Auth.Username,
			password: o.Auth.Password, tls: o.TLS, dialTimeout: o.DialTimeout, maxOpen: 8})
		r.shards[len(r.shards)-1] = append(r.shards[len(r.shards)-1], rep)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading cluster %s from system.clusters: %w", name, err)
	}
	if len(r.shards) == 0 {
		var known []string
		_ = queryStrings(ctx, conn, "SELECT DISTINCT cluster FROM system.clusters ORDER BY cluster", &known)
		return nil, fmt.Errorf("the ClickHouse server has no cluster %q in its remote_servers (it has: %s); set --clickhouse-cluster to one of them, or leave it empty for a single server",
			name, strings.Join(known, ", "))
	}
	r.inUse = make([]*replica, len(r.shards))
	log.Info("ClickHouse cluster mode", "cluster", name, "shards", len(r.shards), "replicas", len(r.shards[0]))
	return r, nil
}

func queryStrings(ctx context.Context, conn driver.Conn, q string, out *[]string) error {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		*out = append(*out, s)
	}
	return rows.Err()
}

// close closes every replica's connections.
func (r *clusterRoutes) close() {
	for _, reps := range r.shards {
		for _, rep := range reps {
			if rep.conn != nil {
				rep.conn.Close()
			}
			if rep.native != nil {
				rep.native.close()
			}
		}
	}
}

// route returns the replica that Kafka partition p's writes and resume
// reads go to now: the first of its shard's replicas that has not failed
// in the last replicaRetry (the first, when all have).
func (r *clusterRoutes) route(p int32) *replica {
	shard := ShardOf(p, len(r.shards))
	reps := r.shards[shard]
	r.mu.Lock()
	defer r.mu.Unlock()
	pick := reps[0]
	for _, rep := range reps {
		if at, bad := r.failed[rep]; !bad || time.Since(at) > replicaRetry {
			pick = rep
			break
		}
	}
	if prev := r.inUse[shard]; prev != pick {
		if prev != nil {
			r.log.Warn("ClickHouse cluster: shard's writes move to another replica", "cluster", r.name, "shard", pick.shard, "from", prev.addr, "to", pick.addr)
		}
		r.inUse[shard] = pick
	}
	return pick
}

// done records the outcome of an operation on rep: a failure passes the
// replica over for replicaRetry.
func (r *clusterRoutes) done(rep *replica, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.failed[rep] = time.Now()
	} else {
		delete(r.failed, rep)
	}
}

// syncReplica waits until rep has fetched every part of the given tables
// (quoted db.table, local replicated tables) that the shard's replicas
// have committed.
func (r *clusterRoutes) syncReplica(ctx context.Context, rep *replica, tables ...string) error {
	ctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	for _, t := range tables {
		if err := rep.conn.Exec(ctx, "SYSTEM SYNC REPLICA "+t); err != nil {
			return fmt.Errorf("waiting for replica %s (shard %d) to fetch the shard's parts of %s (is another replica of the shard down with parts only it has?): %w", rep.addr, rep.shard, t, err)
		}
	}
	return nil
}

// partitionConn is where the rows and ledger entries of one Kafka
// partition are written and read: the connection and the tables' quoted
// names there. On a single server it is the store's own connection and
// tables.
type partitionConn struct {
	conn   driver.Conn
	native *nativePool
	rep    *replica // nil on a single server
}

// forPartition returns where partition p's rows go.
func (s *Store) forPartition(p int32) partitionConn {
	if s.cluster == nil {
		return partitionConn{conn: s.conn, native: s.reader}
	}
	rep := s.cluster.route(p)
	return partitionConn{conn: rep.conn, native: rep.native, rep: rep}
}

// done records the outcome of an operation on pc (see clusterRoutes.done).
func (s *Store) done(pc partitionConn, err error) {
	if pc.rep != nil {
		s.cluster.done(pc.rep, err)
	}
}

// synced makes pc's replica catch up with its shard on the given tables
// before a resume read (see syncReplica); a no-op on a single server.
func (s *Store) synced(ctx context.Context, pc partitionConn, tables ...string) error {
	if pc.rep == nil {
		return nil
	}
	return s.cluster.syncReplica(ctx, pc.rep, tables...)
}

// each calls fn for every replica of the cluster, in order, and returns
// the first error.
func (r *clusterRoutes) each(fn func(rep *replica) error) error {
	for _, reps := range r.shards {
		for _, rep := range reps {
			if err := fn(rep); err != nil {
				return err
			}
		}
	}
	return nil
}

// columnWait bounds how long a replica may take to apply an ADD COLUMN
// that replication carries to it.
const columnWait = 2 * time.Minute

// waitColumn waits until table db.table on rep has column c (of c's type).
func waitColumn(ctx context.Context, rep *replica, db, table string, c column) error {
	ctx, cancel := context.WithTimeout(ctx, columnWait)
	defer cancel()
	for {
		cols, err := columnsOn(ctx, rep.conn, db, table)
		if err == nil && cols[c.name] == c.typ {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("it has not got the column yet")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for replica %s to add column %s to %s.%s: %w", rep.addr, c.name, db, table, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
