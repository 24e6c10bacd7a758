// Package hko parses the Hong Kong Observatory's open-data weather API
// (https://data.weather.gov.hk/weatherAPI/opendata/weather.php) into the
// built-in hko.weather.* feeds:
//
//	dataType=rhrread → hko.weather.temperature, .rainfall, .humidity, .uv (ParseRhrread)
//	dataType=warnsum → hko.weather.warnings (ParseWarnsum)
//	dataType=fnd     → hko.weather.forecast (ParseForecast)
//
// Poll with lang=en: records are keyed on the English place names. The
// parsers are pure functions of the payload, safe for concurrent use.
package hko

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/cityhighway/highway/connectors/connector"
)

// The feeds this package produces.
const (
	FeedTemperature = "hko.weather.temperature"
	FeedRainfall    = "hko.weather.rainfall"
	FeedHumidity    = "hko.weather.humidity"
	FeedUV          = "hko.weather.uv"
	FeedWarnings    = "hko.weather.warnings"
	FeedForecast    = "hko.weather.forecast"
)

// decodeTop reads a payload that must be one JSON object into its members,
// or returns a *connector.PayloadError naming source.
func decodeTop(source string, payload []byte) (object, error) {
	payload = connector.TrimPayload(payload)
	var top object
	if err := json.Unmarshal(payload, &top); err != nil {
		return nil, jsonError(source, payload, err)
	}
	if top == nil {
		return nil, connector.Malformed(source, "the payload is null, not a JSON object")
	}
	return top, nil
}

// jsonError turns an encoding/json error about a whole payload into a
// *connector.PayloadError.
func jsonError(source string, payload []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &connector.PayloadError{Source: source, Offset: int64(len(payload)), Reason: "the JSON ends before its objects are closed", Err: connector.ErrTruncated}
	case errors.As(err, &syn) && syn.Offset >= int64(len(payload)) && len(payload) > 0:
		return &connector.PayloadError{Source: source, Offset: syn.Offset, Reason: "the JSON ends before its objects are closed", Err: connector.ErrTruncated}
	case errors.As(err, &syn):
		return &connector.PayloadError{Source: source, Offset: syn.Offset, Reason: "not JSON: " + syn.Error(), Err: connector.ErrMalformed}
	case errors.As(err, &typ):
		return &connector.PayloadError{Source: source, Offset: typ.Offset, Reason: "the payload is a JSON " + typ.Value + ", not an object", Err: connector.ErrMalformed}
	default:
		return &connector.PayloadError{Source: source, Offset: -1, Reason: "not JSON: " + err.Error(), Err: connector.ErrMalformed}
	}
}

// object is one JSON object of a payload, read member by member so that a
// bad member can be named in a reject while the others are still used.
type object map[string]json.RawMessage

// asObject reads raw as a JSON object; what is the thing's name in reasons.
func asObject(raw json.RawMessage, what string) (object, string) {
	var o object
	if err := json.Unmarshal(raw, &o); err != nil || o == nil {
		return nil, what + " is " + kind(raw) + ", not an object"
	}
	return o, ""
}

// asList reads raw as a JSON list.
func asList(raw json.RawMessage, what string) ([]json.RawMessage, string) {
	var l []json.RawMessage
	if err := json.Unmarshal(raw, &l); err != nil || l == nil {
		return nil, what + " is " + kind(raw) + ", not a list"
	}
	return l, ""
}

// has reports whether the member is present and not null.
func (o object) has(name string) bool {
	raw, ok := o[name]
	return ok && string(bytes.TrimSpace(raw)) != "null"
}

// text returns a member read as text: a string (HTML entities decoded,
// spaces trimmed) or a number or boolean as written. Absent and null give
// "". An object or list gives a reason.
func (o object) text(name string) (string, string) {
	raw := bytes.TrimSpace(o[name])
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "", ""
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", name + " is not a valid JSON string"
		}
		return cleanText(s), ""
	case raw[0] == '{' || raw[0] == '[':
		return "", name + " is " + kind(raw) + ", not text"
	}
	return string(raw), ""
}

// number returns a member that should be a number. HKO writes numbers; a
// number in a string is read too. Absent, null and "" give ok false with no
// reason; anything else not a number gives a reason.
func (o object) number(name string) (v float64, ok bool, reason string) {
	raw := bytes.TrimSpace(o[name])
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false, ""
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			if s = strings.TrimSpace(s); s == "" {
				return 0, false, ""
			}
			raw = []byte(s)
		}
	}
	v, ok = connector.Number(raw)
	if !ok {
		return 0, false, name + " " + shorten(o[name]) + " is not a number"
	}
	return v, true, ""
}

// kind names the JSON type of raw for messages.
func kind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "missing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		if string(raw) == `""` {
			return "an empty string"
		}
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

// shorten keeps raw values in messages readable.
func shorten(raw json.RawMessage) string {
	s := string(bytes.TrimSpace(raw))
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// cleanText decodes HTML entities (HKO sends "Central &amp; Western
// District") and trims spaces.
func cleanText(s string) string {
	if strings.IndexByte(s, '&') >= 0 {
		s = html.UnescapeString(s)
	}
	return strings.TrimSpace(s)
}

// hkoTime reads one of HKO's times: RFC 3339 with an offset, or without one
// (read as Hong Kong time).
func hkoTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, string(s)); err == nil {
		return t, nil
	}
	if t, err := connector.LocalTime("2006-01-02T15:04:05", string(s)); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%s is not a time like \"2006-01-02T15:04:05+08:00\"", strconv.Quote(s))
}

// time returns a member that should be a time. Absent, null and "" give the
// zero time with no reason.
func (o object) time(name string) (time.Time, string) {
	s, reason := o.text(name)
	if reason != "" || s == "" {
		return time.Time{}, reason
	}
	t, err := hkoTime(s)
	if err != nil {
		return time.Time{}, name + " " + err.Error()
	}
	return t, ""
}
