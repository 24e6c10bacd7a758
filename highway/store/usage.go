package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// UsageTable is the default name of the table of what each department used
// of the API per day (in the restricted database, like the audit log).
const UsageTable = "highway_usage"

// Usage is what a department used of the API: calls, rows and bytes its
// queries, downloads and live tails returned, and records it pushed.
type Usage struct {
	Requests, Rows, Bytes, Pushed uint64
}

// Add returns the sum of u and v.
func (u Usage) Add(v Usage) Usage {
	return Usage{Requests: u.Requests + v.Requests, Rows: u.Rows + v.Rows, Bytes: u.Bytes + v.Bytes, Pushed: u.Pushed + v.Pushed}
}

var usageColumns = []column{
	{"day", "Date"},
	{"department", "String"},
	{"requests", "UInt64"},
	{"rows", "UInt64"},
	{"bytes", "UInt64"},
	{"pushed", "UInt64"},
}

// UsageTableName returns the quoted database.table of the usage table.
func (d DDL) UsageTableName(table string) string {
	return quoteIdent(d.Layout().AuditDatabase()) + "." + quoteIdent(table)
}

// CreateUsageTable returns the CREATE TABLE IF NOT EXISTS statement of the
// usage table: every API server adds its counts as rows, which
// SummingMergeTree folds, and readers sum them.
func (d DDL) CreateUsageTable(table string) []string {
	return d.create(tableSpec{db: d.Layout().AuditDatabase(), name: table, columns: usageColumns, engine: "SummingMergeTree",
		partition: "toYYYYMM(day)", order: "day, department", shardBy: "cityHash64(department)"})
}

// UsageLog keeps the departments' usage in ClickHouse, shared by every API
// server: each adds what it counted, and all read the sums.
type UsageLog struct {
	s     *Store
	table string
}

// OpenUsageLog creates the usage table (UsageTable if table is empty) and
// the restricted database if they are missing.
func (s *Store) OpenUsageLog(ctx context.Context, table string) (*UsageLog, error) {
	if table == "" {
		table = UsageTable
	}
	db := s.ddl.Layout().AuditDatabase()
	if err := s.conn.Exec(ctx, s.ddl.CreateDatabase(db)); err != nil {
		return nil, fmt.Errorf("usage log: creating database %s: %w", db, err)
	}
	if err := s.execAll(ctx, s.ddl.CreateUsageTable(table)); err != nil {
		return nil, fmt.Errorf("creating the usage table %s.%s: %w", db, table, err)
	}
	return &UsageLog{s: s, table: table}, nil
}

// AddUsage adds each department's usage on day (a date; its time of day is
// ignored).
func (l *UsageLog) AddUsage(ctx context.Context, day time.Time, by map[string]Usage) error {
	if len(by) == 0 {
		return nil
	}
	names := make([]string, len(usageColumns))
	for i, c := range usageColumns {
		names[i] = quoteIdent(c.name)
	}
	b, err := l.s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s (%s)", l.s.ddl.UsageTableName(l.table), strings.Join(names, ", ")))
	if err != nil {
		return fmt.Errorf("usage: preparing the insert: %w", err)
	}
	defer b.Abort()
	d := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	for dept, u := range by {
		if err := b.Append(d, dept, u.Requests, u.Rows, u.Bytes, u.Pushed); err != nil {
			return fmt.Errorf("usage: appending %s: %w", dept, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("usage: inserting %d departments' usage: %w", len(by), err)
	}
	return nil
}

// UsageOn returns every department's usage on day, summed over all
// servers.
func (l *UsageLog) UsageOn(ctx context.Context, day time.Time) (map[string]Usage, error) {
	q := fmt.Sprintf("SELECT department, sum(requests), sum(rows), sum(bytes), sum(pushed) FROM %s WHERE day = toDate(?) GROUP BY department",
		l.s.ddl.UsageTableName(l.table))
	rows, err := l.s.conn.Query(ctx, q, day.Format(time.DateOnly))
	if err != nil {
		return nil, fmt.Errorf("reading usage of %s: %w", day.Format(time.DateOnly), err)
	}
	defer rows.Close()
	out := map[string]Usage{}
	for rows.Next() {
		var dept string
		var u Usage
		if err := rows.Scan(&dept, &u.Requests, &u.Rows, &u.Bytes, &u.Pushed); err != nil {
			return nil, fmt.Errorf("reading usage of %s: %w", day.Format(time.DateOnly), err)
		}
		out[dept] = u
	}
	return out, rows.Err()
}
