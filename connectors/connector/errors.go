package connector

import (
	"errors"
	"fmt"
)

// ErrPayload is wrapped by every error a parser returns: the payload as a
// whole could not be read, so the poll failed (as opposed to single bad
// items, which become Rejects while the rest still comes out).
var ErrPayload = errors.New("bad payload")

// ErrTruncated is returned (wrapped in a *PayloadError) when a payload ends
// before its document does, as archive copies of TD's files sometimes do.
// The Result returned with it holds every record completed before the cut.
var ErrTruncated = fmt.Errorf("%w: truncated", ErrPayload)

// ErrMalformed is returned (wrapped in a *PayloadError) when a payload is not
// the format its source publishes: not JSON or XML, the wrong document, or a
// header field that every record needs is missing or unreadable.
var ErrMalformed = fmt.Errorf("%w: malformed", ErrPayload)

// PayloadError says what is wrong with a payload and where.
type PayloadError struct {
	// Source names the payload, e.g. "rawSpeedVol-all.xml".
	Source string
	// Offset is the byte offset where the problem was found, -1 if unknown.
	Offset int64
	// Where is the position in source terms: "line 1, column 393216" or
	// "inside <detector> AID01113 of period 21:27:00", or empty.
	Where string
	// Reason is the problem in words.
	Reason string
	// Err is ErrTruncated or ErrMalformed.
	Err error
}

// Error formats the problem: source, position and reason.
func (e *PayloadError) Error() string {
	msg := e.Source + ": "
	if e.Err == ErrTruncated {
		msg += "truncated: "
	}
	msg += e.Reason
	if e.Offset >= 0 {
		msg += fmt.Sprintf(" at byte %d", e.Offset)
	}
	if e.Where != "" {
		msg += " (" + e.Where + ")"
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrTruncated) and errors.Is(err, ErrPayload) work.
func (e *PayloadError) Unwrap() error { return e.Err }

// Malformed returns a *PayloadError wrapping ErrMalformed, without a position.
func Malformed(source, format string, args ...any) *PayloadError {
	return &PayloadError{Source: source, Offset: -1, Reason: fmt.Sprintf(format, args...), Err: ErrMalformed}
}
