package hko

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/cityhighway/highway/connectors/connector"
)

// ParseWarnsum parses the summary of warnings in force (dataType=warnsum)
// into hko.weather.warnings: one record per warning family present (WRAIN,
// WTCSGNL, WFIRE, ...), in the order of the payload, keyed by the family,
// with the signal in code (WRAINA, TC8NE, WFIREY) and the change in action
// (ISSUE, REISSUE, EXTEND, CANCEL). The source repeats a warning at every
// poll while it is in force; telling a change from a repeat (same family and
// update_time) is the runtime's de-duplication. {} means nothing is in force
// and gives no record.
//
// A family whose value is not an object, or has no update time, becomes a
// reject; the others still come out.
func ParseWarnsum(payload []byte) (connector.Result, error) {
	payload = connector.TrimPayload(payload)
	// Read the members in payload order (a map would lose it).
	dec := json.NewDecoder(bytes.NewReader(payload))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		if err == nil {
			return connector.Result{}, connector.Malformed("warnsum", "the payload is %s, not a JSON object", kind(payload))
		}
		return connector.Result{}, jsonError("warnsum", payload, err)
	}
	var (
		res      connector.Result
		o        connector.Object
		families = seen{}
	)
	for i := 0; dec.More(); i++ {
		tok, err := dec.Token()
		if err != nil {
			return res, jsonError("warnsum", payload, err)
		}
		family, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return res, jsonError("warnsum", payload, err)
		}
		where := family
		if strings.TrimSpace(family) == "" {
			where = fmt.Sprintf("member %d", i)
		}
		reason := families.repeat("family " + family)
		if reason == "" {
			if reason = warning(&res, &o, family, raw); reason == "" {
				families.add("family "+family, where)
			}
		}
		if reason != "" {
			res.Reject(FeedWarnings, where, reason, raw)
		}
	}
	if _, err := dec.Token(); err != nil && !errors.Is(err, io.EOF) {
		return res, jsonError("warnsum", payload, err)
	}
	return res, nil
}

// warning adds the record of one family, or returns why it cannot.
func warning(res *connector.Result, o *connector.Object, family string, raw json.RawMessage) string {
	if strings.TrimSpace(family) == "" {
		return "the warning family (the member's name) is empty"
	}
	w, reason := asObject(raw, family)
	if reason != "" {
		return reason
	}
	var reasons []string
	note := func(r string) {
		if r != "" {
			reasons = append(reasons, r)
		}
	}
	code, r := w.text("code")
	note(r)
	name, r := w.text("name")
	note(r)
	action, r := w.text("actionCode")
	note(r)
	issued, r := w.time("issueTime")
	note(r)
	expires, r := w.time("expireTime")
	note(r)
	updated, r := w.time("updateTime")
	if r == "" && updated.IsZero() {
		r = "updateTime is missing"
	}
	note(r)
	if len(reasons) > 0 {
		return strings.Join(reasons, "; ")
	}
	o.Begin()
	o.String("family", family)
	o.StringOrNull("code", code)
	o.StringOrNull("name", name)
	o.StringOrNull("action", action)
	o.OptTime("issue_time", issued)
	o.OptTime("expire_time", expires)
	o.Time("update_time", updated)
	res.Add(connector.Record{Feed: FeedWarnings, Key: family, Value: o.End(), Where: family})
	return ""
}
