package record

import (
	"errors"
	"fmt"
)

// ErrRejected is wrapped by every Reject, so callers can tell a bad record
// (which goes to the dead-letter topic) from a failure of the platform.
var ErrRejected = errors.New("record rejected")

// Reject says why one record does not fit its feed: which field, what value,
// and what is wrong. Field is empty when the record as a whole is malformed;
// Offset is the byte offset in the record where the problem was found.
type Reject struct {
	Field  string
	Value  string
	Reason string
	Offset int
}

// Error formats the reject for people and for the DLQ's reason header.
func (r *Reject) Error() string {
	switch {
	case r.Field == "":
		return fmt.Sprintf("at byte %d: %s", r.Offset, r.Reason)
	case r.Value == "":
		return fmt.Sprintf("field %s: %s", r.Field, r.Reason)
	default:
		return fmt.Sprintf("field %s: value %s: %s", r.Field, r.Value, r.Reason)
	}
}

// Unwrap makes every Reject match ErrRejected.
func (r *Reject) Unwrap() error { return ErrRejected }

// shorten keeps values in messages readable.
func shorten(b []byte) string {
	const limit = 64
	if len(b) > limit {
		return string(b[:limit]) + "…"
	}
	return string(b)
}
