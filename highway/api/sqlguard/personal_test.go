package sqlguard

import (
	"errors"
	"testing"
)

// TestPersonalColumns: a caller that does not own td_traffic_cameras may
// read it, but no statement may return its personal field plate — not by
// name, alias, quoting, subquery, tuple, array, JSON function or star.
func TestPersonalColumns(t *testing.T) {
	p := Policy{
		Database: "highway",
		Tables:   map[string]bool{"td_traffic_cameras": true, "hko_weather_temperature": true},
		Personal: map[string][]string{"td_traffic_cameras": {"plate"}},
	}
	tests := []struct {
		sql     string
		refused bool
	}{
		{"SELECT camera, speed FROM td_traffic_cameras", false},
		{"SELECT count(*), count() FROM td_traffic_cameras", false},
		{"SELECT speed * 2, speed*3 FROM td_traffic_cameras", false},
		{"SELECT 'plate' AS what, camera FROM td_traffic_cameras", false}, // a string, not the column
		{"SELECT * FROM hko_weather_temperature", false},                  // no personal field there
		{"SELECT plate FROM td_traffic_cameras", true},
		{"SELECT PLATE FROM td_traffic_cameras", true},
		{"SELECT `plate` FROM td_traffic_cameras", true},
		{`SELECT "plate" FROM td_traffic_cameras`, true},
		{"SELECT c.plate AS p FROM td_traffic_cameras AS c", true},
		{"SELECT * FROM td_traffic_cameras", true},
		{"SELECT DISTINCT * FROM td_traffic_cameras", true},
		{"SELECT c.* FROM td_traffic_cameras c", true},
		{"SELECT x FROM (SELECT plate AS x FROM td_traffic_cameras)", true},
		{"SELECT * FROM (SELECT * FROM td_traffic_cameras)", true},
		{"SELECT tuple(*) FROM td_traffic_cameras", true},
		{"SELECT [*] FROM td_traffic_cameras", true},
		{"SELECT toJSONString(tuple(*)) FROM td_traffic_cameras", true},
		{"SELECT formatRow('JSONEachRow', *) FROM td_traffic_cameras", true},
		{"SELECT COLUMNS('pl.*') FROM td_traffic_cameras", true},
		{"SELECT groupArray(plate) FROM td_traffic_cameras", true},
		{"SELECT camera FROM td_traffic_cameras WHERE plate = 'AB123'", true}, // even to filter: a yes/no per guess leaks it
		{"WITH p AS (SELECT plate FROM td_traffic_cameras) SELECT * FROM p", true},
		{"SELECT t.temperature FROM hko_weather_temperature t WHERE t.district IN (SELECT plate FROM td_traffic_cameras)", true},
	}
	for _, tc := range tests {
		_, err := Check(tc.sql, p)
		var rej *Rejection
		switch {
		case tc.refused && (!errors.As(err, &rej) || rej.Code != CodePersonal):
			t.Errorf("%q: %v, want a %s rejection", tc.sql, err, CodePersonal)
		case !tc.refused && err != nil:
			t.Errorf("%q refused: %v", tc.sql, err)
		}
	}
	// The owner's policy has no Personal entry: it reads its own field.
	p.Personal = nil
	if _, err := Check("SELECT * FROM td_traffic_cameras WHERE plate = 'AB123'", p); err != nil {
		t.Errorf("the owner: %v", err)
	}
}
