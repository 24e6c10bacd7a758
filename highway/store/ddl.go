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
	// The source a record was fetched from, as its headers say.
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

// DDL generates the SQL of feed tables. All DDL of the store is made here,
// so cluster tables (Replicated*MergeTree behind a Distributed table, ON
// CLUSTER) can be added by setting a field without touching callers.
type DDL struct {
	// Database holds the tables.
	Database string
	// Server is the ClickHouse version; features newer than 18.16 (TTL) are
	// used only when it has them.
	Server Version
}

// CreateTable returns the CREATE TABLE IF NOT EXISTS statement of a feed's
// raw table: MergeTree, partitioned by month of event time, ordered by key
// and event time, with a TTL from the retention where the server has TTL.
func (d DDL) CreateTable(feed *catalog.Feed) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s.%s (\n", quoteIdent(d.Database), quoteIdent(feed.Table()))
	for i, c := range tableColumns(feed) {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, "  %s %s", quoteIdent(c.name), c.typ)
	}
	order := make([]string, 0, len(feed.Key)+1)
	for _, k := range feed.Key {
		order = append(order, quoteIdent(k))
	}
	order = append(order, quoteIdent(feed.EventTime))
	fmt.Fprintf(&b, "\n) ENGINE = MergeTree()\nPARTITION BY toYYYYMM(%s)\nORDER BY (%s)", quoteIdent(feed.EventTime), strings.Join(order, ", "))
	if feed.Retention > 0 && d.Server.AtLeast(19, 6) {
		days := int(feed.Retention.Hours() / 24)
		if days < 1 {
			days = 1
		}
		fmt.Fprintf(&b, "\nTTL %s + toIntervalDay(%d)", quoteIdent(feed.EventTime), days)
	}
	return b.String()
}

// AddColumn returns the statement that adds a field to a feed's table. (18.16
// has no ADD COLUMN IF NOT EXISTS, so callers check system.columns first.)
func (d DDL) AddColumn(feed *catalog.Feed, f catalog.Field) string {
	return fmt.Sprintf("ALTER TABLE %s.%s ADD COLUMN %s %s", quoteIdent(d.Database), quoteIdent(feed.Table()), quoteIdent(f.Name), ColumnType(f))
}

// quoteIdent quotes a ClickHouse identifier with backticks.
func quoteIdent(s string) string {
	return "`" + strings.NewReplacer("\\", "\\\\", "`", "\\`").Replace(s) + "`"
}
