package quality

import (
	"regexp"
	"strings"
)

// Reason classes of dead letters.
const (
	ClassRange        = "range"
	ClassEnum         = "enum"
	ClassRequired     = "required"
	ClassType         = "type"
	ClassUnknownField = "unknown_field"
	ClassMalformed    = "malformed"
	ClassLate         = "late"
	ClassOther        = "other"
)

// NoField is the field of a reject that names none.
const NoField = "(record)"

var fieldInReason = regexp.MustCompile(`(?:^|[:;,] )field ([a-z][a-z0-9_]*)[: ]`)

// Classify sorts a dead letter's reason (the highway-reason header) into a
// class and the field at fault, NoField when it names none. Reasons come
// from record.Reject ("field speed: value 350: above the maximum 300"),
// the connectors' parsers (which prefix where the item was) and the
// processors ("late: window ... has closed").
func Classify(reason string) (class, field string) {
	field = NoField
	if m := fieldInReason.FindStringSubmatch(reason); m != nil {
		field = m[1]
	}
	switch r := strings.ToLower(reason); {
	case strings.HasPrefix(r, "late:") || strings.Contains(r, ": late:"):
		class = ClassLate
	case strings.Contains(r, "above the maximum") || strings.Contains(r, "below the minimum"):
		class = ClassRange
	case strings.Contains(r, "not one of"):
		class = ClassEnum
	case strings.Contains(r, "required field"):
		class = ClassRequired
	case strings.Contains(r, "unknown field"):
		class = ClassUnknownField
	case strings.Contains(r, "is not a ") || strings.Contains(r, "not a number") || strings.Contains(r, "cannot hold") || strings.Contains(r, "not a time") ||
		strings.Contains(r, "not valid utf-8") || (field != NoField && strings.Contains(r, "must be")):
		class = ClassType
	case field == NoField:
		class = ClassMalformed
	default:
		class = ClassOther
	}
	return class, field
}
