package feedenv

import (
	"context"
	"sync"
	"testing"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/quality"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/highway/stream"
)

// Pipeline runs what `highway process` runs for cfg.Feed, until ctx ends or
// the returned stop is called: a processor with cfg from b into sink, and
// the copy of the feed's dead letters into st (consumer groups named from
// group). stop ends both, waits for them and closes the processor's
// producer; call it before a restart and when the test ends. A processor
// that cfg does not make fails the test.
func Pipeline(ctx context.Context, t testing.TB, b *bus.Bus, sink stream.Sink, st *store.Store, cfg stream.Config, group string) (stop func()) {
	t.Helper()
	prod := b.NewProducer()
	proc, err := stream.NewProcessor(cfg, b, sink, prod)
	if err != nil {
		prod.Close()
		t.Fatalf("starting the processor of %s: %v", cfg.Feed.Name, err)
	}
	copier := &quality.DeadLetterCopier{Source: b, Sink: st, Feeds: []*catalog.Feed{cfg.Feed}, GroupPrefix: group, Logger: cfg.Logger}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = proc.Run(ctx) }()
	go func() { defer wg.Done(); _ = copier.Run(ctx) }()
	return func() { cancel(); wg.Wait(); prod.Close() }
}
