package wire

import (
	"time"

	"github.com/cityhighway/highway/highway/catalog"
)

// Field is a feed field in the catalogue (GET /api/v1/feeds): its spec,
// as catalog.Field has it.
type Field struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Unit        string `json:"unit,omitempty"`
	Description string `json:"description,omitempty"`
	// Descriptions is the description in every language the spec gives.
	Descriptions catalog.Text `json:"descriptions,omitempty"`
	Required     bool         `json:"required"`
	Min          *float64     `json:"min,omitempty"`
	Max          *float64     `json:"max,omitempty"`
	Enum         []string     `json:"enum,omitempty"`
	// Personal fields are never in open data.
	Personal bool `json:"personal,omitempty"`
}

// FieldOf is the catalogue's entry of a spec's field.
func FieldOf(f catalog.Field) Field {
	return Field{Name: f.Name, Type: string(f.Type), Unit: f.Unit, Description: f.Description, Descriptions: f.Descriptions,
		Required: f.Required, Min: f.Min, Max: f.Max, Enum: f.Enum, Personal: f.Personal}
}

// Spec returns the field as a catalog.Field again: the inverse of FieldOf.
func (f Field) Spec() catalog.Field {
	return catalog.Field{Name: f.Name, Type: catalog.FieldType(f.Type), Unit: f.Unit, Description: f.Description,
		Descriptions: f.Descriptions, Required: f.Required, Min: f.Min, Max: f.Max, Enum: f.Enum, Personal: f.Personal}
}

// Feed is a feed in the catalogue (GET /api/v1/feeds and
// /api/v1/feeds/{feed}): its spec, where it lives, and how much and how
// fresh its data is. The server adds what only it knows (api.FeedInfo);
// a client ignores what it does not decode.
type Feed struct {
	Name       string `json:"name"`
	Department string `json:"department"`
	// Title is the feed's short name for people, per language.
	Title       catalog.Text `json:"title,omitempty"`
	Description string       `json:"description,omitempty"`
	// Descriptions is the description in every language the spec gives.
	Descriptions     catalog.Text `json:"descriptions,omitempty"`
	Licence          string       `json:"licence,omitempty"`
	Access           string       `json:"access"`
	Version          int          `json:"version"`
	IntervalSeconds  float64      `json:"interval_seconds"`
	RetentionSeconds float64      `json:"retention_seconds,omitempty"`
	Key              []string     `json:"key"`
	EventTime        string       `json:"event_time"`
	Fields           []Field      `json:"fields"`
	Topic            string       `json:"topic"`
	DLQTopic         string       `json:"dlq_topic"`
	// Table is the feed's table as POST /api/v1/query names it: alone for
	// an open feed, <database>_restricted.table for a restricted one.
	Table string `json:"table"`
	// Database is the ClickHouse database that holds the feed's tables.
	Database string `json:"database,omitempty"`
	// WindowTables are the tables of the feed's pipeline windows, named
	// as Table is.
	WindowTables    []string   `json:"window_tables,omitempty"`
	Rows            uint64     `json:"rows"`
	LatestEventTime *time.Time `json:"latest_event_time"`
	// Freshness is "fresh" (latest event within two intervals), "late"
	// (within five), "stale" (older), "empty" (no rows yet) or "unknown".
	Freshness string `json:"freshness"`
	// StatsError says why rows and freshness are unknown, if they are.
	StatsError string `json:"stats_error,omitempty"`
}

// FeedOf is the catalogue's entry of a feed's spec: everything but where
// its tables are (Table, Database, WindowTables) and what ClickHouse holds
// of it (Rows, LatestEventTime, Freshness, StatsError), which the server
// fills in.
func FeedOf(f *catalog.Feed) Feed {
	out := Feed{
		Name: f.Name, Department: f.Department, Title: f.Title, Description: f.Description, Descriptions: f.Descriptions,
		Licence: f.Licence, Access: string(f.Access), Version: f.Version, IntervalSeconds: f.Interval.Seconds(),
		RetentionSeconds: f.Retention.Seconds(), Key: f.Key, EventTime: f.EventTime, Topic: f.Topic(), DLQTopic: f.DLQTopic(),
	}
	for _, fld := range f.Fields {
		out.Fields = append(out.Fields, FieldOf(fld))
	}
	return out
}

// Spec returns the feed as a catalog.Feed, so that a client checks queries
// against a feed from the API exactly as against one from the built-in
// catalogue: the inverse of FeedOf for the spec's parts.
func (f *Feed) Spec() *catalog.Feed {
	out := &catalog.Feed{
		Name: f.Name, Department: f.Department, Title: f.Title, Description: f.Description, Descriptions: f.Descriptions,
		Licence: f.Licence, Access: catalog.Access(f.Access), Version: f.Version, Key: f.Key, EventTime: f.EventTime,
		Interval:  time.Duration(f.IntervalSeconds * float64(time.Second)),
		Retention: time.Duration(f.RetentionSeconds * float64(time.Second)),
	}
	for _, fld := range f.Fields {
		out.Fields = append(out.Fields, fld.Spec())
	}
	return out
}
