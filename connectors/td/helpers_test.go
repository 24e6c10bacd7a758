package td

import (
	"fmt"
	"strings"

	ct "github.com/cityhighway/highway/connectors/connector/connectortest"
)

type (
	want       = ct.Want
	wantReject = ct.WantReject
)

// The builders below write rawSpeedVol-all.xml the way TD does: one line, no
// namespace.

func rawSpeedVol(date string, periods ...string) string {
	return `<?xml version="1.0" encoding="utf-8"?><raw_speed_volume_list xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="https://static.data.gov.hk/td/traffic-data-strategic-major-roads/info/SpeedVolOcc-BR.xsd"><date>` +
		date + `</date><periods>` + strings.Join(periods, "") + `</periods></raw_speed_volume_list>`
}

func period(from, to string, detectors ...string) string {
	return `<period><period_from>` + from + `</period_from><period_to>` + to + `</period_to><detectors>` + strings.Join(detectors, "") + `</detectors></period>`
}

// detector writes a detector; direction "-" leaves the element out.
func detector(id, direction string, lanes ...string) string {
	dir := `<direction>` + direction + `</direction>`
	if direction == "-" {
		dir = ""
	}
	return `<detector><detector_id>` + id + `</detector_id>` + dir + `<lanes>` + strings.Join(lanes, "") + `</lanes></detector>`
}

// lane writes a lane; sd "-" leaves <s.d.> out, as files before November 2021 do.
func lane(id, speed, occupancy, volume, sd, valid string) string {
	s := `<s.d.>` + sd + `</s.d.>`
	if sd == "-" {
		s = ""
	}
	return `<lane><lane_id>` + id + `</lane_id><speed>` + speed + `</speed><occupancy>` + occupancy + `</occupancy><volume>` + volume + `</volume>` + s + `<valid>` + valid + `</valid></lane>`
}

// detRecord is the expected JSON of a detector record; the arguments after
// the lane are JSON literals ("null", `"East"`, "66").
func detRecord(id, laneID, direction, district, speed, occupancy, volume, sd string, valid bool, from, to string) string {
	return fmt.Sprintf(`{"detector_id":%q,"lane_id":%q,"direction":%s,"district":%s,"speed":%s,"occupancy":%s,"volume":%s,"speed_sd":%s,"valid":%t,"period_from":%q,"period_to":%s}`,
		id, laneID, direction, district, speed, occupancy, volume, sd, valid, from, to)
}
