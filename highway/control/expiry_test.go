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

// TestExpiryForgets checks that a token revoked or expired, and an access
// request refused or expired, leave the state Retention after they ended,
// not a second before, and that what still works or still counts stays.
func TestExpiryForgets(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	end, later := t0.Add(time.Hour), t0.Add(10*24*time.Hour)
	seeded := func() *State {
		return &State{
			Tokens: []Token{
				{TokenInfo: TokenInfo{ID: "tok_revoked", Created: t0, Revoked: &end, Expires: &later}},
				{TokenInfo: TokenInfo{ID: "tok_expired", Created: t0.Add(time.Minute), Expires: &end}},
				{TokenInfo: TokenInfo{ID: "tok_later", Created: t0, Expires: &later}},
				{TokenInfo: TokenInfo{ID: "tok_never", Created: t0}},
			},
			Requests: []Request{
				{ID: "ar_refused", State: RequestRefused, DecidedAt: &end, Until: later},
				{ID: "ar_expired", State: RequestExpired, GrantUntil: &end, Until: later},
				{ID: "ar_lapsed", State: RequestExpired, Until: end},
				{ID: "ar_refused_later", State: RequestRefused, DecidedAt: &later, Until: later},
			},
		}
	}
	tests := []struct {
		name       string
		at         time.Time
		wantTokens []string
		wantReqs   []string
	}{
		{"a second before the retention", end.Add(Retention - time.Second),
			[]string{"tok_revoked", "tok_expired", "tok_later", "tok_never"}, []string{"ar_refused", "ar_expired", "ar_lapsed", "ar_refused_later"}},
		{"at the retention", end.Add(Retention),
			[]string{"tok_later", "tok_never"}, []string{"ar_refused_later"}},
		{"after the retention of the later ones", later.Add(Retention + time.Hour),
			[]string{"tok_never"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := seeded()
			if e := s.Due(tt.at); e != nil {
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
			var ids []string
			for _, tok := range s.Tokens {
				ids = append(ids, tok.ID)
			}
			if !slices.Equal(ids, tt.wantTokens) {
				t.Errorf("tokens %v, want %v", ids, tt.wantTokens)
			}
			ids = nil
			for _, r := range s.Requests {
				ids = append(ids, r.ID)
			}
			if !slices.Equal(ids, tt.wantReqs) {
				t.Errorf("requests %v, want %v", ids, tt.wantReqs)
			}
			if len(tt.wantTokens) < 4 && !s.TokensForgotten.Equal(t0.Add(time.Minute)) {
				t.Errorf("tokens forgotten through %s, want %s", s.TokensForgotten, t0.Add(time.Minute))
			}
		})
	}
	early := seeded()
	at := end.Add(Retention - time.Second)
	for _, e := range []*Expiry{{Tokens: []string{"tok_revoked"}}, {Tokens: []string{"tok_never"}}, {Forget: []string{"ar_refused"}}, {Tokens: []string{"tok_9"}}} {
		if err := early.Apply(&Change{Op: OpExpire, Expire: e}, at); !errors.Is(err, ErrInvalid) {
			t.Errorf("forgetting %+v early: %v, want refused", e, err)
		}
	}
	if len(early.Tokens) != 4 || len(early.Requests) != 4 {
		t.Errorf("state changed by refused changes: %+v", early)
	}
}
