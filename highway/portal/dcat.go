package portal

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/cityhighway/highway/highway/api"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// DCAT-AP metadata as JSON-LD: the open feeds as a dcat:Catalog of
// dcat:Dataset, each with a dcat:Distribution per download format
// (/catalog.jsonld), and one dataset alone (/feeds/{feed}.jsonld). Titles
// and descriptions carry every language the spec gives, tagged with it.

// dcatContext maps the prefixes the documents use.
var dcatContext = map[string]any{
	"dcat": "http://www.w3.org/ns/dcat#",
	"dct":  "http://purl.org/dc/terms/",
	"foaf": "http://xmlns.com/foaf/0.1/",
	"rdfs": "http://www.w3.org/2000/01/rdf-schema#",
	"xsd":  "http://www.w3.org/2001/XMLSchema#",
}

// langValues writes a Text as JSON-LD language-tagged strings.
func langValues(t catalog.Text) []map[string]string {
	var out []map[string]string
	for _, l := range catalog.Languages {
		if s := t[l]; s != "" {
			out = append(out, map[string]string{"@value": s, "@language": l})
		}
	}
	return out
}

func dcatDataset(base string, f *catalog.Feed, fi api.FeedInfo) map[string]any {
	page := base + "/feeds/" + f.Name
	var dists []map[string]any
	for _, format := range store.Formats {
		u := base + "/open/v1/feeds/" + f.Name + "/data?format=" + string(format)
		dists = append(dists, map[string]any{
			"@id": u, "@type": "dcat:Distribution",
			"dct:title":      string(format),
			"dcat:accessURL": map[string]string{"@id": u}, "dcat:downloadURL": map[string]string{"@id": u},
			"dcat:mediaType": map[string]string{"@id": "https://www.iana.org/assignments/media-types/" + format.MediaType()},
			"dct:format":     string(format),
			"dct:license":    map[string]any{"@type": "dct:LicenseDocument", "rdfs:label": f.Licence},
		})
	}
	d := map[string]any{
		"@id": page, "@type": "dcat:Dataset",
		"dct:identifier":          f.Name,
		"dct:title":               langValues(titleOf(f)),
		"dct:description":         langValues(f.Descriptions),
		"dct:publisher":           map[string]any{"@id": base + "/feeds?department=" + f.Department, "@type": "foaf:Agent", "foaf:name": f.Department},
		"dcat:landingPage":        map[string]string{"@id": page},
		"dcat:temporalResolution": map[string]string{"@value": isoDuration(time.Duration(fi.IntervalSeconds * float64(time.Second))), "@type": "xsd:duration"},
		"dcat:distribution":       dists,
	}
	var kw []string
	for _, fld := range api.PublicFields(f) {
		kw = append(kw, fld.Name)
	}
	d["dcat:keyword"] = kw
	if fi.LatestEventTime != nil {
		d["dct:modified"] = map[string]string{"@value": fi.LatestEventTime.UTC().Format(time.RFC3339), "@type": "xsd:dateTime"}
	}
	return d
}

// isoDuration writes a duration as xsd:duration, e.g. PT1H, PT30S.
func isoDuration(d time.Duration) string {
	s := "PT"
	if h := d / time.Hour; h > 0 {
		s += itoa(int(h)) + "H"
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		s += itoa(int(m)) + "M"
		d -= m * time.Minute
	}
	if sec := d / time.Second; sec > 0 || s == "PT" {
		s += itoa(int(sec)) + "S"
	}
	return s
}

func itoa(i int) string { return strconv.Itoa(i) }

func (s *Server) catalogJSONLD(w http.ResponseWriter, r *http.Request, v *visit) {
	base := baseURL(r)
	feeds := s.cfg.API.Readable(nil)
	var ds []map[string]any
	for i, fi := range s.describe(r.Context(), feeds) {
		ds = append(ds, dcatDataset(base, feeds[i], fi))
	}
	doc := map[string]any{
		"@context": dcatContext, "@id": base + "/catalog.jsonld", "@type": "dcat:Catalog",
		"dct:title":       langValues(catalog.Text{catalog.English: msg(catalog.English, "siteName"), catalog.TraditionalChinese: msg(catalog.TraditionalChinese, "siteName")}),
		"dct:description": langValues(catalog.Text{catalog.English: msg(catalog.English, "siteTagline"), catalog.TraditionalChinese: msg(catalog.TraditionalChinese, "siteTagline")}),
		"dct:publisher":   map[string]any{"@id": base + "/", "@type": "foaf:Agent", "foaf:name": msg(catalog.English, "siteName")},
		"foaf:homepage":   map[string]string{"@id": base + "/"},
		"dcat:dataset":    ds,
	}
	writeJSONLD(w, doc)
}

func (s *Server) feedJSONLD(w http.ResponseWriter, r *http.Request, v *visit, name string) {
	f := s.cfg.API.ReadableFeed(nil, name)
	if f == nil {
		s.notFound(w, r, v)
		return
	}
	d := dcatDataset(baseURL(r), f, s.describe(r.Context(), []*catalog.Feed{f})[0])
	d["@context"] = dcatContext
	writeJSONLD(w, d)
}

func writeJSONLD(w http.ResponseWriter, doc any) {
	w.Header().Set("Content-Type", "application/ld+json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(doc)
}
