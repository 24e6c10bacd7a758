// Package district is the one list of Hong Kong's 18 districts that every
// feed is joined on. Departments spell district names in many ways (HKO
// writes "Central &amp; Western District", TD's detector list has both
// "Central & Western" and "Central and Western" and a misspelt "Yeun Long");
// Normalize turns all of them into one short code, so that traffic, rainfall
// and air quality can be grouped by the same key.
//
// The package also maps weather and air-quality stations to the district they
// stand in (station.go). Everything here is plain data and safe for
// concurrent use.
package district

import (
	"html"
	"strings"
	"unicode"
)

// District is one of the 18 districts of Hong Kong.
type District struct {
	// Code is the short, stable identifier carried in records, e.g. "CW".
	Code string
	// Name is the English name without the word "District", e.g. "Central and Western".
	Name string
	// Chinese is the traditional Chinese name without 區, e.g. "中西".
	Chinese string
}

// all lists the districts in the order of the District Councils (Hong Kong
// Island, Kowloon, New Territories), which is also the order All returns.
var all = []District{
	{"CW", "Central and Western", "中西"},
	{"WC", "Wan Chai", "灣仔"},
	{"E", "Eastern", "東"},
	{"S", "Southern", "南"},
	{"YTM", "Yau Tsim Mong", "油尖旺"},
	{"SSP", "Sham Shui Po", "深水埗"},
	{"KC", "Kowloon City", "九龍城"},
	{"WTS", "Wong Tai Sin", "黃大仙"},
	{"KT", "Kwun Tong", "觀塘"},
	{"KWT", "Kwai Tsing", "葵青"},
	{"TW", "Tsuen Wan", "荃灣"},
	{"TM", "Tuen Mun", "屯門"},
	{"YL", "Yuen Long", "元朗"},
	{"N", "North", "北"},
	{"TP", "Tai Po", "大埔"},
	{"ST", "Sha Tin", "沙田"},
	{"SK", "Sai Kung", "西貢"},
	{"IS", "Islands", "離島"},
}

// variants are spellings seen in the feeds that the general rules of fold
// do not reach, keyed by their folded form. Only names that cannot mean
// anything else belong here: "East" or "South" are directions in TD's
// files, and "Central" is an area of CW and an EPD station, so none of them
// is listed.
var variants = map[string]string{
	"yeun long":  "YL",  // TD's detector location list
	"shatin":     "ST",  // the one-word spelling many lists use
	"kwai ching": "KWT", // an older romanisation
	// Simplified Chinese names (lang=sc) that differ from the traditional ones.
	"湾仔": "WC", "东": "E", "九龙城": "KC", "黄大仙": "WTS", "观塘": "KT",
	"荃湾": "TW", "屯门": "TM", "西贡": "SK", "离岛": "IS",
}

var (
	byCode = map[string]*District{}
	byName = map[string]string{} // folded name → code
)

func init() {
	for i := range all {
		d := &all[i]
		byCode[d.Code] = d
		byName[fold(d.Name)] = d.Code
		byName[fold(d.Chinese)] = d.Code
	}
	for k, v := range variants {
		byName[k] = v
	}
}

// All returns the 18 districts in a fixed order. The caller may not modify
// the result.
func All() []District { return all }

// Lookup returns the district with the given code.
func Lookup(code string) (District, bool) {
	d, ok := byCode[code]
	if !ok {
		return District{}, false
	}
	return *d, true
}

// Normalize returns the code of the district a name refers to. It accepts
// the codes themselves, English names in any case with or without the word
// "District", "&", "&amp;", "/" or "and" between two names, stray and
// repeated spaces, known misspellings ("Yeun Long", "Shatin") and the
// traditional and simplified Chinese names with or without 區/区. It reports
// false for anything else; it never guesses between two districts.
func Normalize(name string) (code string, ok bool) {
	s := strings.TrimSpace(name)
	if _, ok := byCode[s]; ok {
		return s, true
	}
	code, ok = byName[fold(s)]
	return code, ok
}

// fold reduces a district name to the form the tables are keyed on: HTML
// entities decoded, lower case, "&" and "/" read as "and", punctuation as
// space, spaces collapsed, a trailing "district" or 區/区 dropped.
func fold(s string) string {
	if strings.Contains(s, "&") {
		// Twice: some sources escape an already escaped name ("&amp;amp;").
		s = html.UnescapeString(html.UnescapeString(s))
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range strings.ToLower(s) {
		if r == '’' {
			r = '\''
		}
		switch {
		case r == '&' || r == '/' || r == '+':
			b.WriteString(" and ")
			space = false
			continue
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'':
		default: // spaces, NBSP, hyphens, dots, commas, brackets
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	out := strings.Join(strings.Fields(b.String()), " ")
	out = strings.TrimSuffix(out, " district")
	out = strings.TrimSuffix(out, " districts")
	if out != "區" && out != "区" {
		out = strings.TrimSuffix(strings.TrimSuffix(out, "區"), "区")
	}
	return out
}
