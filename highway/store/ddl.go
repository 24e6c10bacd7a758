package store

import (
	"fmt"
	"strings"

	"github.com/cityhighway/highway/highway/catalog"
)

// Columns every feed table has beside the feed's own fields: where each row
// came from in Kafka (the basis of exactly-once resume) and when it landed.
const (
	ColTopic      = "_topic"
	ColPartition  = "_partition"
	ColOffset     = "_offset"
	ColIngestedAt = "_ingested_at"
	// The source a record was fetched from, as its envelope says
	// (envelope.Provenance; Provenance.Add fills them): Source, ETag,
	// FetchedAt and SchemaVersion, from the headers envelope.HeaderSource,
	// HeaderETag, HeaderFetchedAt and HeaderSchemaVersion.
	ColSource        = "_source"
	ColETag          = "_etag"
	ColFetchedAt     = "_fetched_at"
	ColSchemaVersion = "_schema_version"
)

// metaColumns are the provenance columns in table order.
var metaColumns = []column{
	{ColTopic, "String"},
	{ColPartition, "Int32"},
	{ColOffset, "Int64"},
	{ColIngestedAt, "DateTime"},
	{ColSource, "String"},
	{ColETag, "String"},
	{ColFetchedAt, "DateTime"},
	{ColSchemaVersion, "UInt32"},
}

type column struct {
	name, typ string
}

// ColumnType is the ClickHouse type of a field. It uses only types that
// ClickHouse 18.16 has: bool is UInt8 and time is DateTime (seconds, UTC).
func ColumnType(f catalog.Field) string {
	var t string
	switch f.Type {
	case catalog.String:
		t = "String"
	case catalog.Int64:
		t = "Int64"
	case catalog.Float64:
		t = "Float64"
	case catalog.Bool:
		t = "UInt8"
	case catalog.Time:
		t = "DateTime"
	default:
		panic("store: unknown field type " + string(f.Type))
	}
	if !f.Required {
		t = "Nullable(" + t + ")"
	}
	return t
}

// tableColumns lists a feed table's columns in order: fields, then provenance.
func tableColumns(feed *catalog.Feed) []column {
	cols := make([]column, 0, len(feed.Fields)+len(metaColumns))
	for _, f := range feed.Fields {
		cols = append(cols, column{f.Name, ColumnType(f)})
	}
	return append(cols, metaColumns...)
}

// RestrictedSuffix is appended to a deployment's database to name the
// database of its restricted data: RestrictedDatabase("highway") is
// "highway_restricted".
const RestrictedSuffix = "_restricted"

// RestrictedDatabase returns the database that holds the restricted data of
// the deployment whose database is db.
func RestrictedDatabase(db string) string { return db + RestrictedSuffix }

// Layout says which database holds each table of a deployment, so that
// ClickHouse's own users can enforce the split between open and restricted
// data: a user whose allow_databases lists only Open cannot read a
// restricted row, whatever SQL it runs.
//
//   - Open holds the tables of open feeds (raw and window tables) and the
//     results of jobs that read only open data.
//   - Restricted holds the tables of restricted feeds, their window tables,
//     the results of jobs that read restricted data, and the audit log
//     (which names restricted tables and holds callers' SQL).
//
// Callers write open tables by name alone (the connection's default
// database is Open) and restricted ones as Restricted.table (see SQLName).
// A Layout is a value; its methods are pure.
type Layout struct {
	Open       string
	Restricted string
}

// NewLayout returns the layout of a deployment whose database is db.
func NewLayout(db string) Layout { return Layout{Open: db, Restricted: RestrictedDatabase(db)} }

// FeedDatabase returns the database of a feed's tables: its raw table and
// the window tables of its pipeline.
func (l Layout) FeedDatabase(feed *catalog.Feed) string {
	if feed.Access == catalog.Restricted {
		return l.Restricted
	}
	return l.Open
}

// JobDatabase returns the database of the result table of a job whose
// (rendered) SQL is sql: Restricted when the SQL names the restricted
// database anywhere, since restricted tables can be reached no other way,
// else Open. The test errs towards Restricted: a job whose SQL merely
// mentions the name keeps its results with the restricted data.
func (l Layout) JobDatabase(sql string) string {
	if strings.Contains(strings.ToLower(sql), strings.ToLower(l.Restricted)) {
		return l.Restricted
	}
	return l.Open
}

// SQLName returns how users' SQL names table in database db: the name
// alone in Open (the default database of the API's connections), db.table
// elsewhere.
func (l Layout) SQLName(db, table string) string {
	if db == l.Open {
		return table
	}
	return db + "." + table
}

// FeedTable is the name users' SQL gives a feed's raw table.
func (l Layout) FeedTable(feed *catalog.Feed) string {
	return l.SQLName(l.FeedDatabase(feed), feed.Table())
}

// WindowTable is the name users' SQL gives the table of window w of a
// pipeline on feed.
func (l Layout) WindowTable(feed *catalog.Feed, w catalog.Window) string {
	return l.SQLName(l.FeedDatabase(feed), catalog.WindowTable(feed, w))
}

// AuditDatabase returns the database of the audit log's table: Restricted,
// so that a ClickHouse user denied the restricted data is denied the audit
// log too.
func (l Layout) AuditDatabase() string { return l.Restricted }

// AuditTable is the name users' SQL gives the audit log's table called
// table (AuditTable by default): Restricted.table.
func (l Layout) AuditTable(table string) string { return l.SQLName(l.AuditDatabase(), table) }

// DDL generates the SQL of the store's tables. All DDL of the store is
// made here, from one tableSpec per table (cluster.go), for a single server
// or, with Cluster set, for a cluster (Replicated*MergeTree behind a
// Distributed table, ON CLUSTER). Statements that make or change a table
// come as a list to run in order.
type DDL struct {
	// Database holds the tables of open feeds.
	Database string
	// Restricted holds the tables of restricted feeds. Default
	// RestrictedDatabase(Database).
	Restricted string
	// Server is the ClickHouse version; features newer than 18.16 (TTL) are
	// used only when it has them.
	Server Version
	// Cluster is the name of the ClickHouse cluster (remote_servers) the
	// tables are made on; "" for a single server. See cluster.go.
	Cluster string
}

// Features returns what the DDL uses of the server beyond 18.16 (see
// features.go).
func (d DDL) Features() Features { return FeaturesOf(d.Server) }

// Layout returns the databases of the DDL's tables.
func (d DDL) Layout() Layout {
	l := NewLayout(d.Database)
	if d.Restricted != "" {
		l.Restricted = d.Restricted
	}
	return l
}

// FeedTable returns the quoted database.table of a feed's raw table. Every
// statement of the store that names a feed's table takes it from here.
func (d DDL) FeedTable(feed *catalog.Feed) string {
	return quoteIdent(d.Layout().FeedDatabase(feed)) + "." + quoteIdent(feed.Table())
}

// WindowTable returns the quoted database.table of window w's table.
func (d DDL) WindowTable(feed *catalog.Feed, w catalog.Window) string {
	return quoteIdent(d.Layout().FeedDatabase(feed)) + "." + quoteIdent(catalog.WindowTable(feed, w))
}

// AuditTable returns the quoted database.table of the audit log's table
// called table. Every statement of the store that names the audit table
// takes it from here.
func (d DDL) AuditTable(table string) string {
	return quoteIdent(d.Layout().AuditDatabase()) + "." + quoteIdent(table)
}

// CreateAuditTable returns the statements that create the audit log's
// table called table if it is missing: MergeTree by month, ordered by
// time; at is in seconds (18.16 has no DateTime64) and at_ms keeps
// milliseconds.
func (d DDL) CreateAuditTable(table string) []string {
	return d.create(tableSpec{db: d.Layout().AuditDatabase(), name: table, columns: append(auditColumns[:len(auditColumns):len(auditColumns)], auditChainColumns...),
		engine: "MergeTree", partition: "toYYYYMM(at)", order: "at, department"})
}

// CreateDatabase returns the statement that creates database db if it is
// missing (on every server of the cluster in cluster mode).
func (d DDL) CreateDatabase(db string) string {
	return "CREATE DATABASE IF NOT EXISTS " + quoteIdent(db) + d.onCluster()
}

// MoveTable returns the statements that move table from database from to
// database to, keeping its data (RENAME TABLE across databases, which
// ClickHouse 18.16 has). In cluster mode they move the local replicated
// table on every server and drop the Distributed table in front of it,
// which names its database: the table's CREATE statements make it anew.
func (d DDL) MoveTable(from, to, table string) []string {
	rename := fmt.Sprintf("RENAME TABLE %s.%s TO %s.%s%s", quoteIdent(from), quoteIdent(d.storageName(table)), quoteIdent(to), quoteIdent(d.storageName(table)), d.onCluster())
	if d.Cluster == "" {
		return []string{rename}
	}
	return []string{rename, fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s", quoteIdent(from), quoteIdent(table), d.onCluster())}
}

// CreateTable returns the statements that create a feed's raw table if it
// is missing: MergeTree, partitioned by month of event time, ordered by key
// and event time, with a TTL from the retention where the server has TTL.
// In cluster mode the rows of a Kafka partition are on one shard (the
// Distributed table's sharding key is _partition; see ShardOf).
func (d DDL) CreateTable(feed *catalog.Feed) []string {
	order := make([]string, 0, len(feed.Key)+1)
	for _, k := range feed.Key {
		order = append(order, quoteIdent(k))
	}
	order = append(order, quoteIdent(feed.EventTime))
	t := tableSpec{db: d.Layout().FeedDatabase(feed), name: feed.Table(), columns: tableColumns(feed), engine: "MergeTree",
		partition: "toYYYYMM(" + quoteIdent(feed.EventTime) + ")", order: strings.Join(order, ", "), shardBy: quoteIdent(ColPartition)}
	if feed.Retention > 0 && d.Features().TTL {
		days := int(feed.Retention.Hours() / 24)
		if days < 1 {
			days = 1
		}
		t.ttl = fmt.Sprintf("%s + toIntervalDay(%d)", quoteIdent(feed.EventTime), days)
	}
	return d.create(t)
}

// AddColumn returns the statements that add a field to a feed's table (in
// cluster mode to its local and Distributed tables, on every server).
// 18.16 has no ADD COLUMN IF NOT EXISTS, so callers check system.columns
// first.
func (d DDL) AddColumn(feed *catalog.Feed, f catalog.Field) []string {
	return d.addColumn(d.Layout().FeedDatabase(feed), feed.Table(), column{f.Name, ColumnType(f)})
}

// quoteIdent quotes a ClickHouse identifier with backticks.
func quoteIdent(s string) string {
	return "`" + strings.NewReplacer("\\", "\\\\", "`", "\\`").Replace(s) + "`"
}
