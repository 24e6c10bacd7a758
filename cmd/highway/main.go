// Command highway is the one binary of the Digital Highway: it runs the
// platform on one machine (dev), validates specs, and runs each part of the
// platform on its own (process, ...).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand: its name, a one-line summary for the command
// list, and how to run it with its arguments.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is the registry of subcommands, one line each.
var commands = []command{
	{"dev", "run the whole platform on this machine: embedded Kafka, local ClickHouse, simulated feeds, API", runDev},
	{"validate", "check feed specs and print every problem as file:line: path: message", runValidate},
	{"connect", "poll the feeds' sources (built-in and httppoll specs) into Kafka; --replay FILE --dry-run checks a payload", runConnect},
	{"process", "consume feeds from Kafka and write them to ClickHouse, exactly once", runProcess},
	{"version", "print the version of this binary", runVersion},
	{"schedule", "run a node of the analytics scheduler (raft): every job slot exactly once", runSchedule},
	{"jobs", "list, create, pause, trigger analytics jobs and show their runs, over the scheduler API", runJobs},
	{"serve", "serve the HTTP API: catalogue, push, read-only SQL, open data, live tails, metrics", runServe},
	{"token", "create, list, revoke and rotate the API's department tokens (on the control plane, or a token file)", runToken},
	{"access", "request access to another department's restricted feed; list, approve (until a date) or refuse requests, over the API", runAccess},
	{"grant", "grant a department a restricted feed on the control plane, for a time or until removed; list and remove grants", runGrant},
	{"simulate", "serve every built-in source's payload in its real format (the simulator of dev), for connect --base-url", runSimulate},
	{"audit", "verify the audit log's hash chains and signatures; make a signing key", runAudit},
}

// errUsage marks errors in how the command was called; they exit with 2.
var errUsage = errors.New("usage")

// errNoClickHouse is the usage error of a command that needs ClickHouse
// and was given none.
var errNoClickHouse = fmt.Errorf("%w: no ClickHouse: pass --clickhouse clickhouse://host:9000/db or set HIGHWAY_CLICKHOUSE", errUsage)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "highway %s: %v\nRun 'highway %s --help' for usage.\n", c.name, err, c.name)
			return 2
		case errors.Is(err, errSilentFailure):
			return 1
		default:
			fmt.Fprintf(stderr, "highway %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "highway: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// errSilentFailure exits 1 without a message: the command printed its own.
var errSilentFailure = errors.New("failed")

func usage(w io.Writer) {
	fmt.Fprint(w, `highway - the Digital Highway, a city's real-time data exchange.

Feeds are declared in YAML; connectors bring them into Kafka; processors
validate them and write them to ClickHouse; the API serves the catalogue.

Usage: highway <command> [flags]

Commands:
`)
	sorted := append([]command(nil), commands...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for _, c := range sorted {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run 'highway <command> --help' for a command's flags and their defaults.
Environment: HIGHWAY_KAFKA (brokers), HIGHWAY_KAFKA_TLS_CA, HIGHWAY_KAFKA_SASL_*
(Kafka's TLS and SASL: see a command's --kafka-tls-* and --kafka-sasl-* flags),
HIGHWAY_CLICKHOUSE (DSN), HIGHWAY_SPECS (extra spec folders, separated by ':').
`)
}
