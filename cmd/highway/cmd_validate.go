package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cityhighway/highway/highway/catalog"
)

func runValidate(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("validate", "validate [PATH...]", `
Checks feed specs (YAML files, or folders of them) and prints every problem
at once, one per line, as file:line: path: message. Specs are checked
together with the built-in ones, so a name that is already taken is caught.
With no PATH it checks the built-in specs. Exits 1 when anything is wrong,
0 with a one-line summary when all is well.`, stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	base, err := catalog.Builtin()
	if err != nil {
		return fmt.Errorf("built-in specs: %w", err)
	}
	cat := base
	if fs.NArg() > 0 {
		cat, err = catalog.Load(base, fs.Args()...)
	}
	var list catalog.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Fprintln(stdout, e)
		}
		fmt.Fprintf(stderr, "%d problem(s) found\n", len(list))
		return errSilentFailure
	}
	if err != nil {
		return err
	}
	n := len(cat.Feeds()) - len(base.Feeds())
	if fs.NArg() == 0 {
		n = len(cat.Feeds())
	}
	fmt.Fprintf(stdout, "ok: %d feed(s) valid (%d in the catalogue with the built-in ones)\n", n, len(cat.Feeds()))
	return nil
}
