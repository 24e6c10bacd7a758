package store

import (
	"crypto/ed25519"
	"fmt"
	"strings"
	"testing"
	"time"
)

// testChain writes n entries (a start entry and n-1 queries) as the audit
// log would, in batches of batch, signing with key when it is not nil.
func testChain(t *testing.T, name string, n, batch int, key ed25519.PrivateKey, prevHash string) []AuditEntry {
	t.Helper()
	c := chainer{chain: name, prev: prevHash}
	if key != nil {
		c.signer, c.keyID = key, KeyID(key.Public().(ed25519.PublicKey))
	}
	at := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	var all []AuditEntry
	for len(all) < n {
		var b []AuditEntry
		for len(b) < batch && len(all)+len(b) < n {
			i := len(all) + len(b)
			e := AuditEntry{At: at.Add(time.Duration(i) * 1500 * time.Microsecond), Department: "TD", TokenID: "tok_1",
				Action: "query", Route: "POST /api/v1/query", Detail: fmt.Sprintf("SELECT %d", i), Status: 200, Rows: uint64(i),
				Duration: time.Duration(i) * time.Millisecond}
			if i == 0 {
				e = AuditEntry{At: at, Action: AuditActionStart, Detail: "first chain of server test"}
			}
			b = append(b, e)
		}
		c.link(b)
		c.commit(b)
		all = append(all, b...)
	}
	return all
}

func TestVerifyAuditEntries(t *testing.T) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := key.Public().(ed25519.PublicKey)
	keys := map[string]ed25519.PublicKey{KeyID(pub): pub}
	type want struct {
		kind AuditProblemKind
		seq  uint64
	}
	tests := []struct {
		name   string
		keys   map[string]ed25519.PublicKey
		tamper func([]AuditEntry) []AuditEntry
		want   []want
	}{
		{"untouched", keys, func(e []AuditEntry) []AuditEntry { return e }, nil},
		{"untouched, read in another order", keys, func(e []AuditEntry) []AuditEntry {
			e[0], e[7], e[3] = e[7], e[3], e[0]
			return e
		}, nil},
		{"untouched, no keys", nil, func(e []AuditEntry) []AuditEntry { return e }, nil},
		{"one entry's SQL edited", keys, func(e []AuditEntry) []AuditEntry {
			e[3].Detail = "SELECT 'nothing to see'"
			return e
		}, []want{{AuditChanged, 3}}},
		{"one entry's row count edited, no keys", nil, func(e []AuditEntry) []AuditEntry {
			e[6].Rows = 0
			return e
		}, []want{{AuditChanged, 6}}},
		{"one entry deleted", keys, func(e []AuditEntry) []AuditEntry {
			return append(e[:4:4], e[5:]...)
		}, []want{{AuditRemoved, 5}}},
		{"an entry inserted with a number in use", keys, func(e []AuditEntry) []AuditEntry {
			f := e[2]
			f.Detail, f.Department = "SELECT forged", "POLICE"
			f.Link.Hash = f.chainHash()
			return append(e, f)
		}, []want{{AuditInserted, 2}}},
		{"an entry inserted at the end", nil, func(e []AuditEntry) []AuditEntry {
			f := e[len(e)-1]
			f.Link.Seq++
			f.Link.PrevHash = "00"
			f.Link.Signature = ""
			f.Link.Hash = f.chainHash()
			return append(e, f)
		}, []want{{AuditInserted, 10}}},
		{"edited and the rest hashed again", keys, func(e []AuditEntry) []AuditEntry {
			e[5].Detail = "SELECT 'rewritten'"
			prev := e[4].Link.Hash
			for i := 5; i < len(e); i++ {
				e[i].Link.PrevHash = prev
				e[i].Link.Hash = e[i].chainHash()
				prev = e[i].Link.Hash
			}
			return e
		}, []want{{AuditBadSignature, 7}, {AuditBadSignature, 9}}},
		{"the last entries removed", keys, func(e []AuditEntry) []AuditEntry {
			return e[:9]
		}, []want{{AuditUnsigned, 8}}},
		{"the first entry removed", keys, func(e []AuditEntry) []AuditEntry {
			return e[1:]
		}, nil}, // a range may begin anywhere: the first entry read is taken as it is
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			entries := testChain(t, "test@1", 10, 4, key, "") // signed: 3, 7, 9
			r := VerifyAuditEntries(tc.tamper(entries), tc.keys)
			var got []want
			for _, p := range r.Problems {
				got = append(got, want{p.Kind, p.Seq})
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("problems %v, want %v; report %+v", got, tc.want, r)
			}
			if tc.keys != nil && tc.want == nil && r.Signed != 3 {
				t.Errorf("%d signatures verified, want 3", r.Signed)
			}
		})
	}
}

func TestVerifyAuditFollowsChains(t *testing.T) {
	first := testChain(t, "srv@1", 6, 3, nil, "")
	second := testChain(t, "srv@2", 4, 4, nil, first[5].Link.Hash)
	// Its start entry names where it follows on, as OpenAuditLog writes it.
	second[0].Detail = fmt.Sprintf(followsFormat, "srv@1", 5)
	prev := first[5].Link.Hash
	for i := range second {
		second[i].Link.PrevHash = prev
		second[i].Link.Hash = second[i].chainHash()
		prev = second[i].Link.Hash
	}
	if r := VerifyAuditEntries(append(append([]AuditEntry{}, first...), second...), nil); !r.OK() {
		t.Fatalf("two linked chains: %v", r.Problems)
	}
	r := VerifyAuditEntries(append(append([]AuditEntry{}, first[:4]...), second...), nil)
	if len(r.Problems) != 1 || r.Problems[0].Kind != AuditRemoved || r.Problems[0].Chain != "srv@1" || !strings.Contains(r.Problems[0].Detail, "2 entries") {
		t.Fatalf("the end of the first chain removed: %v", r.Problems)
	}
}

func TestStoredAuditEntryHashesAsReadBack(t *testing.T) {
	e := storedAuditEntry(AuditEntry{At: time.Date(2026, 12, 2, 1, 2, 3, 456789123, time.FixedZone("HKT", 8*3600)),
		Status: 70000, Duration: -time.Second, Action: "query"})
	back := e
	back.At = time.UnixMilli(e.At.UnixMilli()).UTC()
	back.Duration = time.Duration(uint32(e.Duration.Milliseconds())) * time.Millisecond
	if e.chainHash() != back.chainHash() {
		t.Fatalf("an entry hashes differently once read back: %+v vs %+v", e, back)
	}
	if e.Status != 0 || e.Duration != (1<<32-1)*time.Millisecond {
		t.Fatalf("clamping: status %d duration %v", e.Status, e.Duration)
	}
}

// The verifier VerifyAudit streams the log through checks entries in the
// order ClickHouse returns them and refuses any other order, rather than
// report problems that are not there.
func TestAuditVerifierNeedsChainOrder(t *testing.T) {
	a, b := testChain(t, "srv@1", 3, 3, nil, ""), testChain(t, "srv@2", 3, 3, nil, "")
	cases := []struct {
		name    string
		entries []AuditEntry
		wantErr string
	}{
		{"in order", append(append([]AuditEntry{}, a...), b...), ""},
		{"a chain again after another", []AuditEntry{a[0], a[1], b[0], a[2]}, "chain srv@1 after chain srv@2"},
		{"chains backwards", append(append([]AuditEntry{}, b...), a...), "chain srv@1 after chain srv@2"},
		{"seq backwards", []AuditEntry{a[0], a[2], a[1]}, "seq 1 after seq 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := newAuditVerifier(nil)
			var err error
			for _, e := range tc.entries {
				if err = v.add(e); err != nil {
					break
				}
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("add: %v", err)
			case tc.wantErr == "" && !v.report().OK():
				t.Fatalf("problems in an untouched log: %v", v.report().Problems)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("add: got error %v, want one saying %q", err, tc.wantErr)
			}
		})
	}
}
