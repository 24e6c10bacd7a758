package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// newFlags returns a flag set whose --help prints what the command does,
// then its flags with their defaults.
func newFlags(name, usageLine, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: highway %s\n\n%s\n\nFlags:\n", usageLine, strings.TrimSpace(about))
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args into fs. A flag it does not know or cannot read is
// a usage error (exit 2); --help is flag.ErrHelp (exit 0). The flag package
// has printed the problem and the flags already.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return fmt.Errorf("%w: %v", errUsage, err)
}

// listFlag is a flag that may be given several times.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set adds a value; comma-separated values add several.
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// common are the flags most commands share.
type common struct {
	specs    listFlag
	feeds    listFlag
	logLevel string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.Var(&c.specs, "specs", "a folder or file of extra feed specs, added to the built-in ones (repeatable; also $HIGHWAY_SPECS, ':'-separated)")
	fs.Var(&c.feeds, "feed", "a feed to run (repeatable or comma-separated); default all")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
}

func (c *common) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("%w: --log-level %q: use debug, info, warn or error", errUsage, c.logLevel)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), nil
}

// catalog loads the built-in specs plus the user's.
func (c *common) catalog() (*catalog.Catalog, []*catalog.Feed, error) {
	cat, err := catalog.Builtin()
	if err != nil {
		return nil, nil, fmt.Errorf("built-in specs: %w", err)
	}
	paths := append([]string(nil), c.specs...)
	if env := os.Getenv("HIGHWAY_SPECS"); env != "" {
		paths = append(paths, strings.Split(env, ":")...)
	}
	if len(paths) > 0 {
		if cat, err = catalog.Load(cat, paths...); err != nil {
			return nil, nil, fmt.Errorf("loading specs (run 'highway validate %s' for details):\n%w", strings.Join(paths, " "), err)
		}
	}
	feeds, err := cat.Select(c.feeds...)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	return cat, feeds, nil
}

// envOr returns the environment variable's value, or def.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// clickhouseCluster registers --clickhouse-cluster on a command that opens
// the store; the function it returns gives the store options of its value.
func clickhouseCluster(fs *flag.FlagSet) func() []store.Option {
	name := fs.String("clickhouse-cluster", envOr("HIGHWAY_CLICKHOUSE_CLUSTER", ""),
		"ClickHouse cluster (a remote_servers entry) to make the tables on: ON CLUSTER, Replicated*MergeTree behind Distributed tables, "+
			"each Kafka partition's batches written to one shard (README: \"ClickHouse cluster\"); empty for a single server (default $HIGHWAY_CLICKHOUSE_CLUSTER)")
	return func() []store.Option { return []store.Option{store.WithCluster(*name)} }
}
