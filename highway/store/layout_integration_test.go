//go:build integration

package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/internal/testenv"
)

// The split tests run in the database "default" of HIGHWAY_CLICKHOUSE:
// ops/clickhouse/start's highway_open user may read that database only,
// not default_restricted. Tables get unique names and are dropped after.

const splitSpecs = `
kind: feed
name: test.%[1]s_open
department: TEST
fields:
  - {name: station, type: string, required: true}
  - {name: value, type: float64}
  - {name: at, type: time, required: true}
key: [station]
event_time: at
interval: 1m
---
kind: feed
name: test.%[1]s_secret
department: POLICE
access: restricted
fields:
  - {name: station, type: string, required: true}
  - {name: value, type: float64}
  - {name: at, type: time, required: true}
key: [station]
event_time: at
interval: 1m
`

// splitEnv is an administrator's store on "default" with an open and a
// restricted feed of unique names.
type splitEnv struct {
	st             *store.Store
	open, secret   *catalog.Feed
	prefix         string
	openDB, restDB string
}

func newSplitEnv(t *testing.T) *splitEnv {
	t.Helper()
	st := testenv.DefaultStore(t)
	prefix := testenv.Name("split")
	cat, err := catalog.Parse("split.yaml", []byte(fmt.Sprintf(splitSpecs, prefix)))
	if err != nil {
		t.Fatal(err)
	}
	e := &splitEnv{st: st, open: cat.Feed("test." + prefix + "_open"), secret: cat.Feed("test." + prefix + "_secret"),
		prefix: "test_" + prefix, openDB: st.Layout().Open, restDB: st.Layout().Restricted}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, db := range []string{e.openDB, e.restDB} {
			// Views first: they read the tables.
			for _, engine := range []string{"= 'View'", "!= 'View'"} {
				var names []string
				_ = st.QueryEach(ctx, "SELECT name FROM system.tables WHERE database = ? AND startsWith(name, ?) AND engine "+engine, func(scan func(...any) error) error {
					var n string
					if err := scan(&n); err != nil {
						return err
					}
					names = append(names, n)
					return nil
				}, db, e.prefix)
				on := "" // on a cluster: every server's table, and its ZooKeeper path
				if st.Cluster() != "" {
					on = " ON CLUSTER `" + st.Cluster() + "`"
				}
				for _, n := range names {
					_ = st.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS `%s`.`%s`%s", db, n, on))
				}
			}
		}
	})
	return e
}

// insert adds n rows to db.table (a feed table of splitSpecs).
func (e *splitEnv) insert(t *testing.T, db, table string, n int) {
	t.Helper()
	q := fmt.Sprintf("INSERT INTO `%s`.`%s` (station, value, at, _topic, _partition, _offset, _ingested_at) "+
		"SELECT concat('s', toString(number)), number / 2, toDateTime(1795651200 + number), 't', 0, toInt64(number), now() FROM system.numbers LIMIT %d", db, table, n)
	if err := e.st.Exec(context.Background(), q); err != nil {
		t.Fatal(err)
	}
}

// where returns the databases that hold a table called table.
func (e *splitEnv) where(t *testing.T, table string) []string {
	t.Helper()
	var dbs []string
	err := e.st.QueryEach(context.Background(), "SELECT database FROM system.tables WHERE name = ? AND database IN (?, ?) ORDER BY database", func(scan func(...any) error) error {
		var db string
		if err := scan(&db); err != nil {
			return err
		}
		dbs = append(dbs, db)
		return nil
	}, table, e.openDB, e.restDB)
	if err != nil {
		t.Fatal(err)
	}
	return dbs
}

func (e *splitEnv) count(t *testing.T, db, table string) uint64 {
	t.Helper()
	var n uint64
	if err := e.st.QueryRow(context.Background(), []any{&n}, fmt.Sprintf("SELECT count() FROM `%s`.`%s`", db, table)); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestOpenUserCannotReadRestricted is the defence under the SQL guard:
// the ClickHouse user of open data, queried through the store directly
// (no guard at all), gets ClickHouse's own access error for every way to
// a restricted table, while the reader of granted callers reads it.
func TestOpenUserCannotReadRestricted(t *testing.T) {
	e := newSplitEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, f := range []*catalog.Feed{e.open, e.secret} {
		if err := e.st.EnsureFeedTable(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.where(t, e.secret.Table()); len(got) != 1 || got[0] != e.restDB {
		t.Fatalf("restricted feed's table is in %v, want [%s]", got, e.restDB)
	}
	if got := e.where(t, e.open.Table()); len(got) != 1 || got[0] != e.openDB {
		t.Fatalf("open feed's table is in %v, want [%s]", got, e.openDB)
	}
	e.insert(t, e.openDB, e.open.Table(), 3)
	e.insert(t, e.restDB, e.secret.Table(), 5)
	al, err := e.st.OpenAuditLog(ctx, store.AuditConfig{Table: e.prefix + "_audit"})
	if err != nil {
		t.Fatal(err)
	}
	al.Record(store.AuditEntry{At: time.Now(), Department: "POLICE", Action: "query", Detail: "SELECT * FROM " + e.restDB + "." + e.secret.Table()})
	if err := al.Close(ctx); err != nil {
		t.Fatal(err)
	}

	users := map[string]*store.Store{}
	for _, u := range []string{store.OpenReaderUser, store.ReaderUser} {
		s, err := store.Open(ctx, testenv.As(t, u), nil)
		if err != nil {
			t.Fatalf("connecting as %s (is ops/clickhouse/start's users.xml in use? restart it with ops/clickhouse/stop && ops/clickhouse/start): %v", u, err)
		}
		defer s.Close()
		users[u] = s
	}
	secret := e.restDB + "." + e.secret.Table()
	open := e.open.Table()
	audit := e.restDB + "." + al.Table()
	lim := store.Limits{MaxExecutionTime: 10 * time.Second}
	for _, tc := range []struct {
		name, user, sql string
		rows            int   // result rows when it succeeds
		code            int32 // ClickHouse error code when it must fail
	}{
		{"open user reads open data", store.OpenReaderUser, "SELECT * FROM " + open, 3, 0},
		{"open user, restricted table", store.OpenReaderUser, "SELECT * FROM " + secret, 0, 291},
		{"open user, restricted table in a subquery", store.OpenReaderUser, "SELECT * FROM " + open + " WHERE station IN (SELECT station FROM " + secret + ")", 0, 291},
		{"open user, restricted table in a JOIN", store.OpenReaderUser, "SELECT * FROM " + open + " AS o ANY LEFT JOIN " + secret + " AS s USING (station)", 0, 291},
		{"open user, restricted table in a UNION", store.OpenReaderUser, "SELECT station FROM " + open + " UNION ALL SELECT station FROM " + secret, 0, 291},
		{"open user, restricted database by default", store.OpenReaderUser, "SELECT count() FROM " + e.restDB + ".no_such_table", 0, 291},
		{"open user does not see restricted table names", store.OpenReaderUser, "SELECT name FROM system.tables WHERE database = '" + e.restDB + "'", 0, 0},
		{"open user, the audit log", store.OpenReaderUser, "SELECT * FROM " + audit, 0, 291},
		{"open user, the audit log in a subquery", store.OpenReaderUser, "SELECT * FROM " + open + " WHERE station IN (SELECT detail FROM " + audit + ")", 0, 291},
		{"reader reads restricted data", store.ReaderUser, "SELECT * FROM " + secret, 5, 0},
		{"reader reads the audit log", store.ReaderUser, "SELECT * FROM " + audit + " WHERE action = 'query'", 1, 0},
		{"reader reads open data", store.ReaderUser, "SELECT * FROM " + open, 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			st, err := users[tc.user].Query(ctx, tc.sql, lim, store.FormatNDJSON, &out)
			if tc.code != 0 {
				var qe *store.QueryError
				if !errors.As(err, &qe) || qe.Code != tc.code {
					t.Fatalf("err = %v (%d rows), want ClickHouse error %d", err, st.Rows, tc.code)
				}
				if out.Len() != 0 {
					t.Errorf("wrote %q before refusing", out.String())
				}
				return
			}
			if err != nil || st.Rows != uint64(tc.rows) {
				t.Fatalf("%d rows, err %v; want %d rows", st.Rows, err, tc.rows)
			}
		})
	}

	// Open data of the restricted feed through the open user: refused by
	// ClickHouse even though QueryFeed names the table itself.
	var out bytes.Buffer
	_, err = users[store.OpenReaderUser].QueryFeed(ctx, e.secret, []string{"station"}, time.Unix(0, 0), time.Now(), 0, lim, store.FormatCSV, &out)
	var qe *store.QueryError
	if !errors.As(err, &qe) || qe.Code != 291 {
		t.Errorf("QueryFeed of the restricted feed as %s: %v, want ClickHouse error 291", store.OpenReaderUser, err)
	}
	if err := users[store.OpenReaderUser].CheckDenied(ctx, e.restDB); err != nil {
		t.Errorf("CheckDenied as %s: %v", store.OpenReaderUser, err)
	}
	if err := users[store.ReaderUser].CheckDenied(ctx, e.restDB); !errors.Is(err, store.ErrNotDenied) {
		t.Errorf("CheckDenied as %s: %v, want ErrNotDenied", store.ReaderUser, err)
	}
}

// TestTablesMoveToTheirAccessDatabase: tables that an earlier version (one
// database for all) or an earlier access level left in the other database
// are moved, rows and all, when the store ensures them (feed and window
// tables) or opens them (the audit log).
func TestTablesMoveToTheirAccessDatabase(t *testing.T) {
	e := newSplitEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// oneDB is the DDL of before the split: every table in "default".
	// On a cluster, an earlier version's tables were on every server too.
	oneDB := store.DDL{Database: e.openDB, Restricted: e.openDB, Server: e.st.Version(), Cluster: e.st.Cluster()}
	restrictedOnly := store.DDL{Database: e.restDB, Restricted: e.restDB, Server: e.st.Version(), Cluster: e.st.Cluster()}
	w := catalog.Window{Name: "m1", Size: time.Minute, Hop: time.Minute, GroupBy: []string{"station"},
		Aggregates: []catalog.Aggregate{{Field: "value", Funcs: []string{"avg"}}}}
	openAudit := func(table string) func() error {
		return func() error {
			a, err := e.st.OpenAuditLog(ctx, store.AuditConfig{Table: table})
			if err != nil {
				return err
			}
			return a.Close(ctx)
		}
	}
	oldAudit, bothAudit := e.prefix+"_audit_old", e.prefix+"_audit_both"
	for _, tc := range []struct {
		name    string
		setup   func()
		ensure  func() error
		table   string
		wantDB  string
		wantErr error
		// added is how many rows ensure writes itself (an audit log's
		// audit.start and audit.stop entries).
		added uint64
	}{
		{name: "restricted feed table of before the split",
			setup:  func() { mustExec(t, e.st, oneDB.CreateTable(e.secret)...); e.insert(t, e.openDB, e.secret.Table(), 7) },
			ensure: func() error { return e.st.EnsureFeedTable(ctx, e.secret) }, table: e.secret.Table(), wantDB: e.restDB},
		{name: "restricted feed window table of before the split",
			setup:  func() { mustExec(t, e.st, oneDB.CreateWindowTable(e.secret, w)...) },
			ensure: func() error { return e.st.EnsureWindowTable(ctx, e.secret, w) }, table: catalog.WindowTable(e.secret, w), wantDB: e.restDB},
		{name: "feed made open again",
			setup: func() {
				mustExec(t, e.st, restrictedOnly.CreateTable(e.open)...)
				e.insert(t, e.restDB, e.open.Table(), 4)
			},
			ensure: func() error { return e.st.EnsureFeedTable(ctx, e.open) }, table: e.open.Table(), wantDB: e.openDB},
		{name: "in both databases",
			setup: func() {
				mustExec(t, e.st, oneDB.CreateWindowTable(e.open, w)...)
				mustExec(t, e.st, restrictedOnly.CreateWindowTable(e.open, w)...)
			},
			ensure: func() error { return e.st.EnsureWindowTable(ctx, e.open, w) }, table: catalog.WindowTable(e.open, w), wantErr: store.ErrTableInBothDatabases},
		{name: "audit log of before the split",
			setup: func() {
				mustExec(t, e.st, oneDB.CreateAuditTable(oldAudit)...)
				mustExec(t, e.st, fmt.Sprintf("INSERT INTO %s (at, at_ms, department, action, detail) SELECT now(), toUInt64(1), 'OPS', 'query', 'SELECT 1'", oneDB.AuditTable(oldAudit)))
			},
			ensure: openAudit(oldAudit), table: oldAudit, wantDB: e.restDB, added: 2},
		{name: "audit log in both databases",
			setup: func() {
				mustExec(t, e.st, oneDB.CreateAuditTable(bothAudit)...)
				mustExec(t, e.st, restrictedOnly.CreateAuditTable(bothAudit)...)
			},
			ensure: openAudit(bothAudit), table: bothAudit, wantErr: store.ErrTableInBothDatabases},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustExec(t, e.st, store.DDL{Cluster: e.st.Cluster()}.CreateDatabase(e.restDB))
			tc.setup()
			var before uint64
			if tc.wantErr == nil {
				from := e.where(t, tc.table)
				if len(from) != 1 || from[0] == tc.wantDB {
					t.Fatalf("setup left %s in %v", tc.table, from)
				}
				before = e.count(t, from[0], tc.table)
			}
			err := tc.ensure()
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.table) {
					t.Fatalf("err = %v, want %v naming %s", err, tc.wantErr, tc.table)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := e.where(t, tc.table); len(got) != 1 || got[0] != tc.wantDB {
				t.Fatalf("%s is in %v, want [%s]", tc.table, got, tc.wantDB)
			}
			if after := e.count(t, tc.wantDB, tc.table); after != before+tc.added {
				t.Errorf("%d rows after the move, %d before and %d written since", after, before, tc.added)
			}
			if err := tc.ensure(); err != nil { // a second start changes nothing
				t.Errorf("second ensure: %v", err)
			}
		})
	}
}

// TestJobTablesFollowTheirData: a job that reads restricted data writes its
// results, and its latest view, in the restricted database, moving a table
// of before the split; one that reads open data only stays in the open one.
func TestJobTablesFollowTheirData(t *testing.T) {
	e := newSplitEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, f := range []*catalog.Feed{e.open, e.secret} {
		if err := e.st.EnsureFeedTable(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	e.insert(t, e.openDB, e.open.Table(), 2)
	e.insert(t, e.restDB, e.secret.Table(), 6)
	slot := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, table, sql string
		before           bool // the table exists in "default" from before the split
		wantDB           string
		wantRows         uint64
	}{
		{"open job", e.prefix + "_job_open", "SELECT count() AS n FROM " + e.open.Table(), false, e.openDB, 2},
		{"restricted job", e.prefix + "_job_secret", "SELECT count() AS n FROM " + e.restDB + "." + e.secret.Table(), false, e.restDB, 6},
		{"restricted job of before the split", e.prefix + "_job_old", "SELECT count() AS n FROM " + e.restDB + "." + e.secret.Table(), true, e.restDB, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before {
				// As the store made it before: table and view in "default".
				if _, err := e.st.WriteSlot(ctx, tc.table, "SELECT toUInt64(1) AS n", slot.Add(-time.Hour), 1, "old"); err != nil {
					t.Fatal(err)
				}
			}
			for attempt := 1; attempt <= 2; attempt++ {
				n, err := e.st.WriteSlot(ctx, tc.table, tc.sql, slot, attempt, "n1")
				if err != nil || n != 1 {
					t.Fatalf("attempt %d: %d rows, %v", attempt, n, err)
				}
			}
			if err := e.st.DropEarlierAttempts(ctx, tc.table, slot, 2); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{tc.table, tc.table + store.LatestSuffix} {
				if got := e.where(t, name); len(got) != 1 || got[0] != tc.wantDB {
					t.Errorf("%s is in %v, want [%s]", name, got, tc.wantDB)
				}
			}
			var n uint64
			q := fmt.Sprintf("SELECT n FROM `%s`.`%s` WHERE _slot = toDateTime(%d)", tc.wantDB, tc.table+store.LatestSuffix, slot.Unix())
			if err := e.st.QueryRow(ctx, []any{&n}, q); err != nil || n != tc.wantRows {
				t.Errorf("latest view: n = %d, %v; want %d", n, err, tc.wantRows)
			}
		})
	}
}

func mustExec(t *testing.T, st *store.Store, stmts ...string) {
	t.Helper()
	for _, sql := range stmts {
		if err := st.Exec(context.Background(), sql); err != nil {
			t.Fatal(err)
		}
	}
}
