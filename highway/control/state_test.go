package control

import (
	"errors"
	"testing"
	"time"
)

func TestStateApply(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	secret, tok, err := NewToken("TD", TokenSpec{Note: "n", Scopes: []string{ScopeRead}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	_, next, _ := NewToken("EPD", TokenSpec{}, t0)
	until := t0.Add(24 * time.Hour)
	past := t0.Add(-time.Hour)
	seeded := func() *State {
		return &State{Tokens: []Token{tok}, Grants: []Grant{{Department: "TD", Feed: "police.cases", Created: t0}}}
	}
	other := tok
	other.Hash = Hash("another")
	tests := []struct {
		name  string
		c     Change
		at    time.Time
		err   error
		check func(t *testing.T, s *State)
	}{
		{"create again with the same hash is a no-op", Change{Op: OpTokenCreate, Token: &tok}, t0, nil, func(t *testing.T, s *State) {
			if len(s.Tokens) != 1 {
				t.Errorf("%d tokens, want 1", len(s.Tokens))
			}
		}},
		{"create with an ID taken by another secret", Change{Op: OpTokenCreate, Token: &other}, t0, ErrInvalid, nil},
		{"create without a department", Change{Op: OpTokenCreate, Token: &Token{TokenInfo: TokenInfo{ID: "x"}, Hash: "h"}}, t0, ErrInvalid, nil},
		{"revoke", Change{Op: OpTokenRevoke, ID: tok.ID}, t0.Add(90 * time.Minute), nil, func(t *testing.T, s *State) {
			if r := s.Tokens[0].Revoked; r == nil || !r.Equal(t0.Add(90*time.Minute)) {
				t.Errorf("revoked %v", r)
			}
			if _, ok := Verify(s.Tokens, secret); ok {
				t.Error("a revoked token verifies")
			}
		}},
		{"revoke unknown", Change{Op: OpTokenRevoke, ID: "tok_nope"}, t0, ErrNoToken, nil},
		{"rotate keeps department, scopes and note, and ends the old one after the overlap", Change{Op: OpTokenRotate, ID: tok.ID, Token: &next, Overlap: time.Hour}, t0, nil,
			func(t *testing.T, s *State) {
				nt := s.Tokens[1]
				if nt.Department != "TD" || nt.Note != "n" || len(nt.Scopes) != 1 || nt.Replaces != tok.ID {
					t.Errorf("new token %+v", nt.TokenInfo)
				}
				if e := s.Tokens[0].Expires; e == nil || !e.Equal(t0.Add(time.Hour)) {
					t.Errorf("old token expires %v", e)
				}
			}},
		{"rotate unknown", Change{Op: OpTokenRotate, ID: "tok_nope", Token: &next}, t0, ErrNoToken, nil},
		{"rotate an expired token", Change{Op: OpTokenRotate, ID: tok.ID, Token: &next}, t0.Add(100 * 24 * time.Hour), ErrInvalid, nil},
		{"grant with an end", Change{Op: OpGrantAdd, Grant: &Grant{Department: "EPD", Feed: "police.cases", Until: &until}}, t0, nil, func(t *testing.T, s *State) {
			if len(s.Grants) != 2 || !s.Grants[1].Created.Equal(t0) {
				t.Errorf("grants %+v", s.Grants)
			}
			if g := ActiveGrants(s.Grants, until); len(g["EPD"]) != 0 {
				t.Errorf("grant active at its end: %v", g)
			}
			if g := ActiveGrants(s.Grants, until.Add(-time.Second)); len(g["EPD"]) != 1 {
				t.Errorf("grant not active before its end: %v", g)
			}
			if n := NextExpiry(s.Grants, t0); !n.Equal(until) {
				t.Errorf("next expiry %v", n)
			}
		}},
		{"grant again replaces", Change{Op: OpGrantAdd, Grant: &Grant{Department: "TD", Feed: "police.cases", Until: &until}}, t0, nil, func(t *testing.T, s *State) {
			if len(s.Grants) != 1 || s.Grants[0].Until == nil {
				t.Errorf("grants %+v", s.Grants)
			}
		}},
		{"grant ending before it starts", Change{Op: OpGrantAdd, Grant: &Grant{Department: "EPD", Feed: "police.cases", Until: &past}}, t0, ErrInvalid, nil},
		{"remove a grant", Change{Op: OpGrantRemove, Grant: &Grant{Department: "TD", Feed: "police.cases"}}, t0, nil, func(t *testing.T, s *State) {
			if len(s.Grants) != 0 {
				t.Errorf("grants %+v", s.Grants)
			}
		}},
		{"remove a grant that is not there", Change{Op: OpGrantRemove, Grant: &Grant{Department: "EPD", Feed: "police.cases"}}, t0, ErrNoGrant, nil},
		{"unknown op", Change{Op: "token.steal"}, t0, ErrInvalid, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := seeded()
			before := s.Clone()
			err := s.Apply(&tt.c, tt.at)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if err != nil && (len(s.Tokens) != len(before.Tokens) || len(s.Grants) != len(before.Grants) || s.Tokens[0].Revoked != nil) {
				t.Errorf("a refused change changed the state: %+v", s)
			}
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	secret, tok, err := NewToken("TD", TokenSpec{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tokens := []Token{{TokenInfo: TokenInfo{ID: "bad"}, Hash: "not hex"}, tok}
	if info, ok := Verify(tokens, secret); !ok || info.ID != tok.ID {
		t.Errorf("Verify(secret) = %v, %v", info, ok)
	}
	for _, s := range []string{"", "hw_x", secret + "x"} {
		if _, ok := Verify(tokens, s); ok {
			t.Errorf("Verify(%q) accepted", s)
		}
	}
}
