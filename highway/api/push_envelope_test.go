package api

import (
	"testing"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/envelope"
	"github.com/cityhighway/highway/highway/record"
)

// TestPushedRecordsCarryTheirEnvelope: a pushed record travels as JSON with
// the department that pushed it and no fetch provenance, so its row's
// _source is empty; a pushed reject reaches the dead-letter topic with the
// same envelope, keyed like the records (record.JoinKey of its key fields).
func TestPushedRecordsCarryTheirEnvelope(t *testing.T) {
	h := newHarness(t, nil)
	rr := doKeyed(h, "TD", "-", `[{"camera": "C1", "speed": 50, "at": "2026-11-26T12:00:00Z"}, {"camera": "C2", "speed": 999, "at": "2026-11-26T12:00:00Z"}]`)
	if rr.Code != 200 {
		t.Fatalf("push answered %d: %s", rr.Code, rr.Body)
	}
	if len(h.producer.good) != 1 || len(h.producer.bad) != 1 {
		t.Fatalf("produced %d records and %d rejects, want 1 and 1", len(h.producer.good), len(h.producer.bad))
	}
	for _, m := range []bus.Message{h.producer.good[0], h.producer.bad[0]} {
		env := m.Envelope()
		want := envelope.Envelope{ContentType: record.ContentTypeJSON, Provenance: envelope.Provenance{PushedBy: "TD"}}
		if env.ContentType != want.ContentType || env.Provenance != want.Provenance || env.Reject != nil {
			t.Errorf("message %s: envelope %+v, want %+v", m.Value, env, want)
		}
		raw := m.RawEnvelope()
		if p := raw.Provenance(); p.Source != "" || !p.FetchedAt.IsZero() || p.SchemaVersion != 0 {
			t.Errorf("message %s: the processor would store provenance %+v", m.Value, p)
		}
	}
	if got := string(h.producer.bad[0].Key); got != "C2" {
		t.Errorf("reject keyed %q, want C2", got)
	}
	if got := h.producer.good[0].Key; string(got) != "C1" {
		t.Errorf("record keyed %q, want C1", got)
	}
}

// TestPushKeysAcceptedAsRejected: the key the decoder hands back for an
// accepted record is the one rejectKey reads with encoding/json (the rule
// of every push before the decoder handed keys back), for escapes, spacing
// and an empty key alike, so a pushed record's partition is what it was.
func TestPushKeysAcceptedAsRejected(t *testing.T) {
	h := newHarness(t, nil)
	body := `{"camera": "C\u00e9 \"7\" | x", "speed": 50, "at": "2026-11-26T12:00:00Z"}
{"at": "2026-11-26T12:00:00Z", "camera" : "", "speed": 1}
{"camera":"\ud83d\ude97","speed":2,"at":"2026-11-26T12:00:00Z"}`
	if rr := doKeyed(h, "TD", "-", body); rr.Code != 200 {
		t.Fatalf("push answered %d: %s", rr.Code, rr.Body)
	}
	f := h.srv.cfg.Catalog.Feed("td.traffic.cameras")
	if len(h.producer.good) != 3 {
		t.Fatalf("accepted %d records, want 3", len(h.producer.good))
	}
	for _, m := range h.producer.good {
		if want := rejectKey(f, m.Value); string(m.Key) != string(want) || m.Key == nil {
			t.Errorf("%s: key %q, encoding/json reads %q", m.Value, m.Key, want)
		}
	}
}
