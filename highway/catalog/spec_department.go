package catalog

import (
	"fmt"
	"regexp"
	"slices"

	"gopkg.in/yaml.v3"
)

// Department is a government department that uses the platform: it owns the
// feeds whose spec names it, pushes their records, and reads open feeds and
// the restricted feeds it is granted. An admin department reads everything.
//
//	kind: department
//	name: TD
//	description: Transport Department
//	grants: [epd.air.pollutants]   # restricted feeds it may read
//	admin: false
//
// A department that owns feeds but is not declared is treated by the API as
// a department with no grants that is not admin.
type Department struct {
	Name        string
	Description string
	// Grants lists the restricted feeds the department may read besides its
	// own. Granting an open feed is allowed and changes nothing.
	Grants []string
	// Admin departments read every feed, open or restricted, and the
	// platform's own tables (the audit log).
	Admin bool
	// Quotas bound its use of the API (zero fields: the server's default).
	Quotas Quotas
	// File and Line locate the spec, for messages.
	File string
	Line int
}

// SpecName returns the department's name.
func (d *Department) SpecName() string { return d.Name }

// SpecLocation returns where the department is declared.
func (d *Department) SpecLocation() (string, int) { return d.File, d.Line }

// Granted reports whether the department was granted the feed by name. It
// does not consider ownership, access or admin; see CanRead.
func (d *Department) Granted(feed string) bool { return slices.Contains(d.Grants, feed) }

// CanRead reports whether the department may read the feed: an open feed,
// its own feed, a granted one, or any feed for an admin.
func (d *Department) CanRead(f *Feed) bool {
	return f.Access == Open || d.Admin || f.Department == d.Name || d.Granted(f.Name)
}

// Departments returns every declared department, sorted by name.
func (c *Catalog) Departments() []*Department {
	var out []*Department
	for _, s := range c.Specs("department") {
		out = append(out, s.(*Department))
	}
	return out
}

// Department returns the declared department called name, or nil.
func (c *Catalog) Department(name string) *Department {
	if s := c.Spec("department", name); s != nil {
		return s.(*Department)
	}
	return nil
}

var departmentName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

func init() {
	registerKind(kind{name: "department", decode: decodeDepartment, check: checkDepartment})
}

// departmentKeys are the keys of a department document: the one description
// that drives decoding and messages.
func departmentKeys(d *decoder, dep *Department) []key {
	return []key{
		{name: "kind", required: true, doc: "always \"department\"", decode: func(*yaml.Node, string) {}},
		{name: "name", required: true, doc: "the department's short name as feeds name it, e.g. TD", decode: d.str(&dep.Name)},
		{name: "description", doc: "the department's full name or purpose", decode: d.str(&dep.Description)},
		{name: "grants", doc: "restricted feeds the department may read besides its own", decode: d.strings(&dep.Grants)},
		{name: "admin", doc: "true if the department reads everything (default false)", decode: d.boolean(&dep.Admin)},
		{name: "quotas", doc: "limits on its API use: requests_per_minute, rows_per_day, bytes_per_day, pushed_records_per_minute", decode: decodeQuotas(d, dep)},
	}
}

func decodeDepartment(p *problems, root *yaml.Node) Spec {
	d := &decoder{p}
	dep := &Department{File: p.file, Line: root.Line}
	d.mapping(root, "", departmentKeys(d, dep))
	if dep.Name != "" && !departmentName.MatchString(dep.Name) {
		p.add(root.Line, "name", "%q is not a valid department name: use letters, digits, _ and -, starting with a letter, e.g. \"TD\"", dep.Name)
	}
	for i, g := range dep.Grants {
		if slices.Index(dep.Grants, g) != i {
			p.add(root.Line, "grants", "%q is listed twice", g)
		}
	}
	return dep
}

// checkDepartment checks that every grant names a feed, once all specs are
// loaded.
func checkDepartment(c *Catalog, s Spec, r *crossProblems) {
	dep := s.(*Department)
	for i, g := range dep.Grants {
		if c.Feed(g) == nil {
			r.add(dep.File, dep.Line, fmt.Sprintf("grants[%d]", i), "%q is not a feed; grant the name of a declared feed", g)
		}
	}
}
