// Package store owns ClickHouse: the tables derived from feed specs, their
// evolution, the batch writer that appends Arrow columns to native-protocol
// inserts, and the offsets that make ingestion exactly-once. It is the only
// package that talks to ClickHouse: DDL and small statements go through
// clickhouse-go; inserts (native_insert.go) and query results (native.go,
// result.go) speak the native protocol themselves on ch-go's proto
// encoders, column by column: clickhouse-go converts every value on its
// own, and ch-go's own client cannot serve 18.16 (it leaves out the client
// info and the settings servers before revision 54429 expect).
//
// Every statement runs on ClickHouse 18.16 (Debian's package) and on current
// servers; see the README's "ClickHouse 18.16" section for what 18.16 lacks.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/cityhighway/highway/highway/catalog"
)

// ErrIncompatibleSchema is returned when a feed's spec cannot be applied to
// its existing table without a migration (a changed type, a new required
// field). Nothing should be consumed for that feed until it is fixed.
var ErrIncompatibleSchema = errors.New("incompatible schema change")

// ErrNotDenied is returned by CheckDenied when ClickHouse lets the
// connection's user into a database it should not read.
var ErrNotDenied = errors.New("the ClickHouse user is not denied the database")

// ErrTableInBothDatabases is returned when a table that belongs in one
// database of the Layout is found in both: highway will not pick one or
// merge them by itself.
var ErrTableInBothDatabases = errors.New("table found in both the open and the restricted database")

// Store is a connection pool to one ClickHouse database, the one of the
// DSN, and the restricted database beside it (see Layout). It is safe for
// concurrent use.
type Store struct {
	conn     driver.Conn
	reader   *nativePool // Query and QueryFeed (see native.go)
	database string
	ddl      DDL
	log      *slog.Logger
	// zone is the server's time zone, in which toYYYYMM partitions a
	// DateTime column (see MonthOf).
	zone *time.Location

	ledgerMu    sync.Mutex
	ledgerReady bool

	fault atomic.Pointer[InsertFault] // tests only; see InjectInsertFault
	// queryVia, when set, runs Query's statements instead of the native
	// pool (tests only: a store of OpenConn has no pool).
	queryVia func(ctx context.Context, sql string, settings []setting) error

	// cluster routes the processor's writes and resume reads to the shard
	// of their Kafka partition (cluster_route.go); nil on a single server.
	cluster *clusterRoutes
}

// Option configures Open.
type Option func(*options)

type options struct {
	cluster string
}

// WithCluster makes the store work in cluster mode on the ClickHouse
// cluster called name (a cluster of the servers' remote_servers): tables
// are created ON CLUSTER as Replicated*MergeTree behind Distributed tables,
// and the processor's batches go to the shard of their Kafka partition
// (see cluster.go). "" keeps the single-server mode.
func WithCluster(name string) Option { return func(o *options) { o.cluster = name } }

// Open connects to the ClickHouse at dsn (clickhouse://host:port/database,
// native protocol), checks that it answers and reads its version. In
// cluster mode (WithCluster) it also reads the cluster's shards and
// replicas from system.clusters, and fails when the server does not know
// the cluster.
func Open(ctx context.Context, dsn string, log *slog.Logger, with ...Option) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	var o options
	for _, opt := range with {
		opt(&o)
	}
	opts, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if opts.Auth.Database == "" {
		opts.Auth.Database = "default"
	}
	opts.DialTimeout = 5 * time.Second
	opts.MaxOpenConns = 16
	if o.cluster != "" {
		if opts.Settings == nil {
			opts.Settings = clickhouse.Settings{}
		}
		for k, v := range clusterSettings {
			opts.Settings[k] = v
		}
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("connecting to ClickHouse at %v: %w", opts.Addr, err)
	}
	reader := newNativePool(nativeConfig{addrs: opts.Addr, database: opts.Auth.Database, user: opts.Auth.Username,
		password: opts.Auth.Password, tls: opts.TLS, dialTimeout: opts.DialTimeout, maxOpen: opts.MaxOpenConns})
	s, err := newStore(ctx, conn, reader, opts.Auth.Database, log)
	if err != nil {
		conn.Close()
		return nil, connectError(opts.Addr, opts.Auth.Username, err)
	}
	if o.cluster != "" {
		s.ddl.Cluster = o.cluster
		if s.cluster, err = openClusterRoutes(ctx, conn, o.cluster, opts, log); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// newStore reads the server's version and time zone through conn and
// returns the store of database on conn and reader.
func newStore(ctx context.Context, conn driver.Conn, reader *nativePool, database string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	var raw string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&raw); err != nil {
		return nil, fmt.Errorf("asking the server its version: %w", err)
	}
	v, err := ParseVersion(raw)
	if err != nil {
		return nil, err
	}
	var tz string
	if err := conn.QueryRow(ctx, "SELECT timezone()").Scan(&tz); err != nil {
		return nil, fmt.Errorf("reading the server's time zone: %w", err)
	}
	zone, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("the server runs in time zone %q, which this machine's time zone database lacks (install tzdata): %w", tz, err)
	}
	return &Store{conn: conn, reader: reader, database: database, ddl: DDL{Database: database, Server: v}, log: log, zone: zone}, nil
}

// Cluster is the name of the cluster the store works on, "" on a single
// server.
func (s *Store) Cluster() string { return s.ddl.Cluster }

// execAll runs statements in order.
func (s *Store) execAll(ctx context.Context, stmts []string) error {
	for _, q := range stmts {
		if err := s.conn.Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the connections.
func (s *Store) Close() error {
	s.reader.close()
	if s.cluster != nil {
		s.cluster.close()
	}
	return s.conn.Close()
}

// Version is the server's version.
func (s *Store) Version() Version { return s.ddl.Server }

// Database is the database of the DSN: it holds the tables of open feeds
// and is the default database of the connections.
func (s *Store) Database() string { return s.database }

// Layout says which database holds each table.
func (s *Store) Layout() Layout { return s.ddl.Layout() }

// CheckDenied returns nil when ClickHouse refuses the connection's user
// database db (an allow_databases without it), and an error wrapping
// ErrNotDenied when it lets the user in, or the database in question
// cannot be told. It probes a table that need not exist: the server checks
// the database's access before the table's existence. `highway serve`
// calls it before start on the open-data user and the restricted database.
func (s *Store) CheckDenied(ctx context.Context, db string) error {
	q := fmt.Sprintf("SELECT 1 FROM %s.%s LIMIT 0", quoteIdent(db), quoteIdent("_highway_access_probe"))
	rows, err := s.conn.Query(ctx, q)
	if err == nil {
		rows.Close()
		return fmt.Errorf("%w: it reads %s (the probe query succeeded)", ErrNotDenied, db)
	}
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) {
		return fmt.Errorf("probing access to database %s: %w", db, err)
	}
	switch ex.Code {
	case 291, 497: // DATABASE_ACCESS_DENIED (18.16 to 20.x), ACCESS_DENIED (20.5 on)
		return nil
	}
	return fmt.Errorf("%w: it may read %s (ClickHouse answered the probe with error %d, %s, not an access refusal)", ErrNotDenied, db, ex.Code, ex.Message)
}

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error { return s.conn.Ping(ctx) }

// EnsureFeedTable creates the feed's table if it is missing and adds the
// columns of new optional fields. The table is in the database its access
// calls for (see Layout): a table that an earlier version of highway, or
// the feed's earlier access level, left in the other database is moved
// there first, data and all. A change it cannot make by itself returns an
// error wrapping ErrIncompatibleSchema that says what changed and how to
// migrate.
func (s *Store) EnsureFeedTable(ctx context.Context, feed *catalog.Feed) error {
	db := s.ddl.Layout().FeedDatabase(feed)
	if err := s.placeTable(ctx, db, feed.Table()); err != nil {
		return fmt.Errorf("feed %s: %w", feed.Name, err)
	}
	if err := s.execAll(ctx, s.ddl.CreateTable(feed)); err != nil {
		return fmt.Errorf("creating table %s.%s for feed %s: %w", db, feed.Table(), feed.Name, err)
	}
	have, err := s.columns(ctx, db, s.ddl.storageName(feed.Table()))
	if err != nil {
		return err
	}
	// Provenance columns added since the table was made (they have defaults).
	for _, c := range metaColumns {
		if err := s.ensureColumn(ctx, db, feed.Table(), c, have); err != nil {
			return err
		}
	}
	for _, f := range feed.Fields {
		want := ColumnType(f)
		got, ok := have[f.Name]
		switch {
		case ok && got == want:
		case ok:
			return fmt.Errorf("feed %s field %s: the table %s.%s has it as %s but the spec says %s: %w; "+
				"to migrate, add a field under a new name (and retire the old one), or rename the table and let highway create a new one",
				feed.Name, f.Name, db, feed.Table(), got, want, ErrIncompatibleSchema)
		case f.Required:
			return fmt.Errorf("feed %s: new field %s is required, but existing rows of %s.%s have no value for it: %w; "+
				"declare it with required: false, or backfill the table first",
				feed.Name, f.Name, db, feed.Table(), ErrIncompatibleSchema)
		default:
			if err := s.ensureColumn(ctx, db, feed.Table(), column{f.Name, want}, have); err != nil {
				return err
			}
			s.log.Info("schema evolution: added column", "feed", feed.Name, "column", f.Name, "type", want, "cluster", s.ddl.Cluster)
		}
	}
	return nil
}

// ensureColumn adds column c to db.table unless have (the columns of the
// table's storage, see DDL.storageName) lists it. In cluster mode it then
// waits until every replica's local table has it (replication carries the
// ALTER) and adds it to the Distributed table of every server that lacks
// it, so it returns once every server has the column. Another process
// adding the same column meanwhile is no error.
func (s *Store) ensureColumn(ctx context.Context, db, table string, c column, have map[string]string) error {
	stmts := s.ddl.addColumn(db, table, c)
	_, had := have[c.name]
	if !had {
		if err := s.conn.Exec(ctx, stmts[0]); err != nil {
			if now, err2 := s.columns(ctx, db, s.ddl.storageName(table)); err2 != nil || now[c.name] != c.typ {
				return fmt.Errorf("adding column %s to %s.%s: %w", c.name, db, s.ddl.storageName(table), err)
			} // added by another process meanwhile
		}
	}
	if s.cluster == nil {
		return nil
	}
	if had {
		// Every server's tables have it unless an earlier add stopped
		// half-way, which this server's Distributed table tells.
		if dist, err := s.columns(ctx, db, table); err != nil || dist[c.name] == c.typ {
			return err
		}
	}
	return s.cluster.each(func(rep *replica) error {
		if err := waitColumn(ctx, rep, db, s.ddl.storageName(table), c); err != nil {
			return err
		}
		dist, err := columnsOn(ctx, rep.conn, db, table)
		if err != nil {
			return fmt.Errorf("replica %s: %w", rep.addr, err)
		}
		if _, ok := dist[c.name]; ok {
			return nil
		}
		if err := rep.conn.Exec(ctx, stmts[1]); err != nil {
			if now, err2 := columnsOn(ctx, rep.conn, db, table); err2 != nil || now[c.name] != c.typ {
				return fmt.Errorf("adding column %s to %s.%s on %s: %w", c.name, db, table, rep.addr, err)
			}
		}
		return nil
	})
}

// placeTable makes sure that table, if it exists, is in database want and
// not in the Layout's other database: it creates the restricted database
// when want is it, and moves a table found only in the other database with
// RENAME TABLE (which keeps the data and is atomic). A table in both is an
// error wrapping ErrTableInBothDatabases. Processors that start together
// may race to move a table; the loser finds it moved and is content.
func (s *Store) placeTable(ctx context.Context, want, table string) error {
	l := s.ddl.Layout()
	other := l.Restricted
	if want == l.Restricted {
		other = l.Open
		if err := s.conn.Exec(ctx, s.ddl.CreateDatabase(want)); err != nil {
			return fmt.Errorf("creating the restricted database %s: %w", want, err)
		}
	}
	where := func() (inWant, inOther bool, err error) {
		rows, err := s.conn.Query(ctx, "SELECT database FROM system.tables WHERE name = ? AND database IN (?, ?)", table, want, other)
		if err != nil {
			return false, false, fmt.Errorf("looking for table %s: %w", table, err)
		}
		defer rows.Close()
		for rows.Next() {
			var db string
			if err := rows.Scan(&db); err != nil {
				return false, false, fmt.Errorf("looking for table %s: %w", table, err)
			}
			inWant = inWant || db == want
			inOther = inOther || db == other
		}
		return inWant, inOther, rows.Err()
	}
	inWant, inOther, err := where()
	switch {
	case err != nil:
		return err
	case inWant && inOther:
		return fmt.Errorf("%s.%s and %s.%s both exist; highway uses %s.%s: %w; move the rows over "+
			"(INSERT INTO %s.%s SELECT * FROM %s.%s) and drop %s.%s, or drop the one you do not need",
			want, table, other, table, want, table, ErrTableInBothDatabases, want, table, other, table, other, table)
	case !inOther:
		return nil
	}
	if err := s.execAll(ctx, s.ddl.MoveTable(other, want, table)); err != nil {
		if inWant, inOther, err2 := where(); err2 == nil && inWant && !inOther {
			return nil // moved by another process meanwhile
		}
		return fmt.Errorf("moving table %s from database %s to %s: %w", table, other, want, err)
	}
	s.log.Info("moved table to the database of its access level", "table", table, "from", other, "to", want)
	return nil
}

// addMissingColumns adds the columns of want that db.table lacks (in
// cluster mode its local or its Distributed table, see ensureColumn); they
// must have defaults.
func (s *Store) addMissingColumns(ctx context.Context, db, table string, want []column) error {
	have, err := s.columns(ctx, db, s.ddl.storageName(table))
	if err != nil {
		return err
	}
	for _, c := range want {
		if err := s.ensureColumn(ctx, db, table, c, have); err != nil {
			return err
		}
	}
	return nil
}

// columns returns the name → type of every column of db.table.
func (s *Store) columns(ctx context.Context, db, table string) (map[string]string, error) {
	return columnsOn(ctx, s.conn, db, table)
}

// columnsOn is columns on the server of conn.
func columnsOn(ctx context.Context, conn driver.Conn, db, table string) (map[string]string, error) {
	rows, err := conn.Query(ctx, "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", db, table)
	if err != nil {
		return nil, fmt.Errorf("reading columns of %s: %w", table, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, fmt.Errorf("reading columns of %s: %w", table, err)
		}
		out[name] = typ
	}
	return out, rows.Err()
}

// ResumeOffset returns the offset after the last row of topic/partition that
// the feed's table holds, and whether it holds any. A processor that is
// assigned the partition resumes there, so a crash between an insert and
// the Kafka commit neither loses nor duplicates rows.
func (s *Store) ResumeOffset(ctx context.Context, feed *catalog.Feed, topic string, partition int) (int64, bool, error) {
	return resumeOffset(ctx, s.conn, s.ddl.FeedTable(feed), feed, topic, partition)
}

// resumeOffset is ResumeOffset on conn and table (quoted).
func resumeOffset(ctx context.Context, conn driver.Conn, table string, feed *catalog.Feed, topic string, partition int) (int64, bool, error) {
	q := fmt.Sprintf("SELECT count(), max(%s) FROM %s WHERE %s = ? AND %s = ?",
		quoteIdent(ColOffset), table, quoteIdent(ColTopic), quoteIdent(ColPartition))
	var (
		n   uint64
		max int64
	)
	if err := conn.QueryRow(ctx, q, topic, int32(partition)).Scan(&n, &max); err != nil {
		return 0, false, fmt.Errorf("reading the last offset of %s/%d in %s: %w", topic, partition, feed.Table(), err)
	}
	if n == 0 {
		return 0, false, nil
	}
	return max + 1, true, nil
}

// FeedStats is what the catalogue shows of a feed's table.
type FeedStats struct {
	Rows        uint64
	LatestEvent time.Time // zero when the table is empty
}

// Stats counts a feed's rows and finds its latest event time.
func (s *Store) Stats(ctx context.Context, feed *catalog.Feed) (FeedStats, error) {
	q := fmt.Sprintf("SELECT count(), max(%s) FROM %s", quoteIdent(feed.EventTime), s.ddl.FeedTable(feed))
	var st FeedStats
	if err := s.conn.QueryRow(ctx, q).Scan(&st.Rows, &st.LatestEvent); err != nil {
		return FeedStats{}, fmt.Errorf("reading stats of %s: %w", feed.Table(), err)
	}
	if st.Rows == 0 {
		st.LatestEvent = time.Time{}
	}
	return st, nil
}

// Exec runs a statement; it is for tests and administration, not queries
// from users (the API's read-only query path applies its own limits).
func (s *Store) Exec(ctx context.Context, sql string, args ...any) error {
	if err := s.conn.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	return nil
}

// QueryRow runs a query that returns one row and scans it into dest.
func (s *Store) QueryRow(ctx context.Context, dest []any, sql string, args ...any) error {
	if err := s.conn.QueryRow(ctx, sql, args...).Scan(dest...); err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	return nil
}

// QueryEach runs a query and calls fn for each row with a function that
// scans the row. It is for tests and administration.
func (s *Store) QueryEach(ctx context.Context, sql string, fn func(scan func(dest ...any) error) error, args ...any) error {
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}
