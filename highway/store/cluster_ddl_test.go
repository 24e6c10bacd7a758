package store

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cityhighway/highway/highway/catalog"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden DDL files in testdata/ddl")

// TestDDLModes: every table's statements on a single server and on a
// cluster, from the same spec, against golden files in testdata/ddl
// (go test ./highway/store -run TestDDLModes -update rewrites them). The
// cluster's are checked for what cluster mode must keep besides: each
// CREATE and ALTER runs ON CLUSTER, the local table is replicated under a
// ZooKeeper path of its shard, and the Distributed table names it.
func TestDDLModes(t *testing.T) {
	feed := testFeed(t)
	w := catalog.Window{Name: "speed_5m", Size: 300e9, Hop: 300e9, GroupBy: []string{"detector_id"},
		Aggregates: []catalog.Aggregate{{Field: "speed", Funcs: []string{"avg"}}}}
	jobCols := []column{{ColSlot, "DateTime"}, {ColAttempt, "UInt32"}, {ColNode, "String"}, {ColWrittenAt, "DateTime"}, {"n", "UInt64"}}
	cases := []struct {
		name string
		ddl  func(d DDL) []string
	}{
		{"feed", func(d DDL) []string { return d.CreateTable(feed) }},
		{"add_column", func(d DDL) []string { return d.AddColumn(feed, *feed.Field("speed")) }},
		{"window", func(d DDL) []string { return d.CreateWindowTable(feed, w) }},
		{"ledger", func(d DDL) []string { return d.CreateLedgerTable() }},
		{"audit", func(d DDL) []string { return d.CreateAuditTable(AuditTable) }},
		{"push_keys", func(d DDL) []string { return d.CreatePushKeyTable(PushKeyTable) }},
		{"quality", func(d DDL) []string {
			return d.create(tableSpec{db: "db", name: QualityTable, columns: qualityColumns[:3], engine: "MergeTree",
				partition: "toYYYYMM(bucket)", order: "feed, bucket", shardBy: "cityHash64(feed)"})
		}},
		{"job", func(d DDL) []string {
			return append(d.CreateJobTable("db", "job_counts", jobCols), d.CreateJobView("db", "job_counts"))
		}},
		{"move", func(d DDL) []string { return d.MoveTable("db", "db_restricted", "t") }},
		{"database", func(d DDL) []string { return []string{d.CreateDatabase("db")} }},
	}
	for _, c := range cases {
		for _, mode := range []struct {
			name    string
			cluster string
		}{{"single", ""}, {"cluster", "highway"}} {
			t.Run(c.name+"/"+mode.name, func(t *testing.T) {
				stmts := c.ddl(DDL{Database: "db", Cluster: mode.cluster})
				got := strings.Join(stmts, ";\n\n") + ";\n"
				path := filepath.Join("testdata", "ddl", c.name+"."+mode.name+".sql")
				if *updateGolden {
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("reading the golden file (run with -update to write it): %v", err)
				}
				if got != string(want) {
					t.Errorf("%s differs from %s:\n%s", c.name, path, got)
				}
				checkMode(t, stmts, mode.cluster)
			})
		}
	}
}

// checkMode checks what each mode's statements must have whatever the
// golden files say.
func checkMode(t *testing.T, stmts []string, cluster string) {
	t.Helper()
	for _, q := range stmts {
		on := strings.Contains(q, "ON CLUSTER `"+cluster+"`")
		// A Distributed table's ALTER runs on every server, not ON CLUSTER.
		perServer := strings.HasPrefix(q, "ALTER TABLE") && !strings.Contains(q, LocalSuffix+"`")
		if (cluster != "" && !perServer) != on {
			t.Errorf("cluster %q: ON CLUSTER is %v in\n%s", cluster, on, q)
		}
		if strings.Contains(q, "Replicated") != (cluster != "" && strings.Contains(q, LocalSuffix+"` ON CLUSTER") && strings.HasPrefix(q, "CREATE TABLE")) {
			t.Errorf("cluster %q: only a local table is Replicated*MergeTree:\n%s", cluster, q)
		}
		if strings.Contains(q, "Replicated") && !strings.Contains(q, "'"+ZooKeeperPrefix+"/{shard}/") {
			t.Errorf("replicated table without a ZooKeeper path per shard:\n%s", q)
		}
		if strings.Contains(q, "Distributed(") && !strings.Contains(q, LocalSuffix+"',") {
			t.Errorf("Distributed table does not read the local one:\n%s", q)
		}
	}
}

func TestShardOf(t *testing.T) {
	for _, c := range []struct {
		p      int32
		shards int
		want   int
	}{{0, 2, 0}, {1, 2, 1}, {2, 2, 0}, {5, 3, 2}, {7, 1, 0}, {7, 0, 0}, {-1, 2, 1}} {
		if got := ShardOf(c.p, c.shards); got != c.want {
			t.Errorf("ShardOf(%d, %d) = %d, want %d", c.p, c.shards, got, c.want)
		}
	}
}
