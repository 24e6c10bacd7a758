package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/cityhighway/highway/highway/catalog"
)

func runValidate(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("validate", "validate [PATH...]", `
Checks feed specs (YAML files, or folders of them) and prints every problem
at once, one per line, as file:line: path: message. Specs are checked
together with the built-in ones, so a name that is already taken is caught.
With no PATH it checks the built-in specs. Exits 1 when anything is wrong,
0 with a one-line summary when all is well.`, stderr)
	if err := parseFlags(fs, args); err != nil {
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
	fmt.Fprintf(stdout, "ok: %s\n", summarize(cat.Counts(), base.Counts(), fs.NArg() > 0))
	return nil
}

// summarize says how many specs of each kind were checked: those the files
// added to the built-in ones, or all of them when no file was given.
func summarize(all, builtin map[string]int, onlyAdded bool) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(all)) {
		n := all[k]
		if onlyAdded {
			n -= builtin[k]
		}
		if n > 0 || k == "feed" {
			parts = append(parts, fmt.Sprintf("%d %s(s)", n, k))
		}
	}
	out := strings.Join(parts, ", ") + " valid"
	if onlyAdded {
		out += " (checked together with the built-in specs)"
	}
	return out
}
