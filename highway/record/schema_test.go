package record_test

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/record"
)

func TestSchema(t *testing.T) {
	feed := parseFeed(t, readingsSpec, "city.test.readings")
	s := record.Schema(feed)

	timestamp := &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
	want := []struct {
		name     string
		typ      arrow.DataType
		nullable bool
		unit     string
	}{
		{"station", arrow.BinaryTypes.String, false, ""},
		{"count", arrow.PrimitiveTypes.Int64, true, ""},
		{"level", arrow.PrimitiveTypes.Float64, true, "m"},
		{"open", arrow.FixedWidthTypes.Boolean, true, ""},
		{"risk", arrow.BinaryTypes.String, true, ""},
		{"note", arrow.BinaryTypes.String, true, ""},
		{"at", timestamp, false, ""},
	}
	if s.NumFields() != len(want) {
		t.Fatalf("schema has %d fields, want %d: %v", s.NumFields(), len(want), s)
	}
	for i, w := range want {
		f := s.Field(i)
		if f.Name != w.name || !arrow.TypeEqual(f.Type, w.typ) || f.Nullable != w.nullable {
			t.Errorf("field %d = %s %v nullable=%v, want %s %v nullable=%v", i, f.Name, f.Type, f.Nullable, w.name, w.typ, w.nullable)
		}
		unit, ok := f.Metadata.GetValue(record.MetaUnit)
		if unit != w.unit || ok != (w.unit != "") {
			t.Errorf("field %s: unit %q (present %v), want %q", f.Name, unit, ok, w.unit)
		}
		if w.unit == "" && f.Metadata.Len() != 0 {
			t.Errorf("field %s: metadata %v, want none", f.Name, f.Metadata)
		}
	}

	md := s.Metadata()
	if v, _ := md.GetValue(record.MetaFeed); v != "city.test.readings" {
		t.Errorf("%s = %q", record.MetaFeed, v)
	}
	if v, _ := md.GetValue(record.MetaVersion); v != "2" {
		t.Errorf("%s = %q, want 2", record.MetaVersion, v)
	}
	if md.Len() != 2 {
		t.Errorf("schema metadata %v, want only feed and version", md)
	}

	d := record.NewDecoder(feed)
	defer d.Release()
	if !d.Schema().Equal(s) {
		t.Errorf("decoder schema %v, want %v", d.Schema(), s)
	}
}

func TestSchemaBuiltin(t *testing.T) {
	c, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, feed := range c.Feeds() {
		s := record.Schema(feed)
		if s.NumFields() != len(feed.Fields) {
			t.Errorf("%s: %d columns for %d fields", feed.Name, s.NumFields(), len(feed.Fields))
		}
		for i, f := range feed.Fields {
			if s.Field(i).Name != f.Name || s.Field(i).Nullable == f.Required {
				t.Errorf("%s: column %d is %v, field %+v", feed.Name, i, s.Field(i), f)
			}
		}
		if v, _ := s.Metadata().GetValue(record.MetaVersion); v != "1" {
			t.Errorf("%s: version %q, want 1", feed.Name, v)
		}
	}
	td := record.Schema(c.Feed("td.traffic.detectors"))
	if unit, _ := td.Field(td.FieldIndices("speed")[0]).Metadata.GetValue(record.MetaUnit); unit != "km/h" {
		t.Errorf("td.traffic.detectors speed unit %q, want km/h", unit)
	}
}

func TestArrowType(t *testing.T) {
	tests := []struct {
		t    catalog.FieldType
		want arrow.DataType
	}{
		{catalog.String, arrow.BinaryTypes.String},
		{catalog.Int64, arrow.PrimitiveTypes.Int64},
		{catalog.Float64, arrow.PrimitiveTypes.Float64},
		{catalog.Bool, arrow.FixedWidthTypes.Boolean},
		{catalog.Time, &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
	}
	for _, tt := range tests {
		if got := record.ArrowType(tt.t); !arrow.TypeEqual(got, tt.want) {
			t.Errorf("ArrowType(%s) = %v, want %v", tt.t, got, tt.want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Errorf("ArrowType of an unknown type did not panic")
		}
	}()
	record.ArrowType("decimal")
}
