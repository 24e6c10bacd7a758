package catalog_test

import (
	"strings"
	"testing"

	"github.com/cityhighway/highway/highway/catalog"
)

func TestDepartmentQuotas(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       catalog.Quotas
		err        string
	}{
		{"none", "kind: department\nname: TD\n", catalog.Quotas{}, ""},
		{"some", "kind: department\nname: TD\nquotas:\n  rows_per_day: 1000\n  pushed_records_per_minute: 50\n",
			catalog.Quotas{RowsPerDay: 1000, PushedRecordsPerMinute: 50}, ""},
		{"negative", "kind: department\nname: TD\nquotas:\n  rows_per_day: -1\n", catalog.Quotas{}, "d.yaml:4: quotas.rows_per_day: must not be negative"},
		{"unknown key", "kind: department\nname: TD\nquotas:\n  rows: 5\n", catalog.Quotas{}, "quotas.rows"},
		{"not a number", "kind: department\nname: TD\nquotas:\n  bytes_per_day: 10GB\n", catalog.Quotas{}, "must be a whole number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := catalog.Parse("d.yaml", []byte(tc.yaml))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Department("TD").Quotas; got != tc.want {
				t.Errorf("quotas %+v, want %+v", got, tc.want)
			}
		})
	}
	def := catalog.Quotas{RequestsPerMinute: 600, RowsPerDay: 10, BytesPerDay: 20, PushedRecordsPerMinute: 30}
	if got := (catalog.Quotas{RowsPerDay: 5}).Or(def); got != (catalog.Quotas{RequestsPerMinute: 600, RowsPerDay: 5, BytesPerDay: 20, PushedRecordsPerMinute: 30}) {
		t.Errorf("Or: %+v", got)
	}
}
