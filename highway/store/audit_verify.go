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
	// Entries come in chain and seq order and are checked as they come:
	// the verifier keeps the ends of each chain, not the log.
	v := newAuditVerifier(keys)
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
		// The at column (seconds) is not in the hash; it must agree with at_ms.
		if e.Link.Chain != "" && atS != uint64(e.At.Unix()) {
			v.problem(AuditChanged, e, "its at column says %s, its at_ms %s", time.Unix(int64(atS), 0).UTC().Format(time.RFC3339), e.At.Format(time.RFC3339))
		}
		if err := v.add(e); err != nil {
			return AuditReport{}, fmt.Errorf("reading audit log %s: %w", table, err)
		}
	}
	if err := rows.Err(); err != nil {
		return AuditReport{}, fmt.Errorf("reading audit log %s: %w", table, err)
	}
	return v.report(), nil
}

// VerifyAuditEntries checks the chains of entries, in any order, as
// VerifyAudit does.
func VerifyAuditEntries(entries []AuditEntry, keys map[string]ed25519.PublicKey) AuditReport {
	sorted := append([]AuditEntry(nil), entries...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].Link.Chain != sorted[j].Link.Chain {
			return sorted[i].Link.Chain < sorted[j].Link.Chain
		}
		return sorted[i].Link.Seq < sorted[j].Link.Seq
	})
	v := newAuditVerifier(keys)
	for _, e := range sorted {
		// Sorted: add cannot see a chain out of order.
		_ = v.add(e)
	}
	return v.report()
}

// chainEnds is what the verifier keeps of a chain it has checked: its
// first and last entries, for the links between chains.
type chainEnds struct {
	first, last AuditEntry
}

// auditVerifier checks audit entries given in chain and seq order, one
// at a time: it holds the entries of one number of one chain, and the ends
// of each chain, so a long log is checked in little memory.
type auditVerifier struct {
	r    AuditReport
	keys map[string]ed25519.PublicKey
	// ends of every chain checked, by name, and the names in order.
	ends  map[string]chainEnds
	names []string

	// The chain being checked: its name, the entries read with the number
	// being read, the last entry that belongs to it, and its signatures.
	chain      string
	same       []AuditEntry
	firstSeq   uint64
	first      AuditEntry
	prev       AuditEntry
	hasPrev    bool
	lastSigned uint64
	signed     bool
}

func newAuditVerifier(keys map[string]ed25519.PublicKey) *auditVerifier {
	return &auditVerifier{r: AuditReport{SignaturesChecked: len(keys) > 0}, keys: keys, ends: map[string]chainEnds{}}
}

func (v *auditVerifier) problem(k AuditProblemKind, e AuditEntry, format string, args ...any) {
	v.r.Problems = append(v.r.Problems, AuditProblem{Kind: k, Chain: e.Link.Chain, Seq: e.Link.Seq, At: e.At, Detail: fmt.Sprintf(format, args...)})
}

// add checks the next entry; entries must come ordered by chain, then seq.
func (v *auditVerifier) add(e AuditEntry) error {
	v.r.Entries++
	if e.Link.Chain == "" {
		v.r.Unchained++
		return nil
	}
	if e.Link.Chain != v.chain || v.chain == "" {
		if _, seen := v.ends[e.Link.Chain]; seen || (v.chain != "" && e.Link.Chain < v.chain) {
			return fmt.Errorf("audit entries out of order: chain %s after chain %s", e.Link.Chain, v.chain)
		}
		v.endChain()
		v.chain, v.firstSeq = e.Link.Chain, e.Link.Seq
		v.hasPrev, v.signed, v.lastSigned = false, false, 0
	}
	if len(v.same) > 0 && v.same[0].Link.Seq != e.Link.Seq {
		if e.Link.Seq < v.same[0].Link.Seq {
			return fmt.Errorf("audit entries out of order: chain %s seq %d after seq %d", e.Link.Chain, e.Link.Seq, v.same[0].Link.Seq)
		}
		v.checkSame()
	}
	v.same = append(v.same, e)
	return nil
}

// checkSame checks the entries read with one number of the chain.
func (v *auditVerifier) checkSame() {
	same := v.same
	if len(same) == 0 {
		return
	}
	v.same = v.same[:0]
	seq := same[0].Link.Seq
	if v.hasPrev && seq > v.prev.Link.Seq+1 {
		v.problem(AuditRemoved, same[0], "entries %d to %d are missing (%d removed)", v.prev.Link.Seq+1, seq-1, seq-v.prev.Link.Seq-1)
	}
	// Of entries with one number, the one that links to the entry before
	// (else the one whose hash is right) is the chain's.
	pick := 0
	for k, e := range same {
		if e.chainHash() == e.Link.Hash && (!v.hasPrev || e.Link.PrevHash == v.prev.Link.Hash) {
			pick = k
			break
		}
	}
	for k, e := range same {
		if k != pick {
			v.problem(AuditInserted, e, "a second entry numbered %d (action %q): it is not part of the chain", seq, e.Action)
		}
	}
	e := same[pick]
	switch {
	case e.chainHash() != e.Link.Hash:
		v.problem(AuditChanged, e, "its content does not match its hash (action %q, department %q)", e.Action, e.Department)
	case v.hasPrev && seq == v.prev.Link.Seq+1 && e.Link.PrevHash != v.prev.Link.Hash:
		v.problem(AuditInserted, e, "it does not link to entry %d before it (action %q)", v.prev.Link.Seq, e.Action)
	case !v.hasPrev && seq == 0 && e.Action != AuditActionStart:
		v.problem(AuditInserted, e, "the chain's first entry is not %s (action %q)", AuditActionStart, e.Action)
	}
	if e.Link.Signature != "" && len(v.keys) > 0 {
		key, ok := v.keys[e.Link.Signer]
		sig, err := hex.DecodeString(e.Link.Signature)
		switch {
		case !ok:
			v.problem(AuditUnsigned, e, "signed by key %s, which was not given", e.Link.Signer)
		case err != nil || !ed25519.Verify(key, signedMessage(e.Link.Hash), sig):
			from := uint64(0)
			if v.signed {
				from = v.lastSigned + 1
			}
			v.problem(AuditBadSignature, e, "the signature does not verify: an entry from %d to %d was changed and the chain hashed again", from, seq)
		default:
			v.r.Signed++
			v.lastSigned, v.signed = seq, true
		}
	}
	if !v.hasPrev {
		v.first = e
	}
	v.prev, v.hasPrev = e, true
}

// endChain finishes the chain being checked and keeps its ends.
func (v *auditVerifier) endChain() {
	if v.chain == "" {
		return
	}
	v.checkSame()
	if !v.hasPrev {
		return
	}
	if len(v.keys) > 0 && v.prev.Link.Signature == "" {
		first := v.firstSeq
		if v.signed {
			first = v.lastSigned + 1
		}
		v.problem(AuditUnsigned, v.prev, "entries %d to %d are covered by no signature: the signed entry after them was removed, or they were written without the key", first, v.prev.Link.Seq)
	}
	v.ends[v.chain] = chainEnds{first: v.first, last: v.prev}
	v.names = append(v.names, v.chain)
	v.r.Chains++
}

// report finishes the last chain, checks the links between chains and
// returns what was found.
func (v *auditVerifier) report() AuditReport {
	v.endChain()
	v.chain = ""
	// A start entry names the end of the chain it follows: check it is
	// there when that chain was read.
	for _, name := range v.names {
		start := v.ends[name].first
		if start.Link.Seq != 0 || start.Action != AuditActionStart {
			continue
		}
		var prevChain string
		var prevSeq uint64
		if n, _ := fmt.Sscanf(start.Detail, followsFormat, &prevChain, &prevSeq); n != 2 {
			continue
		}
		pc, ok := v.ends[prevChain]
		if !ok {
			continue
		}
		last := pc.last
		switch {
		case last.Link.Seq < prevSeq:
			v.r.Problems = append(v.r.Problems, AuditProblem{Kind: AuditRemoved, Chain: prevChain, Seq: last.Link.Seq + 1, At: last.At,
				Detail: fmt.Sprintf("the chain ends at seq %d, but chain %s follows it at seq %d: %d entries at its end are missing", last.Link.Seq, name, prevSeq, prevSeq-last.Link.Seq)})
		case last.Link.Seq > prevSeq:
			v.r.Problems = append(v.r.Problems, AuditProblem{Kind: AuditInserted, Chain: prevChain, Seq: prevSeq + 1, At: last.At,
				Detail: fmt.Sprintf("chain %s follows this chain at seq %d, but it goes on to seq %d", name, prevSeq, last.Link.Seq)})
		case last.Link.Hash != start.Link.PrevHash:
			v.r.Problems = append(v.r.Problems, AuditProblem{Kind: AuditChanged, Chain: prevChain, Seq: last.Link.Seq, At: last.At,
				Detail: fmt.Sprintf("its hash is not the one chain %s follows", name)})
		}
	}
	for _, name := range v.names {
		if last := v.ends[name].last; last.Action != AuditActionStop {
			v.r.Notes = append(v.r.Notes, fmt.Sprintf("chain %s ends at seq %d without %s: its server is running, crashed, or its last entries were removed", name, last.Link.Seq, AuditActionStop))
		}
	}
	sortProblems(v.r.Problems)
	return v.r
}

func sortProblems(p []AuditProblem) {
	sort.SliceStable(p, func(i, j int) bool {
		if p[i].Chain != p[j].Chain {
			return p[i].Chain < p[j].Chain
		}
		return p[i].Seq < p[j].Seq
	})
}
