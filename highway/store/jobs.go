package store

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Columns every job result table has beside the query's own: which slot
// and attempt wrote the row, on which scheduler node, and when.
const (
	ColSlot      = "_slot"
	ColAttempt   = "_attempt"
	ColNode      = "_node"
	ColWrittenAt = "_written_at"
)

// LatestSuffix names the view of a job table that shows, for each slot,
// only the rows of its highest attempt: <table>_latest.
const LatestSuffix = "_latest"

// WriteSlot runs query, a SELECT, and appends its rows to table tagged with
// the slot's start, the attempt and the node; it returns how many rows the
// attempt wrote. A missing table is created from the query's columns
// (MergeTree ordered by slot and attempt) together with its <table>_latest
// view, which shows each slot's highest attempt only: a retried slot's rows
// thereby replace the earlier attempt's instead of adding to them, even if
// the earlier attempt finishes writing late. The query's columns must not
// start with '_'.
//
// The table is in the restricted database when the query reads restricted
// data (Layout.JobDatabase), and stays there once it is: results derived
// from restricted data are not made open by a later change of the query. A
// table an earlier version left in the open database is moved, and its
// view made anew, when the query reads restricted data.
func (s *Store) WriteSlot(ctx context.Context, table, query string, slot time.Time, attempt int, node string) (int64, error) {
	if dl, ok := ctx.Deadline(); ok {
		// The server stops the query too when the attempt's time is up,
		// not only the client.
		secs := max(1, int(time.Until(dl).Seconds()+0.5))
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_execution_time": secs}))
	}
	db, err := s.jobDatabase(ctx, table, query)
	if err != nil {
		return 0, err
	}
	if err := s.ensureJobTable(ctx, db, table, query); err != nil {
		return 0, err
	}
	have, err := s.orderedColumns(ctx, db, table)
	if err != nil {
		return 0, err
	}
	var cols, exprs []string
	for _, c := range have {
		cols = append(cols, quoteIdent(c))
		switch c {
		case ColSlot:
			exprs = append(exprs, fmt.Sprintf("toDateTime(%d)", slot.Unix()))
		case ColAttempt:
			exprs = append(exprs, fmt.Sprintf("toUInt32(%d)", attempt))
		case ColNode:
			exprs = append(exprs, quoteString(node))
		case ColWrittenAt:
			exprs = append(exprs, "now()")
		default:
			exprs = append(exprs, quoteIdent(c))
		}
	}
	tbl := quoteIdent(db) + "." + quoteIdent(table)
	insert := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM (%s)", tbl, strings.Join(cols, ", "), strings.Join(exprs, ", "), query)
	if err := s.conn.Exec(ctx, insert); err != nil {
		return 0, fmt.Errorf("writing slot %s attempt %d into %s: %w", slot.UTC().Format(time.RFC3339), attempt, table, err)
	}
	var n uint64
	count := fmt.Sprintf("SELECT count() FROM %s WHERE %s = toDateTime(%d) AND %s = %d", tbl, quoteIdent(ColSlot), slot.Unix(), quoteIdent(ColAttempt), attempt)
	if err := s.conn.QueryRow(ctx, count).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting the rows of slot %s in %s: %w", slot.UTC().Format(time.RFC3339), table, err)
	}
	return int64(n), nil
}

// DropEarlierAttempts deletes the rows that earlier attempts of a slot
// wrote. The <table>_latest view hides them already; this only reclaims
// space. The deletion is a mutation, which the server runs in the
// background.
func (s *Store) DropEarlierAttempts(ctx context.Context, table string, slot time.Time, attempt int) error {
	db := s.ddl.Layout().Open
	if in, err := s.tableIn(ctx, s.ddl.Layout().Restricted, table); err != nil {
		return err
	} else if in {
		db = s.ddl.Layout().Restricted
	}
	q := fmt.Sprintf("ALTER TABLE %s.%s%s DELETE WHERE %s = toDateTime(%d) AND %s < %d",
		quoteIdent(db), quoteIdent(s.ddl.storageName(table)), s.ddl.onCluster(), quoteIdent(ColSlot), slot.Unix(), quoteIdent(ColAttempt), attempt)
	if err := s.conn.Exec(ctx, q); err != nil {
		return fmt.Errorf("deleting earlier attempts of slot %s in %s: %w", slot.UTC().Format(time.RFC3339), table, err)
	}
	return nil
}

// jobDatabase returns the database of a job's result table (see WriteSlot)
// and moves a table of a query that reads restricted data out of the open
// database, dropping its view there (the view names the table with its
// database, so ensureJobTable makes it anew beside the table).
func (s *Store) jobDatabase(ctx context.Context, table, query string) (string, error) {
	l := s.ddl.Layout()
	if l.JobDatabase(query) == l.Open {
		if in, err := s.tableIn(ctx, l.Restricted, table); err != nil || !in {
			return l.Open, err
		}
		return l.Restricted, nil
	}
	inOpen, err := s.tableIn(ctx, l.Open, table)
	if err != nil {
		return "", err
	}
	if err := s.placeTable(ctx, l.Restricted, table); err != nil {
		return "", fmt.Errorf("job table %s: %w", table, err)
	}
	if inOpen {
		if err := s.conn.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s", quoteIdent(l.Open), quoteIdent(table+LatestSuffix), s.ddl.onCluster())); err != nil {
			return "", fmt.Errorf("dropping the view %s%s left in %s: %w", table, LatestSuffix, l.Open, err)
		}
	}
	return l.Restricted, nil
}

// tableIn reports whether db has a table (or view) called table.
func (s *Store) tableIn(ctx context.Context, db, table string) (bool, error) {
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = ?", db, table).Scan(&n); err != nil {
		return false, fmt.Errorf("looking for table %s.%s: %w", db, table, err)
	}
	return n > 0, nil
}

// ensureJobTable creates a job's result table in db and its latest view if
// the table is missing. The table takes the query's columns, which a
// SELECT ... LIMIT 0 of it tells, after the job's own (_slot, _attempt,
// _node, _written_at).
func (s *Store) ensureJobTable(ctx context.Context, db, table, query string) error {
	have, err := s.columns(ctx, db, table)
	if err != nil {
		return err
	}
	if len(have) == 0 {
		probe := fmt.Sprintf("SELECT toDateTime(0) AS %s, toUInt32(0) AS %s, '' AS %s, now() AS %s, * FROM (%s) LIMIT 0",
			quoteIdent(ColSlot), quoteIdent(ColAttempt), quoteIdent(ColNode), quoteIdent(ColWrittenAt), query)
		cols, err := s.queryColumns(ctx, probe)
		if err != nil {
			return fmt.Errorf("reading the columns of job table %s from its query: %w", table, err)
		}
		if err := s.execAll(ctx, s.ddl.CreateJobTable(db, table, cols)); err != nil {
			return fmt.Errorf("creating job table %s: %w", table, err)
		}
		s.log.Info("created job table", "table", table)
	}
	if err := s.conn.Exec(ctx, s.ddl.CreateJobView(db, table)); err != nil {
		return fmt.Errorf("creating view %s%s: %w", table, LatestSuffix, err)
	}
	return nil
}

// CreateJobTable returns the statements that create the result table of a
// job with the given columns (its own first) if it is missing: MergeTree
// by month of slot, ordered by slot and attempt. In cluster mode a slot's
// attempts are on one shard.
func (d DDL) CreateJobTable(db, table string, cols []column) []string {
	return d.create(tableSpec{db: db, name: table, columns: cols, engine: "MergeTree",
		partition: "toYYYYMM(" + quoteIdent(ColSlot) + ")", order: quoteIdent(ColSlot) + ", " + quoteIdent(ColAttempt),
		shardBy: "cityHash64(" + quoteIdent(ColSlot) + ")"})
}

// CreateJobView returns the statement that creates the <table>_latest view
// of a job's table if it is missing: each slot's rows of its highest
// attempt. In cluster mode its subquery is GLOBAL IN (run once, sent to the
// shards), whatever the reader's distributed_product_mode.
func (d DDL) CreateJobView(db, table string) string {
	tbl := quoteIdent(db) + "." + quoteIdent(table)
	in := d.in("IN")
	return fmt.Sprintf("CREATE VIEW IF NOT EXISTS %s.%s%s AS SELECT * FROM %s WHERE (%s, %s) %s (SELECT %s, max(%s) FROM %s GROUP BY %s)",
		quoteIdent(db), quoteIdent(table+LatestSuffix), d.onCluster(), tbl,
		quoteIdent(ColSlot), quoteIdent(ColAttempt), in, quoteIdent(ColSlot), quoteIdent(ColAttempt), tbl, quoteIdent(ColSlot))
}

// queryColumns returns the names and ClickHouse types of the columns of a
// query's result.
func (s *Store) queryColumns(ctx context.Context, query string) ([]column, error) {
	rows, err := s.conn.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []column
	for _, t := range rows.ColumnTypes() {
		cols = append(cols, column{t.Name(), t.DatabaseTypeName()})
	}
	return cols, rows.Err()
}

// orderedColumns lists the columns of db.table in table order.
func (s *Store) orderedColumns(ctx context.Context, db, table string) ([]string, error) {
	rows, err := s.conn.Query(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = ?", db, table)
	if err != nil {
		return nil, fmt.Errorf("reading columns of %s: %w", table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("reading columns of %s: %w", table, err)
		}
		out = append(out, name)
	}
	return out, rows.Err()
}

// QueryRows runs a query and returns every row, each value as the Go type
// the driver scans its column into (string, float64, *float64 for
// Nullable, time.Time, ...). It is for tests and small administrative
// reads, not for user queries.
func (s *Store) QueryRows(ctx context.Context, sql string) ([][]any, error) {
	rows, err := s.conn.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	var out [][]any
	for rows.Next() {
		dest := make([]any, len(types))
		for i, t := range types {
			dest[i] = reflect.New(t.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("clickhouse: %w", err)
		}
		row := make([]any, len(dest))
		for i, d := range dest {
			row[i] = reflect.ValueOf(d).Elem().Interface()
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

func quoteString(s string) string {
	return "'" + strings.NewReplacer("\\", "\\\\", "'", "\\'").Replace(s) + "'"
}
