package control

import (
	"errors"
	"testing"
	"time"
)

func TestRequestLifecycle(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	until := t0.Add(30 * 24 * time.Hour)
	grantEnd := t0.Add(7 * 24 * time.Hour)
	ask := Request{ID: "ar_1", Department: "EPD", Feed: "police.cases", Owner: "POLICE", Purpose: "p", Until: until}
	steps := []struct {
		name string
		c    Change
		err  error
	}{
		{"create", Change{Op: OpRequestCreate, Request: &ask}, nil},
		{"create again (a retry)", Change{Op: OpRequestCreate, Request: &ask}, nil},
		{"create another with the same ID", Change{Op: OpRequestCreate, Request: &Request{ID: "ar_1", Department: "TD", Feed: "x", Owner: "Y", Purpose: "q", Until: until}}, ErrInvalid},
		{"create without a purpose", Change{Op: OpRequestCreate, Request: &Request{ID: "ar_2", Department: "TD", Feed: "x", Owner: "Y", Until: until}}, ErrInvalid},
		{"approve without an end", Change{Op: OpRequestApprove, Request: &Request{ID: "ar_1", DecidedBy: "tok_p"}}, ErrInvalid},
		{"approve an unknown request", Change{Op: OpRequestApprove, Request: &Request{ID: "ar_9", GrantUntil: &grantEnd}}, ErrNoRequest},
		{"approve", Change{Op: OpRequestApprove, Request: &Request{ID: "ar_1", DecidedBy: "tok_p", GrantUntil: &grantEnd}}, nil},
		{"approve again (a retry)", Change{Op: OpRequestApprove, Request: &Request{ID: "ar_1", DecidedBy: "tok_p", GrantUntil: &grantEnd}}, nil},
		{"refuse an approved request", Change{Op: OpRequestRefuse, Request: &Request{ID: "ar_1", DecidedBy: "tok_q"}}, ErrInvalid},
	}
	s := &State{}
	for _, st := range steps {
		err := s.Apply(&st.c, t0)
		if !errors.Is(err, st.err) || (st.err == nil) != (err == nil) {
			t.Fatalf("%s: %v, want %v", st.name, err, st.err)
		}
	}
	r, ok := s.Request("ar_1")
	if !ok || r.State != RequestApproved || !r.GrantUntil.Equal(grantEnd) || r.DecidedBy != "tok_p" || len(s.Requests) != 1 {
		t.Fatalf("request %+v", r)
	}
	if len(s.Grants) != 1 || s.Grants[0].Department != "EPD" || !s.Grants[0].Until.Equal(grantEnd) || s.Grants[0].Note != "access request ar_1" {
		t.Fatalf("grants %+v", s.Grants)
	}
	if got := r.StateAt(grantEnd); got != RequestExpired {
		t.Errorf("state at the grant's end: %s", got)
	}
	if got := r.StateAt(grantEnd.Add(-time.Second)); got != RequestApproved {
		t.Errorf("state before the grant's end: %s", got)
	}
}
