package control

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestExpiry(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	end, later := t0.Add(time.Hour), t0.Add(48*time.Hour)
	seeded := func() *State {
		return &State{
			Grants: []Grant{
				{Department: "EPD", Feed: "police.cases", Until: &end, Note: "access request ar_1"},
				{Department: "TD", Feed: "police.cases"},
				{Department: "HKO", Feed: "police.cases", Until: &later},
			},
			Requests: []Request{
				{ID: "ar_1", Department: "EPD", Feed: "police.cases", State: RequestApproved, GrantUntil: &end, Until: later},
				{ID: "ar_2", Department: "TD", Feed: "x", State: RequestPending, Until: end},
				{ID: "ar_3", Department: "TD", Feed: "x", State: RequestPending, Until: later},
				{ID: "ar_4", Department: "TD", Feed: "x", State: RequestRefused, Until: end},
			},
		}
	}
	tests := []struct {
		name       string
		at         time.Time
		wantDue    bool
		wantGrants []string // departments left, in order
		wantStates []RequestState
	}{
		{"nothing ended a second before", end.Add(-time.Second), false, []string{"EPD", "TD", "HKO"},
			[]RequestState{RequestApproved, RequestPending, RequestPending, RequestRefused}},
		{"at the end (the fraction is cut as Apply cuts it)", end.Add(400 * time.Millisecond), true, []string{"TD", "HKO"},
			[]RequestState{RequestExpired, RequestExpired, RequestPending, RequestRefused}},
		{"after the last end", later.Add(time.Hour), true, []string{"TD"},
			[]RequestState{RequestExpired, RequestExpired, RequestExpired, RequestRefused}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := seeded()
			e := s.Due(tt.at)
			if (e != nil) != tt.wantDue {
				t.Fatalf("due %+v, want due=%v", e, tt.wantDue)
			}
			if e != nil {
				if err := s.Apply(&Change{Op: OpExpire, Expire: e}, tt.at); err != nil {
					t.Fatal(err)
				}
				if again := s.Due(tt.at); again != nil {
					t.Errorf("due after the expiry: %+v", again)
				}
				if err := s.Apply(&Change{Op: OpExpire, Expire: e}, tt.at); !errors.Is(err, ErrInvalid) {
					t.Errorf("the same expiry again: %v, want refused", err)
				}
			}
			var depts []string
			for _, g := range s.Grants {
				depts = append(depts, g.Department)
			}
			if !slices.Equal(depts, tt.wantGrants) {
				t.Errorf("grants of %v, want %v", depts, tt.wantGrants)
			}
			for i, r := range s.Requests {
				if r.State != tt.wantStates[i] {
					t.Errorf("request %s is %s, want %s", r.ID, r.State, tt.wantStates[i])
				}
			}
		})
	}
}

func TestExpiryRefusesWhatHasNotEnded(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	end, renewed := t0.Add(time.Hour), t0.Add(5*time.Hour)
	s := &State{Grants: []Grant{{Department: "EPD", Feed: "police.cases", Until: &renewed}},
		Requests: []Request{{ID: "ar_1", State: RequestPending, Until: renewed}}}
	tests := []struct {
		name string
		e    *Expiry
	}{
		{"nothing listed", &Expiry{}},
		{"a grant made again with a later end", &Expiry{Grants: []Grant{{Department: "EPD", Feed: "police.cases", Until: &end}}}},
		{"a grant that is not there", &Expiry{Grants: []Grant{{Department: "TD", Feed: "police.cases", Until: &end}}}},
		{"a pending request before its end", &Expiry{Requests: []string{"ar_1"}}},
		{"an unknown request", &Expiry{Requests: []string{"ar_9"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Apply(&Change{Op: OpExpire, Expire: tt.e}, end.Add(time.Minute)); !errors.Is(err, ErrInvalid) {
				t.Errorf("%v, want refused", err)
			}
			if len(s.Grants) != 1 || s.Requests[0].State != RequestPending {
				t.Errorf("state changed: %+v", s)
			}
		})
	}
}
