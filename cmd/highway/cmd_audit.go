package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"time"

	"github.com/cityhighway/highway/highway/store"
)

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("audit", "audit verify [--from TIME] [--to TIME] [--public-key FILE]... | keygen --key FILE --public-key FILE  [flags]", `
The audit log (<database>_restricted.`+store.AuditTable+`) is a hash chain per API
server: every entry carries the hash of the one before, and with a signing
key ('highway serve --audit-key') the last entry of every batch written (at
least once a second) is signed with Ed25519.

verify reads the entries written between --from and --to (RFC 3339; default
all) and checks each chain: the hashes, the links, the numbering and, with
the servers' public keys, the signatures. It prints what it checked and every
entry that was changed, removed or inserted, first one first, and exits 1
if it found any. Begin --from where a chain begins (a server's start) to
check the whole of it; without --public-key only the hashes are checked,
and anyone who can write to the table can recompute those.

keygen writes a new key pair: the private key for 'highway serve
--audit-key' and the public key for 'highway audit verify --public-key'.`, stderr)
	dsn := fs.String("clickhouse", envOr("HIGHWAY_CLICKHOUSE", ""), "verify: ClickHouse DSN (default $HIGHWAY_CLICKHOUSE)")
	table := fs.String("table", store.AuditTable, "verify: the audit table in <database>_restricted")
	from := fs.String("from", "", "verify: the first time to check, RFC 3339 (default: the beginning)")
	to := fs.String("to", "", "verify: the last time to check, RFC 3339 (default: now)")
	var pubs listFlag
	fs.Var(&pubs, "public-key", "verify: a PEM public key of a server's --audit-key (repeatable); keygen: where to write the public key")
	keyFile := fs.String("key", "", "keygen: where to write the private key (PEM, mode 0600)")
	logLevel := fs.String("log-level", "warn", "log level: debug, info, warn or error")
	if len(args) == 0 || (args[0] != "verify" && args[0] != "keygen") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fs.Usage()
			return nil
		}
		return fmt.Errorf("%w: say verify or keygen", errUsage)
	}
	sub := args[0]
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if sub == "keygen" {
		if *keyFile == "" || len(pubs) != 1 {
			return fmt.Errorf("%w: keygen needs --key FILE and one --public-key FILE", errUsage)
		}
		pub, err := store.WriteKeyPair(*keyFile, pubs[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "key %s: private key in %s (give it to highway serve --audit-key), public key in %s (for highway audit verify --public-key)\n",
			store.KeyID(pub), *keyFile, pubs[0])
		return nil
	}
	var fromT, toT time.Time
	for _, t := range []struct {
		name, v string
		out     *time.Time
	}{{"--from", *from, &fromT}, {"--to", *to, &toT}} {
		if t.v == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339, t.v)
		if err != nil {
			return fmt.Errorf("%w: %s %q: want an RFC 3339 time such as 2026-12-01T00:00:00+08:00", errUsage, t.name, t.v)
		}
		*t.out = v
	}
	if *dsn == "" {
		return errNoClickHouse
	}
	keys := map[string]ed25519.PublicKey{}
	for _, p := range pubs {
		pub, err := store.ReadVerifyKey(p)
		if err != nil {
			return err
		}
		keys[store.KeyID(pub)] = pub
	}
	c := common{logLevel: *logLevel}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, *dsn, log)
	if err != nil {
		return err
	}
	defer st.Close()
	r, err := st.VerifyAudit(ctx, *table, fromT, toT, keys)
	if err != nil {
		return err
	}
	sigs := fmt.Sprintf("%d signatures verified", r.Signed)
	if !r.SignaturesChecked {
		sigs = "signatures not checked (no --public-key)"
	}
	fmt.Fprintf(stdout, "audit log %s.%s: %d entries in %d chains, %s, %d entries from before the chain\n",
		st.Layout().AuditDatabase(), *table, r.Entries, r.Chains, sigs, r.Unchained)
	for _, n := range r.Notes {
		fmt.Fprintln(stdout, "note:", n)
	}
	for _, p := range r.Problems {
		fmt.Fprintln(stdout, p)
	}
	if !r.OK() {
		fmt.Fprintf(stderr, "highway audit verify: %d problems; the first: %s\n", len(r.Problems), r.Problems[0])
		return errSilentFailure
	}
	fmt.Fprintln(stdout, "ok: nothing changed, removed or inserted")
	return nil
}
