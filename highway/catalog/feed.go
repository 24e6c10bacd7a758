// Package catalog owns the specs that drive the platform: feeds, pipelines,
// jobs, connectors and departments. A spec is declared once, in YAML, and
// everything else — the Kafka topic, the Arrow schema, the ClickHouse DDL,
// the API's catalogue entry, the scheduler's jobs — is derived from it by the
// packages that own those systems.
package catalog

import (
	"strings"
	"time"

	"github.com/cityhighway/highway/highway/envelope"
)

// FieldType is the type of a feed field as written in a spec.
type FieldType string

// The field types a spec may use.
const (
	String  FieldType = "string"
	Int64   FieldType = "int64"
	Float64 FieldType = "float64"
	Bool    FieldType = "bool"
	Time    FieldType = "time"
)

// fieldTypes lists the valid field types in the order the docs show them.
var fieldTypes = []FieldType{String, Int64, Float64, Bool, Time}

// Numeric reports whether values of t are numbers (and so may have min and max).
func (t FieldType) Numeric() bool { return t == Int64 || t == Float64 }

// Access says who may read a feed.
type Access string

// The access levels of a feed.
const (
	// Open feeds are readable by everyone, including the public open-data routes.
	Open Access = "open"
	// Restricted feeds are readable only by departments granted them.
	Restricted Access = "restricted"
)

// Field is one column of a feed.
type Field struct {
	Name string
	Type FieldType
	Unit string
	// Description is the English text of Descriptions, for callers that
	// show one language.
	Description  string
	Descriptions Text
	// Required fields must be present and non-null in every record.
	Required bool
	// Min and Max bound numeric values (inclusive); nil means unbounded.
	Min, Max *float64
	// Enum, when not empty, lists the only values a string field may take.
	Enum []string
	// Personal fields never appear in open data, whatever the feed's access.
	Personal bool
	// Line is the line of the field in its spec file, for messages.
	Line int
}

// Feed is the declaration of one real-time feed.
type Feed struct {
	Name       string
	Department string
	// Title is a short name for people, in each language given (empty when
	// the spec has none; pages then show Name).
	Title Text
	// Description is the English text of Descriptions, for callers that
	// show one language.
	Description  string
	Descriptions Text
	Licence      string
	// Version is the schema version; it is carried with every row's provenance.
	Version int
	Fields  []Field
	// Key lists the fields that identify the thing a record is about
	// (a station, a detector and lane); with EventTime they identify a record.
	Key []string
	// EventTime names the time field that says when the observation was made.
	EventTime string
	// Interval is how often the source publishes; freshness is judged against it.
	Interval time.Duration
	Access   Access
	// Retention is how long rows are kept; zero keeps them forever.
	Retention time.Duration
	// Expected is what the publisher promises beyond Interval (nil: nothing).
	Expected *Expected
	// File and Line locate the spec, for messages.
	File string
	Line int
}

// Field returns the field called name, or nil if the feed has none.
func (f *Feed) Field(name string) *Field {
	for i := range f.Fields {
		if f.Fields[i].Name == name {
			return &f.Fields[i]
		}
	}
	return nil
}

// FieldIndex returns the position of the field called name, or -1.
func (f *Feed) FieldIndex(name string) int {
	for i := range f.Fields {
		if f.Fields[i].Name == name {
			return i
		}
	}
	return -1
}

// Topic is the Kafka topic that carries the feed's records.
func (f *Feed) Topic() string { return f.Name }

// DLQTopic is the Kafka topic that receives the feed's rejected records
// (envelope.DLQTopic of its topic).
func (f *Feed) DLQTopic() string { return envelope.DLQTopic(f.Topic()) }

// Table is the ClickHouse table that holds the feed's rows: the feed name with
// dots replaced by underscores, so it needs no quoting.
func (f *Feed) Table() string { return strings.ReplaceAll(f.Name, ".", "_") }
