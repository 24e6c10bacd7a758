package main

import (
	"context"
	"fmt"
	"io"

	"github.com/cityhighway/highway/connectors/sim"
)

func runSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("simulate", "simulate [flags]", `
Serves every built-in source's payload in its real format (HKO JSON, TD XML
and CSV, EPD RSS) over HTTP with the city's daily rhythms: the source
simulator of 'highway dev', alone, for connectors in other processes
(highway connect --base-url http://ADDR). ops/stack runs it so. It stops on
Ctrl-C.`, stderr)
	var c common
	c.register(fs)
	addr := fs.String("addr", "127.0.0.1:8099", "address to serve on")
	speed := fs.Float64("speed", 1, "change every payload this many times more often than its source publishes")
	badShare := fs.Float64("bad-share", 0.002, "share of items (a station, a lane, a block) made malformed or out of range on purpose; 0 disables")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *speed <= 0 || *badShare < 0 || *badShare > 1 {
		return fmt.Errorf("%w: --speed (%v) must be positive and --bad-share (%v) between 0 and 1", errUsage, *speed, *badShare)
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	bound, err := serveHTTP(ctx, *addr, sim.NewServer(sim.ServerConfig{Speed: *speed, BadShare: orNegative(*badShare)}), log)
	if err != nil {
		return err
	}
	log.Info("source simulator serving the real formats", "url", "http://"+bound, "speed", *speed)
	<-ctx.Done()
	return nil
}
