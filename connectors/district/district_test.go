package district

import (
	"fmt"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, code string
	}{
		// The codes and the canonical names.
		{"CW", "CW"}, {"WC", "WC"}, {"E", "E"}, {"S", "S"}, {"YTM", "YTM"}, {"SSP", "SSP"},
		{"KC", "KC"}, {"WTS", "WTS"}, {"KT", "KT"}, {"KWT", "KWT"}, {"TW", "TW"}, {"TM", "TM"},
		{"YL", "YL"}, {"N", "N"}, {"TP", "TP"}, {"ST", "ST"}, {"SK", "SK"}, {"IS", "IS"},
		{"Central and Western", "CW"}, {"Wan Chai", "WC"}, {"Eastern", "E"}, {"Southern", "S"},
		{"Yau Tsim Mong", "YTM"}, {"Sham Shui Po", "SSP"}, {"Kowloon City", "KC"}, {"Wong Tai Sin", "WTS"},
		{"Kwun Tong", "KT"}, {"Kwai Tsing", "KWT"}, {"Tsuen Wan", "TW"}, {"Tuen Mun", "TM"},
		{"Yuen Long", "YL"}, {"North", "N"}, {"Tai Po", "TP"}, {"Sha Tin", "ST"}, {"Sai Kung", "SK"}, {"Islands", "IS"},
		// HKO: "District" suffixes and HTML escapes.
		{"Central & Western District", "CW"}, {"Central &amp; Western District", "CW"}, {"Central &amp;amp; Western District", "CW"},
		{"Eastern District", "E"}, {"Southern District", "S"}, {"Islands District", "IS"}, {"North District", "N"},
		// TD's detector list: both spellings, the misspelling, stray spaces.
		{"Central & Western", "CW"}, {"Central and Western", "CW"}, {"Yeun Long", "YL"}, {"  Sha  Tin ", "ST"}, {"Tai Po\u00a0", "TP"},
		// Case, punctuation, the one-word spelling, EPD's station name.
		{"KWUN TONG", "KT"}, {"wong tai sin", "WTS"}, {"Yau-Tsim-Mong", "YTM"}, {"Shatin", "ST"}, {"Central/Western", "CW"},
		// Chinese (lang=tc and sc).
		{"中西區", "CW"}, {"東區", "E"}, {"離島區", "IS"}, {"九龍城", "KC"}, {"湾仔区", "WC"}, {"离岛区", "IS"}, {"北區", "N"},
	}
	for _, tt := range tests {
		code, ok := Normalize(tt.name)
		if !ok || code != tt.code {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tt.name, code, ok, tt.code)
		}
	}
}

func TestNormalizeRefuses(t *testing.T) {
	// Never a guess: directions, areas, stations that are not districts,
	// codes in the wrong case, nothing.
	for _, name := range []string{"", " ", "East", "South", "Central", "Western", "Lantau", "Kowloon", "New Territories", "cw", "yl", "District", "區", "Central & Eastern", "Wan Chai Wan Chai"} {
		if code, ok := Normalize(name); ok {
			t.Errorf("Normalize(%q) = %q; want no district", name, code)
		}
	}
}

func TestAll(t *testing.T) {
	all := All()
	if len(all) != 18 {
		t.Fatalf("%d districts", len(all))
	}
	for _, d := range all {
		got, ok := Lookup(d.Code)
		if !ok || got != d {
			t.Errorf("Lookup(%q) = %+v, %v", d.Code, got, ok)
		}
		if code, ok := Normalize(d.Name + " District"); !ok || code != d.Code {
			t.Errorf("Normalize(%q) = %q, %v", d.Name+" District", code, ok)
		}
	}
	if _, ok := Lookup("XX"); ok {
		t.Error("Lookup(XX) found a district")
	}
}

func TestStations(t *testing.T) {
	for name, code := range hkoStations {
		if _, ok := Lookup(code); !ok {
			t.Errorf("HKO station %s: %q is not a district code", name, code)
		}
	}
	for name, code := range epdStations {
		if _, ok := Lookup(code); !ok {
			t.Errorf("EPD station %s: %q is not a district code", name, code)
		}
	}
	if len(epdStations) != 18 {
		t.Errorf("%d EPD stations, want the 18 of the AQHI", len(epdStations))
	}
	tests := []struct {
		lookup     func(string) (string, bool)
		name, code string
		ok         bool
	}{
		{HKOStation, "King's Park", "YTM", true},
		{HKOStation, "King’s Park", "YTM", true}, // curly apostrophe
		{HKOStation, "King&#39;s Park", "YTM", true},
		{HKOStation, " tsing yi ", "KWT", true},
		{HKOStation, "Kai Tak Runway Park", "KC", true},
		{HKOStation, "Atlantis", "", false},
		{EPDStation, "Central/Western", "CW", true},
		{EPDStation, "Central", "CW", true},
		{EPDStation, "Causeway Bay", "WC", true},
		{EPDStation, "Tap Mun", "TP", true},
		{EPDStation, "Tung Chung", "IS", true},
		{EPDStation, "Kowloon Bay", "", false},
	}
	for _, tt := range tests {
		code, ok := tt.lookup(tt.name)
		if code != tt.code || ok != tt.ok {
			t.Errorf("%q: got %q, %v; want %q, %v", tt.name, code, ok, tt.code, tt.ok)
		}
	}
}

func ExampleNormalize() {
	for _, name := range []string{"Central &amp; Western District", "Yeun Long", "East"} {
		code, ok := Normalize(name)
		fmt.Printf("%q → %q %v\n", name, code, ok)
	}
	// Output:
	// "Central &amp; Western District" → "CW" true
	// "Yeun Long" → "YL" true
	// "East" → "" false
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"Central &amp; Western District", "Yeun Long", "中西區", "&#", "Sha\u00a0Tin"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		code, ok := Normalize(name)
		if _, known := Lookup(code); ok != known {
			t.Fatalf("Normalize(%q) = %q, %v", name, code, ok)
		}
		HKOStation(name)
		EPDStation(name)
	})
}
