package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/control"
)

func runGrant(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("grant", "grant add --department NAME --feed FEED [--until 2027-01-31 | --for 30d] [--note TEXT] | remove --department NAME --feed FEED | list [--department NAME]  [flags]", `
Grants a department the reading of a restricted feed it does not own, on
the control plane (--control-plane, the scheduler's raft cluster), on top
of the grants its spec declares. Every API server started with the same
--control-plane applies a change within a second; a grant with an end
(--until, --for) stops by itself then. A change whose node died with it in
flight is retried on the next node, and the command says whether it
applied. Each change is in the audit log of the node that took it.`, stderr)
	var c common
	fs.Var(&c.specs, "specs", "a folder or file of extra specs (feeds, departments), added to the built-in ones (repeatable; also $HIGHWAY_SPECS)")
	var cp controlFlags
	cp.register(fs)
	dept := fs.String("department", "", "the department granted")
	feed := fs.String("feed", "", "add, remove: the restricted feed")
	until := fs.String("until", "", "add: the last moment of the grant, RFC 3339 or a date (the grant ends at its start, UTC); default: until removed")
	forDur := fs.String("for", "", "add: how long the grant lasts from now (30d, 12h); default: until removed")
	note := fs.String("note", "", "add: why (a ticket, an access request)")
	if len(args) == 0 || !slices.Contains([]string{"add", "remove", "list"}, args[0]) {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fs.Usage()
			return nil
		}
		return fmt.Errorf("%w: say add, remove or list", errUsage)
	}
	sub := args[0]
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if !cp.given() {
		return fmt.Errorf("%w: grants made at run time live on the control plane: give --control-plane host:port of a scheduler node (or set HIGHWAY_CONTROL_PLANE); grants in department specs need no command", errUsage)
	}
	if cp.secret == "" {
		return needSecret("grant")
	}
	cl, err := cp.client()
	if err != nil {
		return err
	}
	if sub == "list" {
		st, err := cl.State(ctx)
		if err != nil {
			return err
		}
		now := time.Now()
		tb := newTable(stdout, "DEPARTMENT", "FEED", "CREATED", "UNTIL", "STATE", "NOTE")
		for _, g := range st.Grants {
			if *dept != "" && g.Department != *dept {
				continue
			}
			until, state := g.Until, "active"
			if until != nil {
				u := until.UTC()
				until = &u
			}
			if !g.Active(now) {
				state = "ended"
			}
			tb.row(g.Department, g.Feed, g.Created.UTC(), until, state, g.Note)
		}
		return tb.flush()
	}
	if *dept == "" || *feed == "" {
		return fmt.Errorf("%w: --department and --feed are required", errUsage)
	}
	var applied control.Applied
	switch sub {
	case "add":
		if err := checkDepartment(&c, *dept); err != nil {
			return err
		}
		if err := checkGrantable(&c, *dept, *feed); err != nil {
			return err
		}
		end, err := grantEnd(*until, *forDur, time.Now())
		if err != nil {
			return err
		}
		applied, err = cl.Grant(ctx, *dept, *feed, end, *note)
		if err != nil {
			return grantError("grant of "+*feed+" to "+*dept, err)
		}
		endText := "until removed"
		if !end.IsZero() {
			endText = "until " + end.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(stderr, "granted %s to %s %s: applied on the control plane at log index %d%s\n", *feed, *dept, endText, applied.Index, retriedNote(applied))
	case "remove":
		applied, err = cl.Ungrant(ctx, *dept, *feed)
		if err != nil {
			return grantError("removal of the grant of "+*feed+" to "+*dept, err)
		}
		fmt.Fprintf(stderr, "removed the grant of %s to %s: applied on the control plane at log index %d%s\n", *feed, *dept, applied.Index, retriedNote(applied))
	}
	return nil
}

// retriedNote tells that a change was retried and found applied.
func retriedNote(a control.Applied) string {
	if a.Retried {
		return " (the first node did not confirm it; retried, and the control plane has it once)"
	}
	return ""
}

// grantError words a failed grant change: refused, or not applied.
func grantError(what string, err error) error {
	switch {
	case errors.Is(err, control.ErrNoGrant):
		return fmt.Errorf("%w: %v (highway grant list shows the grants)", errUsage, err)
	case errors.Is(err, control.ErrInvalid):
		return fmt.Errorf("%s refused by the control plane, not applied: %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// grantEnd reads --until or --for; zero means no end.
func grantEnd(until, forDur string, now time.Time) (time.Time, error) {
	switch {
	case until != "" && forDur != "":
		return time.Time{}, fmt.Errorf("%w: --until %s and --for %s: give one", errUsage, until, forDur)
	case forDur != "":
		d, err := catalog.ParseDuration(forDur)
		if err != nil || d <= 0 {
			return time.Time{}, fmt.Errorf("%w: --for %q: want a positive duration such as 30d", errUsage, forDur)
		}
		return now.Add(d).UTC().Truncate(time.Second), nil
	case until != "":
		for _, layout := range []string{time.RFC3339, time.DateOnly} {
			if t, err := time.Parse(layout, until); err == nil {
				if !t.After(now) {
					return time.Time{}, fmt.Errorf("%w: --until %s is in the past", errUsage, until)
				}
				return t.UTC(), nil
			}
		}
		return time.Time{}, fmt.Errorf("%w: --until %q: want RFC 3339 (2027-01-31T00:00:00+08:00) or a date (2027-01-31)", errUsage, until)
	}
	return time.Time{}, nil
}

// checkGrantable refuses a grant of a feed that does not exist, is open
// (everyone reads it) or is the department's own.
func checkGrantable(c *common, dept, name string) error {
	cat, _, err := c.catalog()
	if err != nil {
		return err
	}
	f := cat.Feed(name)
	switch {
	case f == nil:
		var restricted []string
		for _, f := range cat.Feeds() {
			if f.Access == catalog.Restricted {
				restricted = append(restricted, f.Name)
			}
		}
		return fmt.Errorf("%w: no feed %q; the restricted feeds are %s", errUsage, name, strings.Join(restricted, ", "))
	case f.Access != catalog.Restricted:
		return fmt.Errorf("%w: feed %s is open: every department reads it without a grant", errUsage, name)
	case f.Department == dept:
		return fmt.Errorf("%w: %s owns %s: an owner reads its feeds without a grant", errUsage, dept, name)
	}
	return nil
}
