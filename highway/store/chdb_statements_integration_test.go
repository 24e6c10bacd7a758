//go:build integration

package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/analytics/jobs"
	"github.com/cityhighway/highway/analytics/scheduler"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/internal/chdb"
	"github.com/cityhighway/highway/internal/testenv"
)

// TestStatementsOnCurrentClickHouse runs the store's own code paths on
// current ClickHouse (chdb, 26.x), in the order the platform runs them,
// for every builtin and example feed, pipeline window and job: the DDL the
// server's version selects, schema evolution's checks, the ledger, resume,
// windows, job slots, the quality ledger's tables, dead letters,
// reconciliation, the audit log and the push keys. A statement chdb
// refuses fails the test with the statement and chdb's error. The rows are
// generateRandom's (the store's native-protocol insert is not run here;
// its INSERT column list is the DDL's).
func TestStatementsOnCurrentClickHouse(t *testing.T) {
	ctx := context.Background()
	sess := testenv.Chdb(t)
	for _, q := range []string{"SET session_timezone = 'UTC'", "CREATE DATABASE highway", "USE highway"} {
		if err := sess.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	conn := &chdbConn{s: sess}
	st, err := store.OpenConn(ctx, conn, "highway")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Version().AtLeast(24, 0) {
		t.Fatalf("chdb reports ClickHouse %s; this test is for current releases", st.Version())
	}
	builtin, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load(builtin, "../../docs/examples")
	if err != nil {
		t.Fatal(err)
	}
	fail := func(what string, err error) {
		t.Helper()
		var ce *chdb.Error
		if errors.As(err, &ce) {
			t.Fatalf("%s: chdb refused\n%s\nwith: %s", what, ce.SQL, ce.Message)
		}
		t.Fatalf("%s: %v", what, err)
	}
	if err := st.EnsureQualityTables(ctx); err != nil {
		fail("quality tables", err)
	}
	from := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	to := from.Add(time.Hour)

	for _, feed := range cat.Feeds() {
		if err := st.EnsureFeedTable(ctx, feed); err != nil {
			fail("feed "+feed.Name, err)
		}
		// Random rows in the hour under test, then the schema check again,
		// which compares system.columns with the DDL's types.
		seed := fmt.Sprintf("INSERT INTO %s SELECT * REPLACE (toDateTime(%d + rand() %% 3600) AS `%s`) FROM generateRandom(1, 16, 4) LIMIT 40",
			st.Layout().FeedTable(feed), from.Unix(), feed.EventTime)
		if err := st.Exec(ctx, seed); err != nil {
			fail("rows of "+feed.Name, err)
		}
		if err := st.EnsureFeedTable(ctx, feed); err != nil {
			fail("feed "+feed.Name+" again", err)
		}
		topic := feed.Topic()
		if err := st.RecordProgress(ctx, topic, 0, 17); err != nil {
			fail("ledger of "+feed.Name, err)
		}
		if _, err := st.ResumePoint(ctx, feed, topic, 0); err != nil {
			fail("resume of "+feed.Name, err)
		}
		if _, err := st.Landed(ctx, feed, topic, 0, 0, 100); err != nil {
			fail("landed of "+feed.Name, err)
		}
		if _, err := st.RecentIdentities(ctx, feed, topic, 0, from); err != nil {
			fail("identities of "+feed.Name, err)
		}
		if _, err := st.MaxEventTime(ctx, feed, topic, 0); err != nil {
			fail("max event time of "+feed.Name, err)
		}
		if _, err := st.MinEventTime(ctx, feed); err != nil {
			fail("min event time of "+feed.Name, err)
		}
		if _, err := st.Stats(ctx, feed); err != nil {
			fail("stats of "+feed.Name, err)
		}
		if _, err := st.AggregateBucket(ctx, feed, from, to, time.Hour, time.Minute); err != nil {
			fail("quality bucket of "+feed.Name, err)
		}
		// The API's downloads: the rows of a time range, as they are and as
		// of a time, and the changes since a time.
		cols := []string{feed.EventTime, store.ColOffset}
		lim := store.Limits{MaxExecutionTime: 30 * time.Second, MaxResultRows: 1000, MaxResultBytes: 1 << 20, MaxMemory: 1 << 30, MaxRowsToRead: 1 << 20}
		if _, err := st.QueryFeed(ctx, feed, cols, from, to, 10, lim, store.FormatJSON, io.Discard); err != nil {
			fail("download of "+feed.Name, err)
		}
		for _, h := range []store.History{{AsOf: to}, {ChangedSince: from}} {
			if _, err := st.QueryFeedHistory(ctx, feed, cols, from, to, h, 10, lim, store.FormatCSV, io.Discard); err != nil {
				fail("history of "+feed.Name, err)
			}
		}
		if _, err := st.CountOffsets(ctx, feed, []store.OffsetRange{{Partition: 0, From: 0, To: 10}}); err != nil {
			fail("offset counts of "+feed.Name, err)
		}
	}
	for _, pl := range cat.Pipelines() {
		feed := cat.Feed(pl.Source)
		for _, w := range pl.Windows {
			if err := st.EnsureWindowTable(ctx, feed, w); err != nil {
				fail("window "+w.Name, err)
			}
			if err := st.AggregateWindows(ctx, feed, w, from, to); err != nil {
				fail("window "+w.Name, err)
			}
			if _, err := st.LastWindowEnd(ctx, feed, w); err != nil {
				fail("window "+w.Name, err)
			}
		}
	}
	runner := jobs.NewRunner(st, nil)
	for _, job := range cat.Jobs() {
		if job.Name == jobs.QualityJobName {
			continue // the quality ledger's statements run below
		}
		for attempt := 1; attempt <= 2; attempt++ {
			if _, err := runner.Run(ctx, job, scheduler.Run{Job: job.Name, Start: from, End: to, Attempt: attempt, Node: "n1"}); err != nil {
				fail("job "+job.Name, err)
			}
		}
	}
	feeds := map[string]*catalog.Feed{}
	var rows []store.QualityRow
	for _, f := range cat.Feeds() {
		feeds[f.Name] = f
		rows = append(rows, store.QualityRow{Feed: f.Name, Bucket: from, BucketSeconds: 3600, Rows: 3})
	}
	if err := st.WriteQuality(ctx, feeds, rows, 1, "n1"); err != nil {
		fail("quality rows", err)
	}
	for _, f := range cat.Feeds() {
		if _, err := st.ReadQuality(ctx, f, from, to); err != nil {
			fail("quality of "+f.Name, err)
		}
		if _, err := st.LatestQuality(ctx, f, 3); err != nil {
			fail("latest quality of "+f.Name, err)
		}
		if _, err := st.QualityAt(ctx, f, []time.Time{from}); err != nil {
			fail("quality at of "+f.Name, err)
		}
		if err := st.WriteTopicEnds(ctx, f.Name, from, store.TopicEnds{At: to, Ends: map[int]int64{0: 10}}, 1); err != nil {
			fail("topic ends of "+f.Name, err)
		}
		if _, _, err := st.ReadTopicEnds(ctx, f.Name, from); err != nil {
			fail("topic ends of "+f.Name, err)
		}
	}
	feed := cat.Feeds()[0]
	if err := st.InsertDeadLetters(ctx, []store.DeadLetter{{Feed: feed.Name, Partition: 0, Offset: 3, RejectedAt: from, Reason: "field speed: value 350: above the maximum 300"}}); err != nil {
		fail("dead letters", err)
	}
	if _, _, err := st.DeadLetterResume(ctx, feed.Name, 0); err != nil {
		fail("dead letters", err)
	}
	if _, err := st.CountDeadLetters(ctx, feed.Name, from, to); err != nil {
		fail("dead letters", err)
	}
	audit, err := st.OpenAuditLog(ctx, store.AuditConfig{FlushEvery: time.Millisecond})
	if err != nil {
		fail("audit log", err)
	}
	audit.Record(store.AuditEntry{At: from, Department: "td", Action: "query", Route: "POST /api/v1/query", Detail: "SELECT 1", Status: 200})
	if err := audit.Close(ctx); err != nil {
		fail("audit log", err)
	}
	if full, failed := audit.Dropped(); full+failed > 0 {
		t.Fatalf("the audit log dropped %d entries, failed %d", full, failed)
	}
	keys, err := st.OpenPushKeys(ctx, "")
	if err != nil {
		fail("push keys", err)
	}
	if err := keys.PutPushKey(ctx, store.PushKey{Department: "td", Key: "k1", BodyHash: "ab", Claim: "c1", State: store.PushKeyDone, Status: 202, Response: []byte(`{"ok":true}`)}); err != nil {
		fail("push keys", err)
	}
	if _, err := keys.PushKeys(ctx, "td", "k1", time.Hour); err != nil {
		fail("push keys", err)
	}
	// The current server's features are in the tables (features.go).
	for _, c := range []struct{ table, column, typ string }{
		{"highway_dead_letters", "rejected_at", "DateTime64(3)"},
		{"highway_dead_letters", "feed", "LowCardinality(String)"},
		{"highway_quality", "feed", "LowCardinality(String)"},
	} {
		var typ string
		q := "SELECT type FROM system.columns WHERE database = 'highway_restricted' AND table = '" + c.table + "' AND name = '" + c.column + "'"
		if err := st.QueryRow(ctx, []any{&typ}, q); err != nil || typ != c.typ {
			t.Errorf("%s.%s is %q (%v), want %s on ClickHouse %s", c.table, c.column, typ, err, c.typ, st.Version())
		}
	}
	// The Grafana plugin's dashboards and macros, expanded by the plugin's
	// own test (a module of its own) into a file, as the API runs them.
	grafana, err := os.ReadFile("../../plugins/grafana/pkg/dashboards/testdata/expanded_sql.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	panels := 0
	for _, line := range strings.Split(strings.TrimSpace(string(grafana)), "\n") {
		var q struct{ Label, SQL string }
		if err := json.Unmarshal([]byte(line), &q); err != nil {
			t.Fatalf("the plugin's expanded SQL: %v in %q", err, line)
		}
		if _, err := st.Query(ctx, q.SQL, store.Limits{MaxExecutionTime: 30 * time.Second}, store.FormatJSON, io.Discard); err != nil {
			fail("Grafana "+q.Label, err)
		}
		panels++
	}
	ddl := 0
	for _, q := range conn.statements {
		if strings.HasPrefix(q, "CREATE") || strings.HasPrefix(q, "ALTER") || strings.HasPrefix(q, "RENAME") {
			ddl++
		}
	}
	t.Logf("%d statements ran on ClickHouse %s (%d DDL, %d of the Grafana plugin) for %d feeds, %d pipelines, %d jobs",
		len(conn.statements), st.Version(), ddl, panels, len(cat.Feeds()), len(cat.Pipelines()), len(cat.Jobs()))
}
