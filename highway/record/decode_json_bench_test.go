package record_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/record"
)

// detectorRecords returns n distinct td.traffic.detectors records shaped like
// the Transport Department's feed: three lanes per detector, 30-second
// periods, times mostly in RFC 3339 and sometimes in epoch milliseconds, and
// now and then a detector with no measurement.
func detectorRecords(n int) [][]byte {
	rng := rand.New(rand.NewPCG(2026, 11))
	lanes := []string{"Fast Lane", "Middle Lane", "Slow Lane"}
	directions := []string{"North", "South", "East", "West", "South East", "North West"}
	districts := []string{"CW", "WC", "E", "S", "YTM", "SSP", "KC", "WTS", "KT", "TW", "KwT", "TM", "YL", "N", "TP", "ST", "SK", "Is"}
	hkt := time.FixedZone("HKT", 8*3600)
	start := time.Date(2026, 11, 26, 8, 0, 0, 0, hkt)
	recs := make([][]byte, n)
	for i := range recs {
		detector := i / len(lanes) % 600
		from := start.Add(time.Duration(i/(600*len(lanes))) * 30 * time.Second)
		to := from.Add(30 * time.Second)
		var period string
		if i%5 == 0 {
			period = fmt.Sprintf(`"period_from":%d,"period_to":%d`, from.UnixMilli(), to.UnixMilli())
		} else {
			period = fmt.Sprintf(`"period_from":%q,"period_to":%q`, from.Format(time.RFC3339), to.Format(time.RFC3339))
		}
		var measures string
		if i%50 == 0 {
			measures = `"speed":null,"occupancy":null,"volume":0,"speed_sd":null,"valid":false`
		} else {
			measures = fmt.Sprintf(`"speed":%.1f,"occupancy":%.1f,"volume":%d,"speed_sd":%.2f,"valid":true`,
				20+rng.Float64()*90, rng.Float64()*60, rng.IntN(40), rng.Float64()*15)
		}
		recs[i] = fmt.Appendf(nil, `{"detector_id":"AID%05d","lane_id":%q,"direction":%q,"district":%q,%s,%s}`,
			10000+detector, lanes[i%len(lanes)], directions[detector%len(directions)], districts[detector%len(districts)], measures, period)
	}
	return recs
}

// BenchmarkDecoder decodes td.traffic.detectors records one by one into
// batches of 4096 rows reserved ahead, as a processor does with a
// micro-batch. One op is one
// record.
func BenchmarkDecoder(b *testing.B) {
	c, err := catalog.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	recs := detectorRecords(10_000)
	size := 0
	for _, r := range recs {
		size += len(r)
	}
	const batchRows = 4096
	d := record.NewDecoder(c.Feed("td.traffic.detectors"))
	defer d.Release()

	b.SetBytes(int64(size / len(recs)))
	b.ReportAllocs()
	n := 0
	d.Reserve(batchRows)
	for b.Loop() {
		if err := d.Append(recs[n%len(recs)]); err != nil {
			b.Fatalf("record %d: %v", n%len(recs), err)
		}
		n++
		if d.Len() == batchRows {
			d.NewRecordBatch().Release()
			d.Reserve(batchRows)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

func TestDetectorRecordsAreDistinctAndValid(t *testing.T) {
	c, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	d := record.NewDecoder(c.Feed("td.traffic.detectors"))
	defer d.Release()
	seen := map[string]bool{}
	for i, r := range detectorRecords(10_000) {
		if seen[string(r)] {
			t.Fatalf("record %d is a repeat: %s", i, r)
		}
		seen[string(r)] = true
		if err := d.Append(r); err != nil {
			t.Fatalf("record %d: %v: %s", i, err, r)
		}
	}
	d.NewRecordBatch().Release()
}
