package td

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cityhighway/highway/connectors/connector"
	"github.com/cityhighway/highway/connectors/district"
)

// Location is where a traffic detector stands, from TD's detector location
// list (traffic_speed_volume_occ_info.csv).
type Location struct {
	// District is the district code, "" when the list's name is not one of
	// the 18 districts.
	District string
	// DistrictName is the district as the list writes it.
	DistrictName string
	// Road is Road_EN without its trailing space.
	Road string
	// Direction is the direction of travel, e.g. "South East".
	Direction string
	// Latitude and Longitude are WGS84; both 0 when not given.
	Latitude, Longitude float64
}

// Locations maps detector IDs (AID_ID_Number, the detector_id of
// rawSpeedVol-all.xml) to where the detectors stand.
type Locations map[string]Location

// ParseLocations reads the detector location list: UTF-8 with or without a
// BOM, CRLF or LF line ends, a header row naming the columns
// (AID_ID_Number, District, Road_EN, Road_TC, Road_SC, Easting, Northing,
// Latitude, Longitude, Direction, Rotation; found by name, in any order).
// District names are normalised to codes ("Central & Western", "Central and
// Western" and the misspelt "Yeun Long" included); text is trimmed of the
// trailing spaces the list has.
//
// A row that cannot be used whole comes back as a reject for
// td.traffic.detectors with its line: no ID, an ID given twice (the first
// is kept), or a district that is not one of the 18 (the detector is kept
// without a district). A payload without the AID_ID_Number and District
// columns, or that is not CSV, is an error.
func ParseLocations(payload []byte) (Locations, []connector.Reject, error) {
	payload = bytes.TrimPrefix(payload, []byte("\xef\xbb\xbf"))
	if bytes.HasPrefix(payload, []byte("\xff\xfe")) || bytes.HasPrefix(payload, []byte("\xfe\xff")) {
		return nil, nil, connector.Malformed("detector locations", "the list is UTF-16; TD publishes it in UTF-8")
	}
	r := csv.NewReader(bytes.NewReader(payload))
	r.FieldsPerRecord = -1 // a short row is a reject, not the end of the list
	r.LazyQuotes = true
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return nil, nil, csvError(err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	_, ok1 := col["aid_id_number"]
	_, ok2 := col["district"]
	if !ok1 || !ok2 {
		return nil, nil, connector.Malformed("detector locations", "the header %q lacks the AID_ID_Number and District columns", strings.Join(header, ","))
	}
	get := func(rec []string, name string) string {
		i, ok := col[name]
		if !ok || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	var (
		locs    = Locations{}
		rejects []connector.Reject
		lines   = map[string]int{}
	)
	reject := func(line int, reason string, rec []string) {
		raw := []byte(strings.Join(rec, ","))
		rejects = append(rejects, connector.Reject{Feed: FeedDetectors, Where: fmt.Sprintf("line %d", line), Reason: reason, Raw: raw[:min(len(raw), connector.MaxRaw)]})
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && pe.Err != csv.ErrFieldCount {
				return locs, rejects, csvError(err)
			}
		}
		line, _ := r.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		id := get(rec, "aid_id_number")
		switch {
		case id == "":
			reject(line, "AID_ID_Number is empty", rec)
			continue
		case lines[id] > 0:
			reject(line, fmt.Sprintf("detector %s is listed again; the first, at line %d, is kept", id, lines[id]), rec)
			continue
		}
		lines[id] = line
		name := get(rec, "district")
		code, ok := district.Normalize(name)
		if !ok {
			reject(line, fmt.Sprintf("district %q is not one of the 18 districts; detector %s has no district", name, id), rec)
		}
		lat, _ := strconv.ParseFloat(get(rec, "latitude"), 64)
		lon, _ := strconv.ParseFloat(get(rec, "longitude"), 64)
		locs[id] = Location{
			District:     code,
			DistrictName: name,
			Road:         get(rec, "road_en"),
			Direction:    get(rec, "direction"),
			Latitude:     lat,
			Longitude:    lon,
		}
	}
	return locs, rejects, nil
}

func csvError(err error) error {
	if errors.Is(err, io.EOF) {
		return connector.Malformed("detector locations", "the list is empty")
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &connector.PayloadError{Source: "detector locations", Offset: -1, Where: fmt.Sprintf("line %d, column %d", pe.Line, pe.Column), Reason: "not CSV: " + pe.Err.Error(), Err: connector.ErrMalformed}
	}
	return connector.Malformed("detector locations", "not CSV: %v", err)
}
