package catalog_test

import (
	"strings"
	"testing"

	"github.com/cityhighway/highway/highway/catalog"
)

const departmentFeeds = `kind: feed
name: city.open.feed
department: TD
fields:
  - {name: id, type: string, required: true}
  - {name: at, type: time, required: true}
key: [id]
event_time: at
interval: 1m
---
kind: feed
name: city.secret.feed
department: POLICE
access: restricted
fields:
  - {name: id, type: string, required: true}
  - {name: at, type: time, required: true}
key: [id]
event_time: at
interval: 1m
`

func TestParseDepartment(t *testing.T) {
	c, err := catalog.Parse("d.yaml", []byte(departmentFeeds+`---
kind: department
name: TD
description: Transport Department
grants: [city.secret.feed]
---
kind: department
name: OPS
admin: true
`))
	if err != nil {
		t.Fatal(err)
	}
	deps := c.Departments()
	if len(deps) != 2 || deps[0].Name != "OPS" || deps[1].Name != "TD" {
		t.Fatalf("departments %+v", deps)
	}
	td, ops := c.Department("TD"), c.Department("OPS")
	if td.Description != "Transport Department" || td.Admin || !td.Granted("city.secret.feed") || td.Line != 22 {
		t.Errorf("TD: %+v", td)
	}
	if !ops.Admin || c.Department("NOPE") != nil {
		t.Errorf("OPS: %+v", ops)
	}
	secret, open := c.Feed("city.secret.feed"), c.Feed("city.open.feed")
	other := &catalog.Department{Name: "EPD"}
	police := &catalog.Department{Name: "POLICE"}
	for _, tc := range []struct {
		dep  *catalog.Department
		feed *catalog.Feed
		want bool
	}{
		{td, secret, true}, {ops, secret, true}, {other, secret, false}, {police, secret, true},
		{other, open, true}, {td, open, true},
	} {
		if got := tc.dep.CanRead(tc.feed); got != tc.want {
			t.Errorf("%s reads %s = %v, want %v", tc.dep.Name, tc.feed.Name, got, tc.want)
		}
	}
}

func TestParseDepartmentErrors(t *testing.T) {
	// The department document starts on line 22, after the feeds and "---".
	for _, tc := range []struct {
		name, doc string
		want      string
	}{
		{"unknown key", "kind: department\nname: TD\ncolour: red\n", "d.yaml:24: colour: unknown key; valid keys are kind, name, description, grants, admin"},
		{"missing name", "kind: department\nadmin: true\n", "d.yaml:22: name: missing"},
		{"bad name", "kind: department\nname: \"T D\"\n", `d.yaml:22: name: "T D" is not a valid department name`},
		{"bad admin", "kind: department\nname: TD\nadmin: maybe\n", `d.yaml:24: admin: must be true or false, not "maybe"`},
		{"unknown grant", "kind: department\nname: TD\ngrants: [no.such.feed, city.open.feed]\n", `d.yaml:22: grants[0]: "no.such.feed" is not a feed`},
		{"twice", "kind: department\nname: TD\ngrants: [city.secret.feed, city.secret.feed]\n", `d.yaml:22: grants: "city.secret.feed" is listed twice`},
		{"duplicate", "kind: department\nname: TD\n---\nkind: department\nname: TD\n", `d.yaml:25: name: department "TD" is already declared at d.yaml:22`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := catalog.Parse("d.yaml", []byte(departmentFeeds+"---\n"+tc.doc))
			if err == nil {
				t.Fatal("no error")
			}
			if got := err.Error(); !strings.Contains(got, tc.want) {
				t.Errorf("error\n%s\ndoes not contain\n%s", got, tc.want)
			}
		})
	}
}
