package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/envelope"
	"github.com/cityhighway/highway/highway/record"
	"github.com/cityhighway/highway/highway/store"
)

// PushReport is the answer to a push: how many records were accepted and
// rejected, and the fate of each, in the order sent.
type PushReport struct {
	Feed     string         `json:"feed"`
	Accepted int            `json:"accepted"`
	Rejected int            `json:"rejected"`
	Results  []RecordResult `json:"results"`
}

// RecordResult is the fate of one pushed record.
type RecordResult struct {
	Index int `json:"index"`
	// Status is "accepted" (produced to the feed's topic) or "rejected"
	// (sent to its dead-letter topic with the reason).
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	Field  string `json:"field,omitempty"`
}

// push accepts records of a feed from its owner: a JSON array of objects,
// or objects one per line (NDJSON). Each is checked against the feed's spec
// as the processors will check it; good ones go to the feed's topic keyed by
// the feed's key, bad ones to its dead-letter topic with the reason.
func (s *Server) push(w http.ResponseWriter, r *http.Request, who *principal) {
	f := s.acl().feed(who.dept, r.PathValue("feed"))
	if f == nil {
		feedNotFound(w, r.PathValue("feed"))
		return
	}
	if f.Department != who.dept.Name {
		writeError(w, http.StatusForbidden, fmt.Sprintf("only %s, the owner of %s, may push to it; you are %s", f.Department, f.Name, who.dept.Name),
			"push with a token of "+f.Department)
		return
	}
	if !who.token.CanPush(f.Name) {
		writeError(w, http.StatusForbidden, fmt.Sprintf("token %s may not push to %s (its scopes: %s)", who.token.ID, f.Name, strings.Join(who.token.ScopeList(), ", ")),
			"use a token with the scope push:"+f.Name+" or push:* ('highway token create --scopes push:"+f.Name+"')")
		return
	}
	if s.limited(w, s.tokenRL, who.token.ID, "per token") {
		return
	}
	if s.cfg.Producer == nil {
		writeError(w, http.StatusServiceUnavailable, "pushing is not available: this server has no Kafka", "start highway serve with --kafka")
		return
	}
	start := time.Now()
	entry := store.AuditEntry{At: s.cfg.Now(), Department: who.dept.Name, TokenID: who.token.ID, Client: s.clientAddr(r),
		Action: "push", Route: "POST /api/v1/feeds/{feed}/records", Feed: f.Name}
	defer func() {
		entry.Duration = time.Since(start)
		s.audit(entry)
	}()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxPushBytes))
	entry.Bytes = uint64(len(body))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			entry.Status = http.StatusRequestEntityTooLarge
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", s.cfg.MaxPushBytes), "push fewer records at once")
			return
		}
		entry.Status = http.StatusBadRequest
		writeError(w, http.StatusBadRequest, "reading the body: "+err.Error(), "send the records again")
		return
	}
	if _, keyed := r.Header[HeaderIdempotencyKey]; keyed {
		t, ans := s.claimPushKey(w, r, who, f.Name, body, &entry)
		if t == nil {
			if ans != nil {
				ans.write(w)
			}
			return
		}
		rec := &recorder{ResponseWriter: w, keep: &bytes.Buffer{}}
		w = rec
		defer func() { t.finish(rec.status, rec.keep.Bytes()) }()
	}
	recs, err := splitRecords(body, s.cfg.MaxPushRecords)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, errTooManyRecords) {
			status = http.StatusRequestEntityTooLarge
		}
		entry.Status, entry.Error = status, err.Error()
		writeError(w, status, err.Error(), "send a JSON array of records, or one JSON object per line")
		return
	}
	if s.overQuota(w, who, "pushed_records_per_minute", len(recs)) {
		entry.Status = http.StatusTooManyRequests
		return
	}
	dec := record.NewDecoder(f)
	defer dec.Release()
	rep := PushReport{Feed: f.Name, Results: make([]RecordResult, len(recs))}
	var good, bad []bus.Message
	var reasons []string
	headers := bus.Headers(envelope.Envelope{ContentType: record.ContentTypeJSON, Provenance: envelope.Provenance{PushedBy: who.dept.Name}})
	for i, raw := range recs {
		m := bus.Message{Topic: f.Topic(), Offset: -1, Value: raw, Headers: headers, Time: s.cfg.Now()}
		if err := dec.Append(raw); err != nil {
			m.Key = rejectKey(f, raw)
			res := RecordResult{Index: i, Status: "rejected", Reason: err.Error()}
			var rej *record.Reject
			if errors.As(err, &rej) {
				res.Field = rej.Field
			}
			rep.Results[i] = res
			rep.Rejected++
			bad = append(bad, m)
			reasons = append(reasons, err.Error())
			continue
		}
		m.Key = dec.AppendKey([]byte{}) // the decoder read it; never nil, as an empty key is not no key
		rep.Results[i] = RecordResult{Index: i, Status: "accepted"}
		rep.Accepted++
		good = append(good, m)
	}
	dec.NewRecordBatch().Release()
	// Rejects first, as the processors do: a reject is never lost, even if
	// producing the good ones then fails.
	if len(bad) > 0 {
		if err := s.cfg.Producer.SendDeadLetters(r.Context(), bad, reasons); err != nil {
			entry.Status, entry.Error = http.StatusServiceUnavailable, err.Error()
			writeError(w, http.StatusServiceUnavailable, "Kafka is not accepting records: "+err.Error(), "nothing was accepted; push again later")
			return
		}
	}
	if len(good) > 0 {
		if err := s.cfg.Producer.Produce(r.Context(), good...); err != nil {
			entry.Status, entry.Error = http.StatusServiceUnavailable, err.Error()
			writeError(w, http.StatusServiceUnavailable, "Kafka is not accepting records: "+err.Error(), "no record was accepted; push again later")
			return
		}
	}
	s.metrics.pushed.WithLabelValues(f.Name, "accepted").Add(float64(rep.Accepted))
	s.metrics.pushed.WithLabelValues(f.Name, "rejected").Add(float64(rep.Rejected))
	entry.Rows = uint64(rep.Accepted)
	entry.Status = http.StatusOK
	if rep.Accepted == 0 && rep.Rejected > 0 {
		entry.Status = http.StatusUnprocessableEntity
	}
	writeJSON(w, entry.Status, rep)
}

// claimPushKey checks a push's Idempotency-Key and claims it. It returns
// the ticket of a push that must run, or the answer to write instead (nil
// when it wrote an error itself), and notes the outcome in entry.
func (s *Server) claimPushKey(w http.ResponseWriter, r *http.Request, who *principal, feed string, body []byte, entry *store.AuditEntry) (*ticket, *answer) {
	key := r.Header.Get(HeaderIdempotencyKey)
	if msg := checkIdempotencyKey(key); msg != "" {
		entry.Status, entry.Error = http.StatusBadRequest, msg
		writeError(w, http.StatusBadRequest, msg, "send one "+HeaderIdempotencyKey+" per push, 1 to 255 visible ASCII characters, new for each new request")
		return nil, nil
	}
	entry.Detail = HeaderIdempotencyKey + ": " + key
	if s.idem == nil {
		entry.Status = http.StatusServiceUnavailable
		writeError(w, http.StatusServiceUnavailable, "this server keeps no "+HeaderIdempotencyKey+"s (it has no ClickHouse)", "start highway serve with --clickhouse, or push without the header")
		return nil, nil
	}
	t, ans, err := s.idem.begin(r.Context(), who.dept.Name, key, pushHash(feed, body))
	if err != nil {
		entry.Status, entry.Error = http.StatusServiceUnavailable, err.Error()
		writeError(w, http.StatusServiceUnavailable, "checking the "+HeaderIdempotencyKey+" failed: "+err.Error(), "nothing was written; push again later with the same key")
		return nil, nil
	}
	if ans != nil {
		entry.Status = ans.status
		if ans.replayed {
			entry.Detail += " (replayed)"
		} else {
			entry.Error = ans.msg
		}
		s.metrics.pushKeys.WithLabelValues(ans.outcome()).Inc()
		return nil, ans
	}
	s.metrics.pushKeys.WithLabelValues("run").Inc()
	return t, nil
}

var errTooManyRecords = errors.New("too many records")

// splitRecords splits a push body into records: the elements of a JSON
// array, or the non-empty lines of NDJSON. Records are compacted; their
// content is checked later, record by record.
func splitRecords(body []byte, max int) ([][]byte, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, errors.New("the body is empty")
	}
	var out [][]byte
	add := func(raw []byte) error {
		if len(out) >= max {
			return fmt.Errorf("%w: at most %d per push", errTooManyRecords, max)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			buf.Reset()
			buf.Write(raw) // the decoder will say what is wrong with it
		}
		out = append(out, buf.Bytes())
		return nil
	}
	if trimmed[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(trimmed, &items); err != nil {
			return nil, fmt.Errorf("the body starts with '[' but is not a JSON array: %v", err)
		}
		for _, it := range items {
			if err := add(it); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	for _, line := range bytes.Split(trimmed, []byte("\n")) {
		if line = bytes.TrimSpace(line); len(line) > 0 {
			if err := add(line); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// rejectKey is the Kafka key of a rejected record, which picks its
// dead-letter partition: the key an accepted record gets
// (record.Decoder.AppendKey: its key fields' values in the feed's order,
// joined with record.KeySep, strings as they are, other values as
// written), read with encoding/json since the decoder stopped at the
// record's first fault and may not have read the key fields; nil when the
// record is not a JSON object. Rejects are few, and this keeps each one's
// dead-letter partition what it always was.
func rejectKey(f *catalog.Feed, raw []byte) []byte {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return nil
	}
	parts := make([]string, len(f.Key))
	for i, k := range f.Key {
		v := obj[k]
		var s string
		if json.Unmarshal(v, &s) == nil {
			parts[i] = s
		} else {
			parts[i] = string(v)
		}
	}
	return []byte(record.JoinKey(parts...))
}
