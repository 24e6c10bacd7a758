// Package record owns what a feed's records are on the wire and in memory:
// the Arrow schema derived from a feed spec, and decoders that append wire
// records (JSON objects) to Arrow record batches, checking each against the
// spec.
package record

import (
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/cityhighway/highway/highway/catalog"
)

// Metadata keys set on schemas and fields derived from specs.
const (
	MetaFeed    = "highway.feed"
	MetaVersion = "highway.version"
	MetaUnit    = "highway.unit"
)

// ArrowType returns the Arrow type that holds values of t. Times are
// millisecond timestamps in UTC.
func ArrowType(t catalog.FieldType) arrow.DataType {
	switch t {
	case catalog.String:
		return arrow.BinaryTypes.String
	case catalog.Int64:
		return arrow.PrimitiveTypes.Int64
	case catalog.Float64:
		return arrow.PrimitiveTypes.Float64
	case catalog.Bool:
		return arrow.FixedWidthTypes.Boolean
	case catalog.Time:
		return &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
	}
	panic("record: unknown field type " + string(t) + " (the catalog validates types, so this is a bug)")
}

// Schema derives the Arrow schema of a feed: one column per field, in spec
// order, nullable unless the field is required.
func Schema(feed *catalog.Feed) *arrow.Schema {
	fields := make([]arrow.Field, len(feed.Fields))
	for i, f := range feed.Fields {
		var md arrow.Metadata
		if f.Unit != "" {
			md = arrow.NewMetadata([]string{MetaUnit}, []string{f.Unit})
		}
		fields[i] = arrow.Field{Name: f.Name, Type: ArrowType(f.Type), Nullable: !f.Required, Metadata: md}
	}
	md := arrow.NewMetadata([]string{MetaFeed, MetaVersion}, []string{feed.Name, strconv.Itoa(feed.Version)})
	return arrow.NewSchema(fields, &md)
}
