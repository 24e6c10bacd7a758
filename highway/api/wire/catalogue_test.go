package wire

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/cityhighway/highway/highway/catalog"
)

// TestFeedRoundTrip: every built-in feed goes to the catalogue's JSON and
// back to the same spec, so a client's catalog.Feed (the Grafana plugin's
// query builder) is the server's, field for field.
func TestFeedRoundTrip(t *testing.T) {
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Feeds()) == 0 {
		t.Fatal("the built-in catalogue has no feeds")
	}
	for _, f := range cat.Feeds() {
		t.Run(f.Name, func(t *testing.T) {
			b, err := json.Marshal(FeedOf(f))
			if err != nil {
				t.Fatal(err)
			}
			var got Feed
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			want := *f
			// Not in the catalogue: what the publisher promises, and where
			// the spec's file is.
			want.Expected, want.File, want.Line = nil, "", 0
			want.Fields = append([]catalog.Field(nil), f.Fields...)
			for i := range want.Fields {
				want.Fields[i].Line = 0
			}
			spec := got.Spec()
			for i := range max(len(spec.Fields), len(want.Fields)) {
				if i >= len(spec.Fields) || i >= len(want.Fields) || !reflect.DeepEqual(spec.Fields[i], want.Fields[i]) {
					t.Fatalf("field %d after the round trip through %s differs", i, b)
				}
			}
			spec.Fields, want.Fields = nil, nil
			if !reflect.DeepEqual(*spec, want) {
				t.Errorf("round trip through %s\n got %+v\nwant %+v", b, *spec, want)
			}
			if got.Topic != f.Topic() || got.DLQTopic != f.DLQTopic() {
				t.Errorf("topics %q, %q; want %q, %q", got.Topic, got.DLQTopic, f.Topic(), f.DLQTopic())
			}
		})
	}
}

// TestFieldJSON pins the field's JSON names, which clients of other
// versions read.
func TestFieldJSON(t *testing.T) {
	lo, hi := 0.0, 300.0
	tests := []struct {
		name string
		in   catalog.Field
		want string
	}{
		{"bare", catalog.Field{Name: "station", Type: catalog.String},
			`{"name":"station","type":"string","required":false}`},
		{"full", catalog.Field{Name: "speed", Type: catalog.Float64, Unit: "km/h", Description: "speed",
			Descriptions: catalog.Text{"en": "speed"}, Required: true, Min: &lo, Max: &hi, Enum: []string{"a"}, Personal: true},
			`{"name":"speed","type":"float64","unit":"km/h","description":"speed","descriptions":{"en":"speed"},"required":true,"min":0,"max":300,"enum":["a"],"personal":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(FieldOf(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("got  %s\nwant %s", b, tt.want)
			}
			if back := FieldOf(tt.in).Spec(); !reflect.DeepEqual(back, tt.in) {
				t.Errorf("Spec() = %+v, want %+v", back, tt.in)
			}
		})
	}
}
