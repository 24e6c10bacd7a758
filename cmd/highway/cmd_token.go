package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/cityhighway/highway/highway/api"
	"github.com/cityhighway/highway/highway/catalog"
)

// defaultTokensFile is where tokens are kept unless --tokens-file or
// $HIGHWAY_TOKENS says otherwise.
const defaultTokensFile = ".highway/tokens.json"

func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("token", "token create --department NAME [--note TEXT] [--scopes S,...] [--expires-in 90d] | list | revoke ID | rotate ID [--overlap 7d]  [flags]", `
Manages the API's bearer tokens. A token belongs to a department; the store
keeps only each token's SHA-256, so 'create' prints the token once and it
cannot be shown again. 'list' shows IDs, departments, scopes, expiry and
whether revoked; 'revoke' takes effect on running servers within a second.

With --control-plane (or $HIGHWAY_CONTROL_PLANE) the tokens are kept on the
control plane, the scheduler's raft cluster, which every API server started
with the same --control-plane reads: a change goes through the leader and
reaches every API server within a second. A change whose node died with it
in flight is retried on the next node, and the command says whether it
applied. Without it, the token file (--tokens-file) on this machine.

A token has scopes: read (catalogue, queries, downloads, live tails),
push:<feed> or push:* (push to feeds its department owns) and admin (the
department's admin rights, if it has them); by default all of them. It
expires (--expires-in, default 90d); from 14 days before, every response
to it carries a Highway-Token-Warning header. 'rotate' makes a new token
with the same department, scopes and note and lets the old one live on
for --overlap, so clients can move without an outage.`, stderr)
	var c common
	fs.Var(&c.specs, "specs", "a folder or file of extra specs (departments), added to the built-in ones (repeatable; also $HIGHWAY_SPECS)")
	file := fs.String("tokens-file", envOr("HIGHWAY_TOKENS", defaultTokensFile), "the token file (default $HIGHWAY_TOKENS)")
	dept := fs.String("department", "", "create: the department the token belongs to")
	note := fs.String("note", "", "create: what the token is for, shown by list")
	var scopes listFlag
	fs.Var(&scopes, "scopes", "create: what the token may do, comma-separated: read, admin, push:* or push:<feed> (default read,push:*,admin)")
	expiresIn := fs.String("expires-in", "90d", "create, rotate: how long the new token lasts (days like 90d, or a Go duration)")
	overlap := fs.String("overlap", "7d", "rotate: how long the old token keeps working")
	var cp controlFlags
	cp.register(fs)
	if len(args) == 0 || (args[0] != "create" && args[0] != "list" && args[0] != "revoke" && args[0] != "rotate") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fs.Usage()
			return nil
		}
		return fmt.Errorf("%w: say create, list, revoke or rotate", errUsage)
	}
	sub, rest := args[0], args[1:]
	// The token ID may come before the flags: revoke ID --tokens-file F.
	var ids []string
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		ids, rest = rest[:1], rest[1:]
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	ids = append(ids, fs.Args()...)
	ttl, err := catalog.ParseDuration(*expiresIn)
	if err != nil || ttl <= 0 {
		return fmt.Errorf("%w: --expires-in %q: want a positive duration such as 90d", errUsage, *expiresIn)
	}
	keep, err := catalog.ParseDuration(*overlap)
	if err != nil || keep < 0 {
		return fmt.Errorf("%w: --overlap %q: want a duration such as 7d", errUsage, *overlap)
	}
	var tf tokenStore
	if cp.given() {
		if cp.secret == "" {
			return needSecret("token")
		}
		cl, err := cp.client()
		if err != nil {
			return err
		}
		tf = controlTokens{cl}
	} else {
		f, err := api.OpenTokenFile(*file)
		if err != nil {
			return err
		}
		tf = fileTokens{f}
	}
	switch sub {
	case "create":
		if *dept == "" {
			return fmt.Errorf("%w: --department is required", errUsage)
		}
		if err := checkDepartment(&c, *dept); err != nil {
			return err
		}
		spec := api.TokenSpec{Note: *note, TTL: ttl}
		if len(scopes) > 0 {
			if err := checkScopes(&c, *dept, scopes); err != nil {
				return err
			}
			spec.Scopes = scopes
		}
		tok, info, err := tf.CreateWith(ctx, *dept, spec)
		if err != nil {
			return err
		}
		where := tf.where()
		if abs, err := filepath.Abs(where); err == nil && !cp.given() {
			where = abs
		}
		fmt.Fprintf(stderr, "token %s for department %s stored (as its SHA-256) in %s; it is shown only this once:\n", info.ID, info.Department, where)
		fmt.Fprintln(stdout, tok)
	case "list":
		list, err := tf.List(ctx)
		if err != nil {
			return err
		}
		tb := newTable(stdout, "ID", "DEPARTMENT", "SCOPES", "CREATED", "EXPIRES", "REVOKED", "NOTE")
		for _, t := range list {
			expires, sc := "never", "(all)"
			if t.Expires != nil {
				expires = cell(t.Expires)
			}
			if t.Scopes != nil {
				sc = strings.Join(t.Scopes, ",")
			}
			tb.row(t.ID, t.Department, sc, t.Created, expires, t.Revoked, t.Note)
		}
		return tb.flush()
	case "revoke":
		if len(ids) != 1 {
			return fmt.Errorf("%w: give the ID of one token (highway token list shows them)", errUsage)
		}
		if err := tf.Revoke(ctx, ids[0]); err != nil {
			if errors.Is(err, api.ErrNoToken) {
				return fmt.Errorf("%w: %v", errUsage, err)
			}
			return err
		}
		fmt.Fprintf(stderr, "token %s revoked in %s\n", ids[0], tf.where())
	case "rotate":
		if len(ids) != 1 {
			return fmt.Errorf("%w: give the ID of one token (highway token list shows them)", errUsage)
		}
		tok, info, err := tf.Rotate(ctx, ids[0], keep, ttl)
		if err != nil {
			if errors.Is(err, api.ErrNoToken) {
				return fmt.Errorf("%w: %v", errUsage, err)
			}
			return err
		}
		fmt.Fprintf(stderr, "token %s replaces %s (which keeps working for %s) for department %s, expires %s; it is shown only this once:\n",
			info.ID, ids[0], *overlap, info.Department, info.Expires.Format(time.RFC3339))
		fmt.Fprintln(stdout, tok)
	}
	return nil
}

// checkScopes refuses scopes the API does not know and push scopes for
// feeds the department does not own.
func checkScopes(c *common, dept string, scopes []string) error {
	if err := api.CheckScopes(scopes); err != nil {
		return fmt.Errorf("%w: --scopes: %v", errUsage, err)
	}
	cat, _, err := c.catalog()
	if err != nil {
		return err
	}
	for _, s := range scopes {
		name, ok := strings.CutPrefix(s, api.ScopePushPrefix)
		if !ok || s == api.ScopePushAll {
			continue
		}
		f := cat.Feed(name)
		if f == nil || f.Department != dept {
			return fmt.Errorf("%w: --scopes %s: %s owns no feed called %q", errUsage, s, dept, name)
		}
	}
	return nil
}

// checkDepartment refuses a department that no spec declares and no feed
// names as its owner: its tokens would be refused by the API.
func checkDepartment(c *common, name string) error {
	cat, _, err := c.catalog()
	if err != nil {
		return err
	}
	if cat.Department(name) != nil {
		return nil
	}
	var known []string
	for _, d := range cat.Departments() {
		known = append(known, d.Name)
	}
	for _, f := range cat.Feeds() {
		if f.Department == name {
			return nil
		}
		known = append(known, f.Department)
	}
	return fmt.Errorf("%w: no department %q: declare it in a 'kind: department' spec (--specs) or use one of %v", errUsage, name, unique(known))
}

func unique(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
