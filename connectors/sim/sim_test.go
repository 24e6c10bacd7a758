package sim

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cityhighway/highway/connectors/connector"
	"github.com/cityhighway/highway/connectors/district"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/record"
)

// Every simulated record of every built-in feed fits its spec, at every hour
// of the day; spoiled ones never do.
func TestSnapshotsFitTheirSpecs(t *testing.T) {
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	good := New(Config{Feeds: cat.Feeds(), BadShare: -1}, nil)
	bad := New(Config{Feeds: cat.Feeds(), BadShare: 1}, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	for _, feed := range cat.Feeds() {
		dec := record.NewDecoder(feed)
		for h := 0; h < 24; h++ {
			at := day.Add(time.Duration(h) * time.Hour)
			msgs := good.Snapshot(feed, at, rng)
			if len(msgs) == 0 {
				t.Fatalf("%s: no records", feed.Name)
			}
			for _, m := range msgs {
				if err := dec.Append(m.Value); err != nil {
					t.Fatalf("%s at %s: %s: %v", feed.Name, at, m.Value, err)
				}
				if m.Topic != feed.Topic() || len(m.Key) == 0 {
					t.Fatalf("%s: topic %q key %q", feed.Name, m.Topic, m.Key)
				}
			}
			for _, m := range bad.Snapshot(feed, at, rng) {
				if err := dec.Append(m.Value); err == nil {
					t.Fatalf("%s: spoiled record accepted: %s", feed.Name, m.Value)
				}
			}
		}
		rec := dec.NewRecordBatch()
		rec.Release()
	}
}

// Rush hour is slower than the night, and the afternoon warmer than dawn.
func TestDailyPatterns(t *testing.T) {
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Feeds: cat.Feeds(), BadShare: -1}, nil)
	rng := rand.New(rand.NewPCG(3, 4))
	mean := func(feed, field string, hkHour int) float64 {
		at := time.Date(2026, 11, 26, hkHour, 30, 0, 0, connector.HKT)
		dec := record.NewDecoder(cat.Feed(feed))
		for _, m := range s.Snapshot(cat.Feed(feed), at, rng) {
			if err := dec.Append(m.Value); err != nil {
				t.Fatal(err)
			}
		}
		rec := dec.NewRecordBatch()
		defer rec.Release()
		col := rec.Column(cat.Feed(feed).FieldIndex(field))
		var sum float64
		for i := 0; i < col.Len(); i++ {
			sum += col.(interface{ Value(int) float64 }).Value(i)
		}
		return sum / float64(col.Len())
	}
	if rush, night := mean("td.traffic.detectors", "speed", 8), mean("td.traffic.detectors", "speed", 3); rush > night-20 {
		t.Errorf("mean speed at 08:30 = %.1f, at 03:30 = %.1f; want rush hour at least 20 km/h slower", rush, night)
	}
	if afternoon, dawn := mean("hko.weather.temperature", "temperature", 14), mean("hko.weather.temperature", "temperature", 5); afternoon < dawn+4 {
		t.Errorf("mean temperature at 14:30 = %.1f, at 05:30 = %.1f; want the afternoon 4 °C warmer", afternoon, dawn)
	}
}

// Every simulated station has a district in the reference tables the real
// connectors use, and the rainfall names follow district.All's order.
func TestStationsHaveDistricts(t *testing.T) {
	for _, name := range weatherStations {
		if _, ok := district.HKOStation(name); !ok {
			t.Errorf("HKO station %q has no district", name)
		}
	}
	for _, s := range aqhiStations {
		if _, ok := district.EPDStation(s[0]); !ok {
			t.Errorf("EPD station %q has no district", s[0])
		}
	}
	all := district.All()
	if len(districtNames) != len(all) {
		t.Fatalf("%d district names for %d districts", len(districtNames), len(all))
	}
	for i, name := range districtNames {
		if code, ok := district.Normalize(name); !ok || code != all[i].Code {
			t.Errorf("districtNames[%d] = %q normalises to %q, want %s", i, name, code, all[i].Code)
		}
	}
}
