package catalog

import "gopkg.in/yaml.v3"

// Quotas bound what a department may use of the API. A zero field takes
// the server's default (highway serve's --quota-* flags).
//
//	kind: department
//	name: TD
//	quotas:
//	  requests_per_minute: 1200
//	  rows_per_day: 50000000
//	  bytes_per_day: 21474836480
//	  pushed_records_per_minute: 120000
type Quotas struct {
	// RequestsPerMinute bounds the department's /api/ calls.
	RequestsPerMinute int
	// RowsPerDay and BytesPerDay bound what its queries, downloads and
	// live tails return in a day (Hong Kong time).
	RowsPerDay, BytesPerDay int
	// PushedRecordsPerMinute bounds the records it pushes.
	PushedRecordsPerMinute int
}

// Or returns q with each zero field taken from def.
func (q Quotas) Or(def Quotas) Quotas {
	pick := func(v, d int) int {
		if v > 0 {
			return v
		}
		return d
	}
	return Quotas{
		RequestsPerMinute:      pick(q.RequestsPerMinute, def.RequestsPerMinute),
		RowsPerDay:             pick(q.RowsPerDay, def.RowsPerDay),
		BytesPerDay:            pick(q.BytesPerDay, def.BytesPerDay),
		PushedRecordsPerMinute: pick(q.PushedRecordsPerMinute, def.PushedRecordsPerMinute),
	}
}

// decodeQuotas decodes a department's quotas block.
func decodeQuotas(d *decoder, dep *Department) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		q := &dep.Quotas
		d.mapping(n, path, []key{
			{name: "requests_per_minute", doc: "API calls per minute (default: highway serve --quota-requests-per-minute)", decode: d.integer(&q.RequestsPerMinute)},
			{name: "rows_per_day", doc: "rows its queries, downloads and live tails may return per day", decode: d.integer(&q.RowsPerDay)},
			{name: "bytes_per_day", doc: "bytes its queries, downloads and live tails may return per day", decode: d.integer(&q.BytesPerDay)},
			{name: "pushed_records_per_minute", doc: "records it may push per minute", decode: d.integer(&q.PushedRecordsPerMinute)},
		})
		for _, v := range []struct {
			name string
			n    int
		}{{"requests_per_minute", q.RequestsPerMinute}, {"rows_per_day", q.RowsPerDay}, {"bytes_per_day", q.BytesPerDay}, {"pushed_records_per_minute", q.PushedRecordsPerMinute}} {
			if v.n < 0 {
				d.add(n.Line, path+"."+v.name, "must not be negative, not %d (leave it out for the server's default)", v.n)
			}
		}
	}
}
