package record_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/record"
)

// FuzzDecoder feeds records of td.traffic.detectors, one per line of the
// input, to a Decoder. Append must not panic and must return nil or a *Reject;
// Len must count the accepted records; and the batch must hold exactly those,
// every value within the spec.
func FuzzDecoder(f *testing.F) {
	c, err := catalog.Builtin()
	if err != nil {
		f.Fatal(err)
	}
	feed := c.Feed("td.traffic.detectors")
	for _, seed := range [][]string{
		{
			`{"detector_id":"AID01101","lane_id":"Fast Lane","direction":"South East","district":"YTM","speed":68.2,"occupancy":7.5,"volume":12,"speed_sd":5.1,"valid":true,"period_from":"2026-11-26T08:30:00+08:00","period_to":"2026-11-26T08:30:30+08:00"}`,
			`{"detector_id":"AID01102","lane_id":"Slow Lane","speed":0,"occupancy":-1,"volume":0,"valid":false,"period_from":1795653000000}`,
			`{"detector_id":"AID\u0030\ud83d\ude97","lane_id":"Middle Lane","speed":null,"valid":true,"period_from":"2026-11-26T00:30:00.5Z"}`,
		},
		{
			`{"detector_id":"AID01101","lane_id":"Fast Lane","speed":301,"valid":true,"period_from":0}`,
			`{"detector_id":"AID01101","lane_id":"Fast Lane","volume":1.5,"valid":true,"period_from":0}`,
			`{"detector_id":"AID01101","lane_id":"Fast Lane","valid":"yes","period_from":"yesterday"}`,
			`{"detector_id":"AID01101","detector_id":"x","lane_id":"Fast Lane","valid":true,"period_from":0}`,
		},
		{`{"detector_id":"A","lane_id":"B","valid":true,"period_from":0} {}`},
		{`{"detector_id":"A\`, `{"detector_id":"\ud800\u00`, `[1,2]`, `{"lane_id":{"a":1}}`, `{"speed":-}`, ``},
		{"{\"detector_id\":\"A\x00\",\"lane_id\":\"\xff\",\"valid\":true,\"period_from\":0}"},
	} {
		f.Add([]byte(strings.Join(seed, "\n")))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := record.NewDecoder(feed)
		defer d.Release()

		accepted := 0
		var kept [][]byte
		for _, rec := range bytes.Split(data, []byte("\n")) {
			err := d.Append(rec)
			if err == nil {
				accepted++
				kept = append(kept, rec)
			} else {
				var r *record.Reject
				if !errors.As(err, &r) || !errors.Is(err, record.ErrRejected) {
					t.Fatalf("Append(%q) = %T %v, want a *Reject", rec, err, err)
				}
				if r.Reason == "" || r.Offset < 0 || r.Offset > len(rec) {
					t.Fatalf("Append(%q): reject without a reason or outside the record: %#v", rec, r)
				}
			}
			if d.Len() != accepted {
				t.Fatalf("Len() = %d after %d accepted records", d.Len(), accepted)
			}
		}

		b := d.NewRecordBatch()
		defer b.Release()
		if int(b.NumRows()) != accepted {
			t.Fatalf("batch has %d rows, want %d", b.NumRows(), accepted)
		}
		for row, rec := range kept {
			checkLikeEncodingJSON(t, feed, b, row, rec)
		}
		for i, fld := range feed.Fields {
			col := b.Column(i)
			if col.Len() != accepted {
				t.Fatalf("column %s has %d values, want %d", fld.Name, col.Len(), accepted)
			}
			if fld.Required && col.NullN() != 0 {
				t.Fatalf("required column %s has %d nulls", fld.Name, col.NullN())
			}
			for row := 0; row < col.Len(); row++ {
				if col.IsNull(row) {
					continue
				}
				var v float64
				switch col := col.(type) {
				case *array.String:
					if !utf8.ValidString(col.Value(row)) {
						t.Fatalf("column %s row %d is not UTF-8: %q", fld.Name, row, col.Value(row))
					}
					continue
				case *array.Int64:
					v = float64(col.Value(row))
				case *array.Float64:
					v = col.Value(row)
				default:
					continue
				}
				if (fld.Min != nil && v < *fld.Min) || (fld.Max != nil && v > *fld.Max) {
					t.Fatalf("column %s row %d = %v is outside the field's min and max", fld.Name, row, v)
				}
			}
		}
	})
}

// checkLikeEncodingJSON fails t when row of b differs from what
// encoding/json and time.Parse read in rec: the decoder's own scanner must
// agree with the standard library on every record it accepts.
func checkLikeEncodingJSON(t *testing.T, feed *catalog.Feed, b arrow.RecordBatch, row int, rec []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(rec))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		t.Fatalf("accepted %q, which encoding/json refuses: %v", rec, err)
	}
	for i, fld := range feed.Fields {
		col := b.Column(i)
		v, present := obj[fld.Name]
		if !present || v == nil {
			if !col.IsNull(row) {
				t.Fatalf("%q: field %s is missing or null, but the batch holds %v", rec, fld.Name, col.ValueStr(row))
			}
			continue
		}
		var ok bool
		switch col := col.(type) {
		case *array.String:
			ok = v == col.Value(row)
		case *array.Float64:
			f, err := v.(json.Number).Float64()
			ok = err == nil && f == col.Value(row)
		case *array.Int64:
			f, err := v.(json.Number).Float64()
			ok = err == nil && f == float64(col.Value(row))
		case *array.Boolean:
			ok = v == col.Value(row)
		case *array.Timestamp:
			got := int64(col.Value(row))
			switch v := v.(type) {
			case string:
				want, err := time.Parse(time.RFC3339Nano, v)
				ok = err == nil && want.UnixMilli() == got
			case json.Number: // milliseconds, perhaps written as 1.0e3
				want, err := v.Float64()
				ok = err == nil && want == float64(got)
			}
		}
		if !ok {
			t.Fatalf("%q: field %s is %v in the batch, but encoding/json reads %#v", rec, fld.Name, col.ValueStr(row), v)
		}
	}
}
