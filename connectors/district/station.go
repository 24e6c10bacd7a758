package district

// The tables below place stations in districts. They are best effort:
// compiled by hand from the stations' published locations, checked against
// the district boundaries as far as we know them, and not published by any
// department as such. A station missing here gets no district (null), never
// a guessed one. Keys are English names as the feeds publish them (lang=en);
// lookups fold case, spaces, HTML escapes and curly apostrophes.

// hkoStations maps the HKO automatic weather stations of the rhrread
// temperature list (and a few regional ones) to districts.
var hkoStations = map[string]string{
	"King's Park":                "YTM", // King's Park Meteorological Station, Yau Ma Tei
	"Hong Kong Observatory":      "YTM", // headquarters, Tsim Sha Tsui
	"Wong Chuk Hang":             "S",
	"Ta Kwu Ling":                "N",
	"Lau Fau Shan":               "YL",
	"Tai Po":                     "TP",
	"Sha Tin":                    "ST",
	"Tuen Mun":                   "TM",
	"Tseung Kwan O":              "SK",
	"Sai Kung":                   "SK",
	"Cheung Chau":                "IS",
	"Chek Lap Kok":               "IS",
	"Tsing Yi":                   "KWT",
	"Shek Kong":                  "YL",
	"Tsuen Wan Ho Koon":          "TW",
	"Tsuen Wan Shing Mun Valley": "TW",
	"Hong Kong Park":             "CW",
	"Shau Kei Wan":               "E",
	"Kowloon City":               "KC",
	"Happy Valley":               "WC",
	"Wong Tai Sin":               "WTS",
	"Stanley":                    "S",
	"Kwun Tong":                  "KT",
	"Sham Shui Po":               "SSP",
	"Kai Tak Runway Park":        "KC",
	"Yuen Long Park":             "YL",
	"Tai Mei Tuk":                "TP",
	"Sheung Shui":                "N",
	"Pak Tam Chung":              "SK",
}

// epdStations maps the 18 EPD air-quality monitoring stations (15 general,
// 3 roadside) to districts, by the names of the AQHI and 24-hour files.
var epdStations = map[string]string{
	"Central/Western": "CW",
	"Southern":        "S",
	"Eastern":         "E",
	"Kwun Tong":       "KT",
	"Sham Shui Po":    "SSP",
	"Kwai Chung":      "KWT",
	"Tsuen Wan":       "TW",
	"Tseung Kwan O":   "SK",
	"Yuen Long":       "YL",
	"Tuen Mun":        "TM",
	"Tung Chung":      "IS",
	"Tai Po":          "TP",
	"Sha Tin":         "ST",
	"North":           "N",
	"Tap Mun":         "TP",
	"Causeway Bay":    "WC",  // roadside
	"Central":         "CW",  // roadside
	"Mong Kok":        "YTM", // roadside
}

var (
	hkoByFold = foldKeys(hkoStations)
	epdByFold = foldKeys(epdStations)
)

func foldKeys(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[fold(k)] = v
	}
	return out
}

// HKOStation returns the district code of an HKO weather station, e.g.
// "Tsing Yi" → "KWT". It reports false for a station not in the table.
func HKOStation(name string) (code string, ok bool) {
	code, ok = hkoByFold[fold(name)]
	return code, ok
}

// EPDStation returns the district code of an EPD air-quality station, e.g.
// "Tung Chung" → "IS". It reports false for a station not in the table.
func EPDStation(name string) (code string, ok bool) {
	code, ok = epdByFold[fold(name)]
	return code, ok
}
