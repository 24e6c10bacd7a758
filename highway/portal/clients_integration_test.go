//go:build integration

package portal_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cityhighway/highway/highway/catalog"
)

// clientsScript is what an open-data user runs: the real ckanapi client
// lists and shows the datasets and groups, rdflib parses the DCAT-AP
// catalogue; it prints what they found as JSON.
const clientsScript = `
import json, sys
import ckanapi, rdflib
from rdflib.namespace import RDF
url = sys.argv[1]
ck = ckanapi.RemoteCKAN(url)
names = ck.action.package_list()
packages = {n: ck.action.package_show(id=n) for n in names}
groups = ck.action.group_list()
try:
    ck.action.package_show(id="police-cases-open")
    hidden = False
except ckanapi.NotFound:
    hidden = True
DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
DCT = rdflib.Namespace("http://purl.org/dc/terms/")
g = rdflib.Graph()
g.parse(url + "/catalog.jsonld", format="json-ld")
datasets = {}
for d in g.subjects(RDF.type, DCAT.Dataset):
    dists = [str(x) for x in g.objects(d, DCAT.distribution) if (x, RDF.type, DCAT.Distribution) in g]
    titles = sorted(str(t.language) for t in g.objects(d, DCT.title))
    datasets[str(g.value(d, DCT.identifier))] = {"distributions": dists, "title_languages": titles}
catalogs = len(list(g.subjects(RDF.type, DCAT.Catalog)))
print(json.dumps({"names": names, "groups": groups, "restricted_hidden": hidden, "catalogs": catalogs, "datasets": datasets,
                  "resources": {n: [r["url"] for r in p["resources"]] for n, p in packages.items()}}))
`

// checkClients runs ckanapi and rdflib against the site.
func checkClients(t *testing.T, s *site) {
	python := env(t, "HIGHWAY_PORTAL_PYTHON")
	script := filepath.Join(t.TempDir(), "clients.py")
	if err := os.WriteFile(script, []byte(clientsScript), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, script, s.url).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("ckanapi/rdflib: %v\n%s", err, stderr)
	}
	var got struct {
		Names            []string
		Groups           []string
		RestrictedHidden bool `json:"restricted_hidden"`
		Catalogs         int
		Datasets         map[string]struct {
			Distributions  []string
			TitleLanguages []string `json:"title_languages"`
		}
		Resources map[string][]string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var open []*catalog.Feed
	for _, f := range s.cat.Feeds() {
		if f.Access == catalog.Open {
			open = append(open, f)
		}
	}
	if len(got.Names) != len(open) || !got.RestrictedHidden {
		t.Errorf("ckanapi package_list: %v (%d), want the %d open feeds; the restricted one hidden from package_show: %v", got.Names, len(got.Names), len(open), got.RestrictedHidden)
	}
	if !slices.Equal(got.Groups, []string{"epd", "hko", "td"}) {
		t.Errorf("ckanapi group_list: %v", got.Groups)
	}
	if got.Catalogs != 1 || len(got.Datasets) != len(open) {
		t.Errorf("rdflib: %d dcat:Catalog, %d dcat:Dataset; want 1 and %d", got.Catalogs, len(got.Datasets), len(open))
	}
	for _, f := range open {
		name := strings.ReplaceAll(f.Name, ".", "-")
		if res := got.Resources[name]; len(res) != 4 || !strings.HasPrefix(res[0], s.url+"/open/v1/feeds/"+f.Name+"/data?format=") {
			t.Errorf("ckanapi package_show(%s) resources %v", name, res)
		}
		d, ok := got.Datasets[f.Name]
		if !ok || len(d.Distributions) != 4 || !slices.Equal(d.TitleLanguages, []string{"en", "zh-Hant"}) {
			t.Errorf("rdflib: dataset %s: %+v", f.Name, d)
		}
	}
	t.Logf("ckanapi: %d packages, groups %v; rdflib: %d dcat:Dataset with 4 dcat:Distribution each", len(got.Names), got.Groups, len(got.Datasets))
}
