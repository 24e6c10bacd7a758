package epd

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	ct "github.com/cityhighway/highway/connectors/connector/connectortest"
)

type (
	want       = ct.Want
	wantReject = ct.WantReject
)

// sample24pc is the 24pc_Eng.xml excerpt quoted in part (a) of the shared
// sample (a live capture, as comment lines starting with " *").
func sample24pc(t testing.TB) []byte {
	doc := ct.Sample(t, "epd_24pc_and_24aqhi_Eng.xml.txt")
	_, a, _ := bytes.Cut(doc, []byte("(a) 24pc_Eng.xml"))
	a, _, _ = bytes.Cut(a, []byte("(b)"))
	var out []string
	for _, line := range strings.Split(string(a), "\n") {
		if rest, ok := strings.CutPrefix(line, " *"); ok {
			out = append(out, rest)
		}
	}
	if len(out) == 0 {
		t.Fatal("no 24pc excerpt in the sample")
	}
	return []byte(strings.Join(out, "\n"))
}

// rss writes an AQHI RSS document with the given items, as EPD does.
func rss(pubDate string, items ...string) string {
	s := `<?xml version="1.0" encoding="UTF-8"?>
<?xml-stylesheet href='style.xsl' type='text/xsl' media='screen'?>
<rss version="2.0">
   <channel>
       <title>Environmental Protection Department - AQHI</title>
       <link>http://www.aqhi.gov.hk</link>
       <image><title>Environmental Protection Department - AQHI</title><url>/epd/ddata/html/img/logo-main.png</url></image>
       <pubDate>` + pubDate + `</pubDate>
`
	for _, it := range items {
		s += it
	}
	return s + "   </channel>\n</rss>\n"
}

// item writes one AQHI item; pubDate "" leaves the element out.
func item(title, description, pubDate string) string {
	pd := ""
	if pubDate != "" {
		pd = "\n           <pubDate>" + pubDate + "</pubDate>"
	}
	return `       <item>
           <title>` + title + `</title>
           <guid isPermaLink="true">http://www.aqhi.gov.hk/</guid>` + pd + `
           <description>
               <![CDATA[` + description + `]]>
           </description>
       </item>
`
}

func aqhiRecord(station, district, typ string, aqhi int, plus bool, risk, at string) string {
	return fmt.Sprintf(`{"station":%q,"district":%s,"station_type":%s,"aqhi":%d,"aqhi_10plus":%t,"risk":%s,"publish_time":%q}`,
		station, district, typ, aqhi, plus, risk, at)
}

func pcRecord(station, district, no2, o3, so2, co, pm10, pm25, at string) string {
	return fmt.Sprintf(`{"station":%q,"district":%s,"no2":%s,"o3":%s,"so2":%s,"co":%s,"pm10":%s,"pm2_5":%s,"measure_time":%q}`,
		station, district, no2, o3, so2, co, pm10, pm25, at)
}
