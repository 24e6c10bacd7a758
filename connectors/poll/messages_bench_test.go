package poll

import (
	"fmt"
	"testing"
	"time"

	"github.com/cityhighway/highway/connectors/connector"
	"github.com/cityhighway/highway/highway/catalog"
)

// BenchmarkMessages is the poller's work per record of one TD detector
// payload (1,800 records, 600 detectors by three lanes) once it is parsed:
// validation, de-duplication and the Kafka messages. One op is one record.
func BenchmarkMessages(b *testing.B) {
	cat, err := catalog.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	lanes := []string{"Fast Lane", "Middle Lane", "Slow Lane"}
	var res connector.Result
	for i := range 1800 {
		det, lane := fmt.Sprintf("AID%05d", 10000+i/3), lanes[i%3]
		res.Add(connector.Record{Feed: "td.traffic.detectors", Key: connector.JoinKey(det, lane), Where: det,
			Value: fmt.Appendf(nil, `{"detector_id":%q,"lane_id":%q,"direction":"South East","district":"YTM","speed":%d.5,"occupancy":7.5,"volume":12,"speed_sd":5.1,"valid":true,"period_from":"2026-11-26T08:30:00+08:00","period_to":"2026-11-26T08:30:30+08:00"}`,
				det, lane, 20+i%80)})
	}
	p := New(Config{Catalog: cat}, nil)
	src := Source{Name: "td.rawspeedvol", URL: "https://example/rawSpeedVol-all.xml", Feeds: []string{"td.traffic.detectors"}}
	fetched := time.Date(2026, 11, 26, 0, 31, 0, 0, time.UTC)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		st, _ := loadState("", src.Name)
		out := messagesOf(b, p, src, res, fetched, st)
		if out != len(res.Records) {
			b.Fatalf("%d messages of %d records", out, len(res.Records))
		}
		n += out
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/record")
}
