package apitest

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
)

// TestRecordOptionalColumns: pointer columns become nullable Arrow columns
// with a NULL for each nil.
func TestRecordOptionalColumns(t *testing.T) {
	s, f := "CW", 1.5
	rec := Record(Col{Name: "district", Values: []*string{&s, nil}}, Col{Name: "speed", Values: []*float64{nil, &f}})
	defer rec.Release()
	for i, want := range []struct {
		null  int
		value string
	}{{1, "CW"}, {0, "1.5"}} {
		col := rec.Column(i)
		if !rec.Schema().Field(i).Nullable || col.NullN() != 1 || !col.IsNull(want.null) {
			t.Errorf("column %d: nullable %v, nulls %d, null at %d %v", i, rec.Schema().Field(i).Nullable, col.NullN(), want.null, col.IsNull(want.null))
		}
		if got := col.ValueStr(1 - want.null); got != want.value {
			t.Errorf("column %d: value %q, want %q", i, got, want.value)
		}
	}
	if _, ok := rec.Column(0).(*array.String); !ok {
		t.Errorf("district is %T", rec.Column(0))
	}
}
