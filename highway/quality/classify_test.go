package quality

import (
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/store"
)

func TestClassify(t *testing.T) {
	tests := []struct{ reason, class, field string }{
		{"field speed: value 350: above the maximum 300", ClassRange, "speed"},
		{"period 21:27:00, detector AID01101, lane 2: field occupancy: value 500: above the maximum 100", ClassRange, "occupancy"},
		{"field level: value -1: below the minimum 0", ClassRange, "level"},
		{"field risk: value \"extreme\": not one of low, high", ClassEnum, "risk"},
		{"field at: required field is missing or null", ClassRequired, "at"},
		{"field colour: unknown field; the feed x.y has a, b", ClassUnknownField, "colour"},
		{"field count: value \"five\": must be a whole number, not a string", ClassType, "count"},
		{"period 21:27:00, detector AID01101, lane 1: speed \"fast\" is not a number", ClassType, NoField},
		{`car_park[2].vehicle_type[0].service_category[0]: field vacancy (from "vacancy"): "lots" is not a whole number`, ClassType, "vacancy"},
		{"at byte 0: a record must be a JSON object starting with '{'", ClassMalformed, NoField},
		{"late: window 10:00-10:05 has closed", ClassLate, NoField},
		{"field note: something new", ClassOther, "note"},
	}
	for _, tt := range tests {
		class, field := Classify(tt.reason)
		if class != tt.class || field != tt.field {
			t.Errorf("Classify(%q) = %s, %s; want %s, %s", tt.reason, class, field, tt.class, tt.field)
		}
	}
}

func TestDeadLetterOf(t *testing.T) {
	at := time.Date(2026, 3, 1, 2, 3, 4, 5e6, time.UTC)
	processor := bus.DeadLetter(bus.Message{Topic: "city.x", Partition: 1, Offset: 42, Value: []byte(`{}`)}, "field v: value 9: above the maximum 5", at)
	processor.Partition, processor.Offset = 0, 7
	d := DeadLetterOf("city.x", &processor)
	want := store.DeadLetter{Feed: "city.x", Partition: 0, Offset: 7, RejectedAt: at, Reason: "field v: value 9: above the maximum 5",
		Class: ClassRange, Field: "v", Stage: store.StageProcessor, SourcePartition: 1, SourceOffset: 42}
	if d != want {
		t.Errorf("processor's reject:\n got %+v\nwant %+v", d, want)
	}
	source := bus.DeadLetter(bus.Message{Topic: "city.x", Offset: -1}, "at byte 3: expected ',' or '}' after a value", at)
	d = DeadLetterOf("city.x", &source)
	if d.Stage != store.StageSource || d.SourceOffset != -1 || d.SourcePartition != -1 || d.Class != ClassMalformed || !d.RejectedAt.Equal(at) {
		t.Errorf("connector's reject: %+v", d)
	}
}

func TestMerge(t *testing.T) {
	rows := []store.QualityRow{
		{Feed: "f", Bucket: t0, BucketSeconds: 3600, Rows: 10, Rejected: 1, Gaps: 1, Score: 90, Freshness: "fresh",
			Parts: store.QualityParts{Completeness: 1, Validity: 0.9}, Rejects: store.Rejects{ByReason: map[string]uint64{ClassRange: 1}},
			Reconciliation: &store.Reconciliation{Messages: 10, Stored: 9, Unexplained: 1}},
		{Feed: "f", Bucket: t1, BucketSeconds: 3600, Rows: 20, Gaps: 2, Score: 80, Freshness: "late", KeysReporting: 3,
			Parts: store.QualityParts{Completeness: 0.5, Validity: 1}, Rejects: store.Rejects{ByReason: map[string]uint64{ClassRange: 2}}},
	}
	m := Merge(rows)
	if m.Rows != 30 || m.Rejected != 1 || m.Gaps != 3 || m.Score != 85 || m.Freshness != "late" || m.KeysReporting != 3 ||
		m.Parts.Completeness != 0.75 || m.Parts.Validity != 0.95 || m.Rejects.ByReason[ClassRange] != 3 ||
		m.Reconciliation == nil || m.Reconciliation.Unexplained != 1 || !m.Bucket.Equal(t0) {
		t.Errorf("Merge = %+v", m)
	}
}
