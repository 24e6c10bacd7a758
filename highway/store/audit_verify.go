package store

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
)

// AuditProblemKind says what VerifyAudit found wrong with an entry.
type AuditProblemKind string

// What VerifyAudit can find.
const (
	// AuditChanged: the entry's content does not match its hash.
	AuditChanged AuditProblemKind = "changed"
	// AuditRemoved: entries are missing from the chain (a gap in Seq, or
	// the end of a chain that a later chain of the server follows).
	AuditRemoved AuditProblemKind = "removed"
	// AuditInserted: the entry does not belong to the chain (it repeats a
	// number, or does not link to the entry before it).
	AuditInserted AuditProblemKind = "inserted"
	// AuditBadSignature: a signature does not verify: an entry signed, or
	// one before it since the previous signature, was changed and the
	// chain hashed again.
	AuditBadSignature AuditProblemKind = "bad-signature"
	// AuditUnsigned: entries no signature covers, though keys were given:
	// the signed entry after them was removed, or they were written by a
	// server without a signing key or with a key not given.
	AuditUnsigned AuditProblemKind = "unsigned"
)

// AuditProblem is one thing wrong in the audit log.
type AuditProblem struct {
	Kind  AuditProblemKind
	Chain string
	Seq   uint64
	// At is when the entry concerned was written (for a removal, the
	// entry after the gap).
	At     time.Time
	Detail string
}

func (p AuditProblem) String() string {
	return fmt.Sprintf("%s: chain %s seq %d (%s): %s", p.Kind, p.Chain, p.Seq, p.At.UTC().Format(time.RFC3339), p.Detail)
}

// AuditReport is what VerifyAudit found.
type AuditReport struct {
	// Entries is how many entries were read, Chains how many chains they
	// belong to, Signed how many signatures verified.
	Entries, Chains, Signed int
	// Unchained counts entries written before the log was a chain (by an
	// older version of highway): they cannot be checked.
	Unchained int
	// SignaturesChecked is false when no public key was given.
	SignaturesChecked bool
	// Problems are in the order of the chains and their entries: the first
	// one is the first entry changed, removed or inserted.
	Problems []AuditProblem
	// Notes say what is not a problem but worth knowing (a chain that
	// ended without audit.stop: its server crashed, or is still running).
	Notes []string
}

// OK is true when nothing is wrong.
func (r AuditReport) OK() bool { return len(r.Problems) == 0 }

// followsFormat is how a start entry's Detail names the chain it follows.
const followsFormat = "follows chain %s at seq %d"

// VerifyAudit reads the audit entries written in [from, to] (zero times:
// no bound) from table (AuditTable if empty) and checks their chains: each
// entry's hash, its link to the entry before, the numbering, and, with
// keys (by KeyID), the signatures. Verify a range that begins where a
// chain begins: the first entry in the range is taken as it is.
func (s *Store) VerifyAudit(ctx context.Context, table string, from, to time.Time, keys map[string]ed25519.PublicKey) (AuditReport, error) {
	if table == "" {
		table = AuditTable
	}
	db := s.ddl.Layout().AuditDatabase()
	var found uint64
	if err := s.QueryRow(ctx, []any{&found}, "SELECT count() FROM system.tables WHERE database = ? AND name = ?", db, table); err != nil {
		return AuditReport{}, fmt.Errorf("looking for the audit log %s.%s: %w", db, table, err)
	}
	if found == 0 {
		return AuditReport{}, fmt.Errorf("there is no audit log %s.%s: check --clickhouse names the database highway serve writes to, and --table", db, table)
	}
	var where []string
	var args []any
	if !from.IsZero() {
		where, args = append(where, "at_ms >= ?"), append(args, uint64(from.UnixMilli()))
	}
	if !to.IsZero() {
		where, args = append(where, "at_ms <= ?"), append(args, uint64(to.UnixMilli()))
	}
	q := "SELECT at_ms, toUInt64(toUnixTimestamp(at)), department, token_id, client, action, route, feed, detail, status, rows, bytes, duration_ms, error, " +
		"chain, seq, prev_hash, hash, signer, signature FROM " + s.ddl.AuditTable(table)
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY chain, seq"
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return AuditReport{}, fmt.Errorf("reading audit log %s: %w", table, err)
	}
	defer rows.Close()
	var entries []AuditEntry
	var stamps []uint64
	for rows.Next() {
		var (
			e          AuditEntry
			atMS, atS  uint64
			status     uint16
			durationMS uint32
		)
		if err := rows.Scan(&atMS, &atS, &e.Department, &e.TokenID, &e.Client, &e.Action, &e.Route, &e.Feed, &e.Detail,
			&status, &e.Rows, &e.Bytes, &durationMS, &e.Error,
			&e.Link.Chain, &e.Link.Seq, &e.Link.PrevHash, &e.Link.Hash, &e.Link.Signer, &e.Link.Signature); err != nil {
			return AuditReport{}, fmt.Errorf("reading audit log %s: %w", table, err)
		}
		e.At = time.UnixMilli(int64(atMS)).UTC()
		e.Status = int(status)
		e.Duration = time.Duration(durationMS) * time.Millisecond
		entries, stamps = append(entries, e), append(stamps, atS)
	}
	if err := rows.Err(); err != nil {
		return AuditReport{}, fmt.Errorf("reading audit log %s: %w", table, err)
	}
	r := VerifyAuditEntries(entries, keys)
	// The at column (seconds) is not in the hash; it must agree with at_ms.
	for i, e := range entries {
		if e.Link.Chain != "" && stamps[i] != uint64(e.At.Unix()) {
			r.Problems = append(r.Problems, AuditProblem{Kind: AuditChanged, Chain: e.Link.Chain, Seq: e.Link.Seq, At: e.At,
				Detail: fmt.Sprintf("its at column says %s, its at_ms %s", time.Unix(int64(stamps[i]), 0).UTC().Format(time.RFC3339), e.At.Format(time.RFC3339))})
		}
	}
	sortProblems(r.Problems)
	return r, nil
}

// VerifyAuditEntries checks the chains of entries, in any order, as
// VerifyAudit does.
func VerifyAuditEntries(entries []AuditEntry, keys map[string]ed25519.PublicKey) AuditReport {
	r := AuditReport{Entries: len(entries), SignaturesChecked: len(keys) > 0}
	chains := map[string][]AuditEntry{}
	var names []string
	for _, e := range entries {
		if e.Link.Chain == "" {
			r.Unchained++
			continue
		}
		if _, ok := chains[e.Link.Chain]; !ok {
			names = append(names, e.Link.Chain)
		}
		chains[e.Link.Chain] = append(chains[e.Link.Chain], e)
	}
	sort.Strings(names)
	r.Chains = len(names)
	for _, name := range names {
		c := chains[name]
		sort.SliceStable(c, func(i, j int) bool { return c[i].Link.Seq < c[j].Link.Seq })
		chains[name] = verifyChain(&r, c, keys)
	}
	// A start entry names the end of the chain it follows: check it is
	// there when that chain was read.
	for _, name := range names {
		c := chains[name]
		if len(c) == 0 || c[0].Link.Seq != 0 || c[0].Action != AuditActionStart {
			continue
		}
		var prevChain string
		var prevSeq uint64
		if n, _ := fmt.Sscanf(c[0].Detail, followsFormat, &prevChain, &prevSeq); n != 2 {
			continue
		}
		pc, ok := chains[prevChain]
		if !ok || len(pc) == 0 {
			continue
		}
		last := pc[len(pc)-1]
		switch {
		case last.Link.Seq < prevSeq:
			r.Problems = append(r.Problems, AuditProblem{Kind: AuditRemoved, Chain: prevChain, Seq: last.Link.Seq + 1, At: last.At,
				Detail: fmt.Sprintf("the chain ends at seq %d, but chain %s follows it at seq %d: %d entries at its end are missing", last.Link.Seq, name, prevSeq, prevSeq-last.Link.Seq)})
		case last.Link.Seq > prevSeq:
			r.Problems = append(r.Problems, AuditProblem{Kind: AuditInserted, Chain: prevChain, Seq: prevSeq + 1, At: last.At,
				Detail: fmt.Sprintf("chain %s follows this chain at seq %d, but it goes on to seq %d", name, prevSeq, last.Link.Seq)})
		case last.Link.Hash != c[0].Link.PrevHash:
			r.Problems = append(r.Problems, AuditProblem{Kind: AuditChanged, Chain: prevChain, Seq: last.Link.Seq, At: last.At,
				Detail: fmt.Sprintf("its hash is not the one chain %s follows", name)})
		}
	}
	for _, name := range names {
		c := chains[name]
		if len(c) > 0 && c[len(c)-1].Action != AuditActionStop {
			r.Notes = append(r.Notes, fmt.Sprintf("chain %s ends at seq %d without %s: its server is running, crashed, or its last entries were removed", name, c[len(c)-1].Link.Seq, AuditActionStop))
		}
	}
	sortProblems(r.Problems)
	return r
}

// verifyChain checks one chain, sorted by Seq, and returns the entries
// that belong to it.
func verifyChain(r *AuditReport, c []AuditEntry, keys map[string]ed25519.PublicKey) []AuditEntry {
	var kept []AuditEntry
	var prev *AuditEntry
	lastSigned, signed := uint64(0), false
	problem := func(k AuditProblemKind, e AuditEntry, format string, args ...any) {
		r.Problems = append(r.Problems, AuditProblem{Kind: k, Chain: e.Link.Chain, Seq: e.Link.Seq, At: e.At, Detail: fmt.Sprintf(format, args...)})
	}
	for i := 0; i < len(c); {
		j := i
		for j < len(c) && c[j].Link.Seq == c[i].Link.Seq {
			j++
		}
		same := c[i:j]
		i = j
		seq := same[0].Link.Seq
		if prev != nil && seq > prev.Link.Seq+1 {
			problem(AuditRemoved, same[0], "entries %d to %d are missing (%d removed)", prev.Link.Seq+1, seq-1, seq-prev.Link.Seq-1)
		}
		// Of entries with one number, the one that links to the entry
		// before (else the one whose hash is right) is the chain's.
		pick := 0
		for k, e := range same {
			if prev != nil && e.Link.PrevHash == prev.Link.Hash && e.chainHash() == e.Link.Hash {
				pick = k
				break
			}
			if prev == nil && e.chainHash() == e.Link.Hash {
				pick = k
				break
			}
		}
		for k, e := range same {
			if k != pick {
				problem(AuditInserted, e, "a second entry numbered %d (action %q): it is not part of the chain", seq, e.Action)
			}
		}
		e := same[pick]
		switch {
		case e.chainHash() != e.Link.Hash:
			problem(AuditChanged, e, "its content does not match its hash (action %q, department %q)", e.Action, e.Department)
		case prev != nil && seq == prev.Link.Seq+1 && e.Link.PrevHash != prev.Link.Hash:
			problem(AuditInserted, e, "it does not link to entry %d before it (action %q)", prev.Link.Seq, e.Action)
		case prev == nil && seq == 0 && e.Action != AuditActionStart:
			problem(AuditInserted, e, "the chain's first entry is not %s (action %q)", AuditActionStart, e.Action)
		}
		if e.Link.Signature != "" && len(keys) > 0 {
			key, ok := keys[e.Link.Signer]
			sig, err := hex.DecodeString(e.Link.Signature)
			switch {
			case !ok:
				problem(AuditUnsigned, e, "signed by key %s, which was not given", e.Link.Signer)
			case err != nil || !ed25519.Verify(key, signedMessage(e.Link.Hash), sig):
				from := uint64(0)
				if signed {
					from = lastSigned + 1
				}
				problem(AuditBadSignature, e, "the signature does not verify: an entry from %d to %d was changed and the chain hashed again", from, seq)
			default:
				r.Signed++
				lastSigned, signed = seq, true
			}
		}
		kept = append(kept, e)
		prev = &kept[len(kept)-1]
	}
	if len(keys) > 0 && prev != nil && prev.Link.Signature == "" {
		first := c[0].Link.Seq
		if signed {
			first = lastSigned + 1
		}
		problem(AuditUnsigned, *prev, "entries %d to %d are covered by no signature: the signed entry after them was removed, or they were written without the key", first, prev.Link.Seq)
	}
	return kept
}

func sortProblems(p []AuditProblem) {
	sort.SliceStable(p, func(i, j int) bool {
		if p[i].Chain != p[j].Chain {
			return p[i].Chain < p[j].Chain
		}
		return p[i].Seq < p[j].Seq
	})
}
