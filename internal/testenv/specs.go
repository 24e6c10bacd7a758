package testenv

import (
	"strings"
	"testing"

	"github.com/cityhighway/highway/highway/catalog"
)

// PoliceCases is the YAML spec of police.cases, the restricted feed of
// POLICE (key case_id, event time at) that the access tests grant, request
// and refuse. It is one document without a leading or trailing "---".
const PoliceCases = `kind: feed
name: police.cases
department: POLICE
access: restricted
fields:
  - {name: case_id, type: string, required: true}
  - {name: at, type: time, required: true}
key: [case_id]
event_time: at
interval: 1h
`

// ControlSpecs returns the YAML of one specs file: PoliceCases followed by a
// plain department document for each name in departments (POLICE, the
// feed's owner, needs none).
func ControlSpecs(departments ...string) string {
	var b strings.Builder
	b.WriteString(PoliceCases)
	for _, d := range departments {
		b.WriteString("---\nkind: department\nname: " + d + "\n")
	}
	return b.String()
}

// ControlCatalog parses ControlSpecs(departments...) and fails t when the
// fixture does not load.
func ControlCatalog(t testing.TB, departments ...string) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.Parse("control.yaml", []byte(ControlSpecs(departments...)))
	if err != nil {
		t.Fatalf("the control specs fixture does not load: %v", err)
	}
	return cat
}
