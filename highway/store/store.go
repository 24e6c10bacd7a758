// Package store owns ClickHouse: the tables derived from feed specs, their
// evolution, the batch writer that appends Arrow columns to native-protocol
// inserts, and the offsets that make ingestion exactly-once. It is the only
// package that imports clickhouse-go.
//
// Every statement runs on ClickHouse 18.16 (Debian's package) and on current
// servers; see ARCHITECTURE.md for what 18.16 lacks.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/cityhighway/highway/highway/catalog"
)

// ErrIncompatibleSchema is returned when a feed's spec cannot be applied to
// its existing table without a migration (a changed type, a new required
// field). Nothing should be consumed for that feed until it is fixed.
var ErrIncompatibleSchema = errors.New("incompatible schema change")

// Store is a connection pool to one ClickHouse database. It is safe for
// concurrent use.
type Store struct {
	conn     driver.Conn
	database string
	ddl      DDL
	log      *slog.Logger
}

// Open connects to the ClickHouse at dsn (clickhouse://host:port/database,
// native protocol), checks that it answers and reads its version.
func Open(ctx context.Context, dsn string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("parsing ClickHouse DSN %q (want clickhouse://host:9000/database): %w", dsn, err)
	}
	if opts.Auth.Database == "" {
		opts.Auth.Database = "default"
	}
	opts.DialTimeout = 5 * time.Second
	opts.MaxOpenConns = 16
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("connecting to ClickHouse at %v: %w", opts.Addr, err)
	}
	var raw string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&raw); err != nil {
		conn.Close()
		return nil, fmt.Errorf("ClickHouse at %v does not answer (is it running? `ops/services up` starts one): %w", opts.Addr, err)
	}
	v, err := ParseVersion(raw)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &Store{conn: conn, database: opts.Auth.Database, ddl: DDL{Database: opts.Auth.Database, Server: v}, log: log}, nil
}

// Close closes the connections.
func (s *Store) Close() error { return s.conn.Close() }

// Version is the server's version.
func (s *Store) Version() Version { return s.ddl.Server }

// Database is the database that holds the tables.
func (s *Store) Database() string { return s.database }

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error { return s.conn.Ping(ctx) }

// EnsureFeedTable creates the feed's table if it is missing and adds the
// columns of new optional fields. A change it cannot make by itself returns
// an error wrapping ErrIncompatibleSchema that says what changed and how to
// migrate.
func (s *Store) EnsureFeedTable(ctx context.Context, feed *catalog.Feed) error {
	if err := s.conn.Exec(ctx, s.ddl.CreateTable(feed)); err != nil {
		return fmt.Errorf("creating table %s for feed %s: %w", feed.Table(), feed.Name, err)
	}
	have, err := s.columns(ctx, feed.Table())
	if err != nil {
		return err
	}
	// Provenance columns added since the table was made (they have defaults).
	for _, c := range metaColumns {
		if _, ok := have[c.name]; !ok {
			q := fmt.Sprintf("ALTER TABLE %s.%s ADD COLUMN %s %s", quoteIdent(s.database), quoteIdent(feed.Table()), quoteIdent(c.name), c.typ)
			if err := s.conn.Exec(ctx, q); err != nil {
				return fmt.Errorf("adding column %s to %s: %w", c.name, feed.Table(), err)
			}
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
				feed.Name, f.Name, s.database, feed.Table(), got, want, ErrIncompatibleSchema)
		case f.Required:
			return fmt.Errorf("feed %s: new field %s is required, but existing rows of %s.%s have no value for it: %w; "+
				"declare it with required: false, or backfill the table first",
				feed.Name, f.Name, s.database, feed.Table(), ErrIncompatibleSchema)
		default:
			if err := s.conn.Exec(ctx, s.ddl.AddColumn(feed, f)); err != nil {
				return fmt.Errorf("adding column %s to %s: %w", f.Name, feed.Table(), err)
			}
			s.log.Info("schema evolution: added column", "feed", feed.Name, "column", f.Name, "type", want)
		}
	}
	return nil
}

// columns returns the name → type of every column of table.
func (s *Store) columns(ctx context.Context, table string) (map[string]string, error) {
	rows, err := s.conn.Query(ctx, "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", s.database, table)
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
	q := fmt.Sprintf("SELECT count(), max(%s) FROM %s.%s WHERE %s = ? AND %s = ?",
		quoteIdent(ColOffset), quoteIdent(s.database), quoteIdent(feed.Table()), quoteIdent(ColTopic), quoteIdent(ColPartition))
	var (
		n   uint64
		max int64
	)
	if err := s.conn.QueryRow(ctx, q, topic, int32(partition)).Scan(&n, &max); err != nil {
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
	q := fmt.Sprintf("SELECT count(), max(%s) FROM %s.%s", quoteIdent(feed.EventTime), quoteIdent(s.database), quoteIdent(feed.Table()))
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
