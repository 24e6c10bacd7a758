package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/cityhighway/highway/highway/api"
)

// defaultTokensFile is where tokens are kept unless --tokens-file or
// $HIGHWAY_TOKENS says otherwise.
const defaultTokensFile = ".highway/tokens.json"

func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("token", "token create --department NAME [--note TEXT] | list | revoke ID  [flags]", `
Manages the API's bearer tokens. A token belongs to a department; the file
keeps only each token's SHA-256, so 'create' prints the token once and it
cannot be shown again. 'list' shows IDs, departments and whether revoked;
'revoke' takes effect on running servers within a second.`, stderr)
	var c common
	fs.Var(&c.specs, "specs", "a folder or file of extra specs (departments), added to the built-in ones (repeatable; also $HIGHWAY_SPECS)")
	file := fs.String("tokens-file", envOr("HIGHWAY_TOKENS", defaultTokensFile), "the token file (default $HIGHWAY_TOKENS)")
	dept := fs.String("department", "", "create: the department the token belongs to")
	note := fs.String("note", "", "create: what the token is for, shown by list")
	if len(args) == 0 || (args[0] != "create" && args[0] != "list" && args[0] != "revoke") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fs.Usage()
			return nil
		}
		return fmt.Errorf("%w: say create, list or revoke", errUsage)
	}
	sub := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	tf, err := api.OpenTokenFile(*file)
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		if *dept == "" {
			return fmt.Errorf("%w: --department is required", errUsage)
		}
		if err := checkDepartment(&c, *dept); err != nil {
			return err
		}
		tok, info, err := tf.Create(*dept, *note)
		if err != nil {
			return err
		}
		abs, _ := filepath.Abs(tf.Path())
		fmt.Fprintf(stderr, "token %s for department %s stored (as its SHA-256) in %s; it is shown only this once:\n", info.ID, info.Department, abs)
		fmt.Fprintln(stdout, tok)
	case "list":
		list, err := tf.List()
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tDEPARTMENT\tCREATED\tREVOKED\tNOTE")
		for _, t := range list {
			revoked := "-"
			if t.Revoked != nil {
				revoked = t.Revoked.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Department, t.Created.Format(time.RFC3339), revoked, t.Note)
		}
		return tw.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: give the ID of one token (highway token list shows them)", errUsage)
		}
		if err := tf.Revoke(fs.Arg(0)); err != nil {
			if errors.Is(err, api.ErrNoToken) {
				return fmt.Errorf("%w: %v", errUsage, err)
			}
			return err
		}
		fmt.Fprintf(stderr, "token %s revoked\n", fs.Arg(0))
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
