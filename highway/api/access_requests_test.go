package api

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/control"
)

// fakeControl is the control plane in memory: it applies changes as the
// raft FSM does (control.State.Apply) and is its own replica.
type fakeControl struct {
	mu      sync.Mutex
	st      control.State
	changed chan struct{}
	now     func() time.Time
	err     error // the next Apply fails with it
}

func newFakeControl(now func() time.Time) *fakeControl {
	return &fakeControl{changed: make(chan struct{}), now: now}
}

func (f *fakeControl) Apply(_ context.Context, ch *control.Change) (control.Applied, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.err; err != nil {
		f.err = nil
		return control.Applied{}, err
	}
	if err := f.st.Apply(ch, f.now()); err != nil {
		return control.Applied{}, err
	}
	f.st.Index++
	f.notify()
	return control.Applied{Index: f.st.Index}, nil
}

// notify wakes the server (a change, or the clock moved); f.mu held.
func (f *fakeControl) notify() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeControl) poke() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notify()
}

func (f *fakeControl) Requests() []control.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.st.Requests)
}

func (f *fakeControl) Grants() []control.Grant {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.st.Grants)
}

func (f *fakeControl) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

// withControl gives the harness a fake control plane with two pending
// requests of EPD for police.cases: ar_one and ar_two.
func withControl(fc **fakeControl, now *time.Time) func(*Config) {
	return func(c *Config) {
		f := newFakeControl(func() time.Time { return *now })
		for _, id := range []string{"ar_one", "ar_two"} {
			_, err := f.Apply(context.Background(), &control.Change{Op: control.OpRequestCreate, Request: &control.Request{ID: id, Department: "EPD",
				Feed: "police.cases", Owner: "POLICE", Purpose: "air quality near cases", Until: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}})
			if err != nil {
				panic(err)
			}
		}
		c.Control, c.Requests, c.Grants = f, f, f
		*fc = f
	}
}

// waitCode polls until the call answers want (the server rebuilds its
// access rules in the background after a change).
func waitCode(t *testing.T, h *harness, method, path, token, body string, want int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		rr := h.do(method, path, token, body)
		if rr.Code == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s as %s: %d, want %d: %s", method, path, token, rr.Code, want, rr.Body.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAccessRequestFlow(t *testing.T) {
	var fc *fakeControl
	var h *harness
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	h = newHarness(t, withControl(&fc, &now))
	h.now = now
	const feed = "/api/v1/feeds/police.cases"
	if rr := h.do("GET", feed, "EPD", ""); rr.Code != 404 {
		t.Fatalf("EPD reads police.cases before any request: %d", rr.Code)
	}
	steps := []struct {
		name, method, path, token, body string
		status                          int
		contains                        string
	}{
		{"request", "POST", "/api/v1/access-requests", "EPD", `{"feed":"police.cases","purpose":"cross-check","until":"2026-12-31T00:00:00Z"}`, 201, `"state": "pending"`},
		{"no purpose", "POST", "/api/v1/access-requests", "EPD", `{"feed":"police.cases","until":"2026-12-31T00:00:00Z"}`, 400, "needs a purpose"},
		{"in the past", "POST", "/api/v1/access-requests", "EPD", `{"feed":"police.cases","purpose":"x","until":"2026-01-01T00:00:00Z"}`, 400, "future"},
		{"no feed", "POST", "/api/v1/access-requests", "EPD", `{"purpose":"x","until":"2026-12-31T00:00:00Z"}`, 400, "needs a feed"},
		{"an open feed", "POST", "/api/v1/access-requests", "EPD", `{"feed":"td.traffic.cameras","purpose":"x","until":"2026-12-31T00:00:00Z"}`, 409, "reads td.traffic.cameras already"},
		{"the owner lists pending", "GET", "/api/v1/access-requests?state=pending", "POLICE", "", 200, `"purpose": "cross-check"`},
		{"another department sees none", "GET", "/api/v1/access-requests", "TD", "", 200, `"requests": []`},
		{"the requester may not approve", "POST", "/api/v1/access-requests/ar_one/approve", "EPD", `{}`, 403, "POLICE owns police.cases"},
		{"approve with an end", "POST", "/api/v1/access-requests/ar_one/approve", "POLICE", `{"until":"2026-12-01T00:00:00Z"}`, 200, `"grant_until": "2026-12-01T00:00:00Z"`},
		{"approve twice", "POST", "/api/v1/access-requests/ar_one/approve", "POLICE", `{}`, 409, "approved already"},
		{"refuse", "POST", "/api/v1/access-requests/ar_two/refuse", "POLICE", `{"reason":"not needed"}`, 200, `"reason": "not needed"`},
		{"the requester sees the state", "GET", "/api/v1/access-requests/ar_two", "EPD", "", 200, `"state": "refused"`},
	}
	for _, s := range steps {
		rr := h.do(s.method, s.path, s.token, s.body)
		if rr.Code != s.status || !strings.Contains(rr.Body.String(), s.contains) {
			t.Errorf("%s: %d %s, want %d with %q", s.name, rr.Code, rr.Body.String(), s.status, s.contains)
		}
	}
	// The approval granted the feed; it ends at the approval's end.
	waitCode(t, h, "GET", feed, "EPD", "", 200)
	h.now = time.Date(2026, 12, 1, 0, 0, 1, 0, time.UTC)
	now = h.now
	fc.poke()
	waitCode(t, h, "GET", feed, "EPD", "", 404)
	rr := h.do("GET", "/api/v1/access-requests/ar_one", "EPD", "")
	if !strings.Contains(rr.Body.String(), `"state": "expired"`) {
		t.Errorf("an approved request past its end: %s", rr.Body.String())
	}
	// Every step is audited, the refused ones too.
	var actions []string
	h.audit.mu.Lock()
	for _, e := range h.audit.entries {
		if strings.HasPrefix(e.Action, "access.") {
			actions = append(actions, e.Action)
		}
	}
	h.audit.mu.Unlock()
	if want := []string{"access.request", "access.approve", "access.refuse"}; !slices.Equal(actions, want) {
		t.Errorf("audited %v, want %v", actions, want)
	}
	// A control plane that does not take the change: 503, audited.
	fc.err = control.ErrUnavailable
	rr = h.do("POST", "/api/v1/access-requests", "EPD", `{"feed":"police.cases","purpose":"again","until":"2026-12-31T00:00:00Z"}`)
	if rr.Code != 503 {
		t.Errorf("control plane down: %d %s", rr.Code, rr.Body.String())
	}
	var list AccessRequestList
	if err := json.Unmarshal(h.do("GET", "/api/v1/access-requests", "EPD", "").Body.Bytes(), &list); err != nil || len(list.Requests) != 3 {
		t.Errorf("EPD lists %d requests (%v), want 3", len(list.Requests), err)
	}
}

// TestAccessRequestUnknownFeedLooksRestricted: for a department without
// access, asking for a feed that does not exist and for a restricted feed
// gets the same answers, at the request and afterwards (the list, the
// request by ID); only the owner and an admin see whose feed it is.
func TestAccessRequestUnknownFeedLooksRestricted(t *testing.T) {
	var fc *fakeControl
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	h := newHarness(t, withControl(&fc, &now))
	h.now = now
	// same turns an answer into what it would be for the other feed: the
	// IDs and the feed's name are the caller's own.
	same := func(body, id, feed string) string {
		body = strings.ReplaceAll(body, id, "ID")
		return strings.ReplaceAll(body, `"`+feed+`"`, `"FEED"`)
	}
	answers := map[string][]string{}
	for _, feed := range []string{"police.cases", "police.informants"} {
		rr := h.do("POST", "/api/v1/access-requests", "EPD", `{"feed":"`+feed+`","purpose":"cross-check","until":"2026-12-31T00:00:00Z"}`)
		var q control.Request
		if err := json.Unmarshal(rr.Body.Bytes(), &q); err != nil || q.ID == "" {
			t.Fatalf("asking for %s: %d %s", feed, rr.Code, rr.Body.String())
		}
		byID := h.do("GET", "/api/v1/access-requests/"+q.ID, "EPD", "")
		answers[feed] = []string{fmt.Sprint(rr.Code), same(rr.Body.String(), q.ID, feed), fmt.Sprint(byID.Code), same(byID.Body.String(), q.ID, feed)}
	}
	if a, b := answers["police.cases"], answers["police.informants"]; !slices.Equal(a, b) {
		t.Errorf("a restricted feed and a missing one are told apart:\nrestricted: %q\nmissing:    %q", a, b)
	}
	list := h.do("GET", "/api/v1/access-requests", "EPD", "").Body.String()
	if strings.Contains(list, "POLICE") {
		t.Errorf("the requester sees the owner: %s", list)
	}
	if owner := h.do("GET", "/api/v1/access-requests?state=pending", "POLICE", "").Body.String(); !strings.Contains(owner, `"owner": "POLICE"`) || strings.Contains(owner, "police.informants") {
		t.Errorf("the owner's list: %s", owner)
	}
}
