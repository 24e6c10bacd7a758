package td_test

import (
	"fmt"
	"time"

	"github.com/cityhighway/highway/connectors/connector"
	"github.com/cityhighway/highway/connectors/td"
)

// A minute of one detector: the 00:00 period is dated the day before, as TD
// does; the fetch time moves it to its day. The slow lane saw no vehicle, so
// its speed (the limit, 70) is null.
func ExampleParseDetectors() {
	payload := []byte(`<?xml version="1.0" encoding="utf-8"?><raw_speed_volume_list><date>2025-08-04</date><periods>` +
		`<period><period_from>00:00:00</period_from><period_to>00:00:30</period_to><detectors>` +
		`<detector><detector_id>AID01101</detector_id><direction>South East</direction><lanes>` +
		`<lane><lane_id>Fast Lane</lane_id><speed>66</speed><occupancy>1</occupancy><volume>3</volume><s.d.>7.5</s.d.><valid>Y</valid></lane>` +
		`<lane><lane_id>Slow Lane</lane_id><speed>70</speed><occupancy>0</occupancy><volume>0</volume><s.d.>0</s.d.><valid>Y</valid></lane>` +
		`<lane><lane_id>Middle Lane</lane_id><speed>fast</speed><occupancy>0</occupancy><volume>0</volume><s.d.>0</s.d.><valid>Y</valid></lane>` +
		`</lanes></detector></detectors></period></periods></raw_speed_volume_list>`)
	locs := td.Locations{"AID01101": {District: "S"}}
	fetched := time.Date(2025, 8, 5, 0, 6, 40, 0, connector.HKT)

	res, err := td.ParseDetectors(payload, fetched, locs)
	if err != nil {
		panic(err)
	}
	for _, r := range res.Records {
		fmt.Printf("%s\n", r.Value)
	}
	for _, r := range res.Rejects {
		fmt.Printf("reject %s: %s\n", r.Where, r.Reason)
	}
	// Output:
	// {"detector_id":"AID01101","lane_id":"Fast Lane","direction":"South East","district":"S","speed":66,"occupancy":1,"volume":3,"speed_sd":7.5,"valid":true,"period_from":"2025-08-05T00:00:00+08:00","period_to":"2025-08-05T00:00:30+08:00"}
	// {"detector_id":"AID01101","lane_id":"Slow Lane","direction":"South East","district":"S","speed":null,"occupancy":0,"volume":0,"speed_sd":null,"valid":true,"period_from":"2025-08-05T00:00:00+08:00","period_to":"2025-08-05T00:00:30+08:00"}
	// reject period 00:00:00, detector AID01101, lane 3: speed "fast" is not a number
}
