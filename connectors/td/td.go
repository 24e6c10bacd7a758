// Package td parses the Transport Department's traffic feeds into the
// built-in td.traffic.* feeds:
//
//	rawSpeedVol-all.xml                → td.traffic.detectors (ParseDetectors)
//	traffic_speed_volume_occ_info.csv  → the detectors' districts (ParseLocations)
//	irnAvgSpeed-all.xml                → td.traffic.segments (ParseSegments)
//	Journeytimev2.xml                  → td.traffic.journeytimes (ParseJourneyTimes)
//
// TD writes local times without an offset; they are read as Hong Kong time.
// The parsers are pure functions of their input, safe for concurrent use.
package td

// The feeds this package produces.
const (
	FeedDetectors    = "td.traffic.detectors"
	FeedSegments     = "td.traffic.segments"
	FeedJourneyTimes = "td.traffic.journeytimes"
)
