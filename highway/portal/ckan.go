package portal

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cityhighway/highway/highway/api"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// The CKAN subset: the read-only actions DATA.GOV.HK serves that open-data
// tools use to list and describe datasets, at /api/3/action/NAME and
// /api/action/NAME (where the ckanapi client calls), by GET with query
// parameters or POST with a JSON object. Datasets are the open feeds (never
// a restricted one), groups and organisations are their departments, and
// each dataset's resources are its open-data downloads. Answers have CKAN's
// envelope: {"help", "success", "result"} or {"help", "success": false,
// "error": {"__type", "message"}} with CKAN's statuses (400 unknown
// action, 404 not found, 409 a missing or bad parameter).

// ckanActions are the actions served, with their help text.
var ckanActions = map[string]string{
	"package_list": "Return a list of the names of the site's datasets (packages): the open feeds.",
	"package_show": "Return the metadata of a dataset (package) and its resources. :param id: the id or name of the dataset",
	"group_list":   "Return a list of the names of the site's groups: the departments that publish open feeds. :param all_fields: return group dictionaries instead of names (optional, default false)",
	"group_show":   "Return the details of a group (a department) with its datasets. :param id: the id or name of the group",
}

// ckanError is CKAN's error object.
type ckanError struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
	// ID lists the problems with the id parameter, as CKAN's validation
	// errors list them per field.
	ID []string `json:"id,omitempty"`
}

func (s *Server) ckan(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	help := baseURL(r) + "/api/3/action/help_show?name=" + action
	reply := func(status int, body map[string]any) {
		body["help"] = help
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.WriteHeader(status)
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(body)
	}
	fail := func(status int, e ckanError) { reply(status, map[string]any{"success": false, "error": e}) }
	if _, ok := ckanActions[action]; !ok {
		fail(http.StatusBadRequest, ckanError{Type: "Bad Request", Message: "Bad request - Action name not known: " + action})
		return
	}
	params, err := ckanParams(r)
	if err != nil {
		fail(http.StatusBadRequest, ckanError{Type: "Bad Request", Message: "Bad request - JSON Error: " + err.Error()})
		return
	}
	base := baseURL(r)
	switch action {
	case "package_list":
		names := []string{}
		for _, f := range s.cfg.API.Readable(nil) {
			names = append(names, ckanName(f))
		}
		reply(http.StatusOK, map[string]any{"success": true, "result": names})
	case "package_show":
		id := params["id"]
		if id == "" {
			fail(http.StatusConflict, ckanError{Type: "Validation Error", Message: "Missing value: id", ID: []string{"Missing value"}})
			return
		}
		f := s.ckanFeed(id)
		if f == nil {
			fail(http.StatusNotFound, ckanError{Type: "Not Found Error", Message: "Not found: no open dataset " + id})
			return
		}
		fi := s.describe(r.Context(), []*catalog.Feed{f})[0]
		reply(http.StatusOK, map[string]any{"success": true, "result": ckanPackage(base, f, fi)})
	case "group_list":
		all := params["all_fields"] == "true" || params["all_fields"] == "True"
		var out []any
		for _, g := range s.ckanGroups() {
			if all {
				out = append(out, ckanGroup(g, len(s.groupFeeds(g))))
			} else {
				out = append(out, strings.ToLower(g))
			}
		}
		if out == nil {
			out = []any{}
		}
		reply(http.StatusOK, map[string]any{"success": true, "result": out})
	case "group_show":
		id := params["id"]
		if id == "" {
			fail(http.StatusConflict, ckanError{Type: "Validation Error", Message: "Missing value: id", ID: []string{"Missing value"}})
			return
		}
		i := slices.IndexFunc(s.ckanGroups(), func(g string) bool { return strings.EqualFold(g, id) })
		if i < 0 {
			fail(http.StatusNotFound, ckanError{Type: "Not Found Error", Message: "Not found: no group " + id})
			return
		}
		dept := s.ckanGroups()[i]
		feeds := s.groupFeeds(dept)
		g := ckanGroup(dept, len(feeds))
		var pkgs []map[string]any
		for j, fi := range s.describe(r.Context(), feeds) {
			pkgs = append(pkgs, ckanPackage(base, feeds[j], fi))
		}
		g["packages"] = pkgs
		reply(http.StatusOK, map[string]any{"success": true, "result": g})
	}
}

// ckanParams reads an action's parameters: the query string, or a POSTed
// JSON object (its string and boolean values) or form.
func ckanParams(r *http.Request) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range r.URL.Query() {
		out[k] = v[0]
	}
	if r.Method != http.MethodPost {
		return out, nil
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		for k, v := range r.PostForm {
			out[k] = v[0]
		}
		return out, nil
	}
	var body map[string]any
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10))
	if err := dec.Decode(&body); err != nil && err.Error() != "EOF" {
		return nil, err
	}
	for k, v := range body {
		switch x := v.(type) {
		case string:
			out[k] = x
		case bool:
			out[k] = fmt.Sprint(x)
		case float64:
			out[k] = fmt.Sprint(x)
		}
	}
	return out, nil
}

// ckanName is a feed's CKAN name: CKAN names allow lower-case letters,
// digits, - and _, so the dots of a feed name become hyphens.
func ckanName(f *catalog.Feed) string { return strings.ReplaceAll(f.Name, ".", "-") }

// ckanFeed finds an open feed by its CKAN name or its own name.
func (s *Server) ckanFeed(id string) *catalog.Feed {
	for _, f := range s.cfg.API.Readable(nil) {
		if id == f.Name || id == ckanName(f) {
			return f
		}
	}
	return nil
}

// ckanGroups are the departments with open feeds, sorted.
func (s *Server) ckanGroups() []string {
	var out []string
	for _, f := range s.cfg.API.Readable(nil) {
		if !slices.Contains(out, f.Department) {
			out = append(out, f.Department)
		}
	}
	slices.Sort(out)
	return out
}

func (s *Server) groupFeeds(dept string) []*catalog.Feed {
	var out []*catalog.Feed
	for _, f := range s.cfg.API.Readable(nil) {
		if f.Department == dept {
			out = append(out, f)
		}
	}
	return out
}

func ckanGroup(dept string, n int) map[string]any {
	name := strings.ToLower(dept)
	return map[string]any{"id": name, "name": name, "title": dept, "display_name": dept, "type": "group", "state": "active",
		"is_organization": false, "description": "Open feeds published by " + dept, "package_count": n}
}

// ckanPackage is a feed as a CKAN dataset. Titles and descriptions in
// every language are in title_translated and notes_translated, as
// multilingual CKAN sites (ckanext-fluent) give them.
func ckanPackage(base string, f *catalog.Feed, fi api.FeedInfo) map[string]any {
	title := titleOf(f)
	group := ckanGroup(f.Department, 0)
	delete(group, "package_count")
	var resources []map[string]any
	for _, format := range store.Formats {
		u := base + "/open/v1/feeds/" + f.Name + "/data?format=" + string(format)
		resources = append(resources, map[string]any{
			"id": ckanName(f) + "-" + string(format), "package_id": ckanName(f), "name": title.In(catalog.English) + " (" + strings.ToUpper(string(format)) + ")",
			"description": "The rows of the last 24 hours; add from= and to= (RFC 3339) for another range.",
			"format":      strings.ToUpper(string(format)), "mimetype": format.ContentType(), "url": u, "url_type": "", "state": "active",
		})
	}
	var fields []map[string]any
	for _, fld := range api.PublicFields(f) {
		fields = append(fields, map[string]any{"id": fld.Name, "type": string(fld.Type), "unit": fld.Unit, "description": fld.Description})
	}
	pkg := map[string]any{
		"id": ckanName(f), "name": ckanName(f), "title": title.In(catalog.English), "notes": f.Description,
		"title_translated": title, "notes_translated": f.Descriptions,
		"type": "dataset", "state": "active", "private": false, "license_id": "data-gov-hk-terms", "license_title": f.Licence,
		"author": f.Department, "maintainer": f.Department, "url": base + "/feeds/" + f.Name,
		"organization": map[string]any{"id": strings.ToLower(f.Department), "name": strings.ToLower(f.Department), "title": f.Department, "is_organization": true},
		"owner_org":    strings.ToLower(f.Department), "groups": []any{group}, "resources": resources, "num_resources": len(resources),
		"tags": []any{}, "num_tags": 0, "version": fmt.Sprint(f.Version),
		"extras": []map[string]string{
			{"key": "update_frequency", "value": time.Duration(fi.IntervalSeconds * float64(time.Second)).String()},
			{"key": "freshness", "value": fi.Freshness},
			{"key": "highway_feed", "value": f.Name},
		},
		"fields": fields,
	}
	if fi.LatestEventTime != nil {
		pkg["metadata_modified"] = fi.LatestEventTime.UTC().Format("2006-01-02T15:04:05.000000")
	}
	return pkg
}
