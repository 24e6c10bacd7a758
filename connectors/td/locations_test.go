package td

import (
	"errors"
	"reflect"
	"testing"

	"github.com/cityhighway/highway/connectors/connector"
	ct "github.com/cityhighway/highway/connectors/connector/connectortest"
)

func TestLocationsSample(t *testing.T) {
	locs, rejects, err := ParseLocations(ct.Sample(t, "td_traffic_speed_volume_occ_info.csv"))
	if err != nil || len(rejects) > 0 {
		t.Fatal(err, rejects)
	}
	want := Locations{
		"AID01101": {District: "S", DistrictName: "Southern", Road: "Aberdeen Praya Road near Abba House - Eastbound", Direction: "South East", Latitude: 22.248091, Longitude: 114.152525},
		"AID01102": {District: "S", DistrictName: "Southern", Road: "Aberdeen Praya Road near Hoi Fai Mansion - Eastbound", Direction: "North East", Latitude: 22.24712681, Longitude: 114.1577149},
		"AID01111": {District: "KC", DistrictName: "Kowloon City", Road: "Hong Chong Road near The Hong Kong Polytechnic University - Northbound (1)", Direction: "East", Latitude: 22.30412026, Longitude: 114.1809989},
		"AID01113": {District: "YTM", DistrictName: "Yau Tsim Mong", Road: "Princess Margaret Road near Parc Palais- Northbound", Direction: "North West", Latitude: 22.31029, Longitude: 114.17816},
	}
	if !reflect.DeepEqual(locs, want) {
		t.Errorf("got %+v\nwant %+v", locs, want)
	}
}

// The list as TD publishes it: a BOM, CRLF, trailing spaces, several
// spellings of a district, a misspelling, and rows that cannot be used.
const locationsCSV = "\ufeffAID_ID_Number,District,Road_EN,Road_TC,Road_SC,Easting,Northing,Latitude,Longitude,Direction,Rotation\r\n" +
	"AID04108,Central & Western,Connaught Road Central near Exchange Square - Westbound ,干諾道中近交易廣場 - 西行 ,干诺道中近交易广场 - 西行 ,833600,816300,22.2839,114.1583,West,270\r\n" +
	"AID04109,Central and Western,Connaught Road Central near Exchange Square - Eastbound ,x,x,833610,816310,22.2840,114.1584,East,90\r\n" +
	"AID07001,Yeun Long,Yuen Long Highway near Shap Pat Heung - Eastbound ,x,x,822000,833000,22.4400,114.0500,East,80\r\n" +
	"AID07002, Sha Tin ,Tolo Highway ,x,x,,,,,North East,45\r\n" +
	"\r\n" +
	",Sha Tin,Tolo Highway ,x,x,,,,,North,0\r\n" +
	"AID07001,Yuen Long,Yuen Long Highway (copy) ,x,x,,,,,East,80\r\n" +
	"AID09999,Lantau,Some Road ,x,x,,,,,South,180\r\n" +
	"AID09998\r\n"

func TestLocationsQuirks(t *testing.T) {
	locs, rejects, err := ParseLocations([]byte(locationsCSV))
	if err != nil {
		t.Fatal(err)
	}
	want := Locations{
		"AID04108": {District: "CW", DistrictName: "Central & Western", Road: "Connaught Road Central near Exchange Square - Westbound", Direction: "West", Latitude: 22.2839, Longitude: 114.1583},
		"AID04109": {District: "CW", DistrictName: "Central and Western", Road: "Connaught Road Central near Exchange Square - Eastbound", Direction: "East", Latitude: 22.2840, Longitude: 114.1584},
		"AID07001": {District: "YL", DistrictName: "Yeun Long", Road: "Yuen Long Highway near Shap Pat Heung - Eastbound", Direction: "East", Latitude: 22.44, Longitude: 114.05},
		"AID07002": {District: "ST", DistrictName: "Sha Tin", Road: "Tolo Highway", Direction: "North East"},
		"AID09999": {DistrictName: "Lantau", Road: "Some Road", Direction: "South"},
		"AID09998": {},
	}
	if !reflect.DeepEqual(locs, want) {
		t.Errorf("got  %+v\nwant %+v", locs, want)
	}
	wantRejects := []wantReject{
		{FeedDetectors, "line 7", "AID_ID_Number is empty"},
		{FeedDetectors, "line 8", "detector AID07001 is listed again; the first, at line 4, is kept"},
		{FeedDetectors, "line 9", `district "Lantau" is not one of the 18 districts; detector AID09999 has no district`},
		{FeedDetectors, "line 10", `district "" is not one of the 18 districts; detector AID09998 has no district`},
	}
	ct.Check(t, connector.Result{Rejects: rejects}, nil, wantRejects)
}

func TestLocationsErrors(t *testing.T) {
	tests := []struct {
		payload string
		msg     string
	}{
		{"", "detector locations: the list is empty"},
		{"\ufeff", "detector locations: the list is empty"},
		{"ID,Name\r\nAID1,x\r\n", `detector locations: the header "ID,Name" lacks the AID_ID_Number and District columns`},
		{"\xff\xfeA\x00", "detector locations: the list is UTF-16; TD publishes it in UTF-8"},
	}
	for _, tt := range tests {
		_, _, err := ParseLocations([]byte(tt.payload))
		if !errors.Is(err, connector.ErrMalformed) || err.Error() != tt.msg {
			t.Errorf("%q: got %v, want %q", tt.payload, err, tt.msg)
		}
	}
}
