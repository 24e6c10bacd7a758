package builtin_test

import (
	"os"
	"testing"
	"time"

	"github.com/cityhighway/highway/connectors/builtin"
	"github.com/cityhighway/highway/connectors/connector"
	"github.com/cityhighway/highway/highway/record"
)

// TestSamplesIdentityIsKeyAndTime: in every sample of the built-in sources,
// two records of a feed have the same identity (record.Identity, key
// fields and event second) exactly when they have the same parser key and
// event time to the millisecond, and no event time has a fraction of a
// second. So the poller's de-duplication within a payload, by identity
// since the decoder hands it back, drops the records it dropped when it
// compared key and milliseconds.
func TestSamplesIdentityIsKeyAndTime(t *testing.T) {
	cat := builtinCatalog(t)
	r, _ := builtin.New(builtin.Options{})
	v := connector.NewValidator(cat.Feeds()...)
	defer v.Release()
	for _, src := range r.Sources(nil) {
		payload, err := os.ReadFile(samplePaths()[src.Name])
		if err != nil {
			t.Fatalf("%s: %v", src.Name, err)
		}
		res, err := src.Parse(payload, time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatalf("%s: %v", src.Name, err)
		}
		checked, _ := v.CheckDecoded(res)
		if len(checked) == 0 {
			t.Fatalf("%s: no records", src.Name)
		}
		type keyTime struct {
			feed, key string
			ms        int64
		}
		type identity struct {
			feed string
			id   record.Identity
		}
		byID := map[identity]keyTime{}
		ids := map[keyTime]identity{}
		for _, c := range checked {
			if c.EventMillis%1000 != 0 {
				t.Errorf("%s: record %s at %d has a fraction of a second", src.Name, c.Key, c.EventMillis)
			}
			kt, id := keyTime{c.Feed, c.Key, c.EventMillis}, identity{c.Feed, c.Identity}
			if prev, ok := byID[id]; ok && prev != kt {
				t.Errorf("%s: %+v and %+v have one identity", src.Name, prev, kt)
			}
			if prev, ok := ids[kt]; ok && prev != id {
				t.Errorf("%s: %+v has two identities", src.Name, kt)
			}
			byID[id], ids[kt] = kt, id
		}
	}
}

// samplePaths are the sample payloads of the built-in sources, by source.
func samplePaths() map[string]string {
	return map[string]string{
		"hko.rhrread":    "../hko/testdata/hko_rhrread_en_2020-05-23.json",
		"hko.warnsum":    "../hko/testdata/hko_warnsum_tc_2026-09-25.json",
		"hko.fnd":        "../hko/testdata/hko_fnd_tc_2021-09-14.json",
		"td.rawspeedvol": "../td/testdata/td_rawSpeedVol-all.xml",
		"td.irnavgspeed": "../td/testdata/td_irnAvgSpeed-all.xml",
		"td.journeytime": "../td/testdata/td_journeytime.xml",
		"epd.aqhi":       "../epd/testdata/epd_aqhi_ind_rss_Eng.xml",
		"epd.24pc":       "testdata/epd_24pc_Eng.xml",
	}
}
