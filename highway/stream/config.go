package stream

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
)

// DefaultMemoryBudget is the memory budget of a processor given none.
const DefaultMemoryBudget = 128 << 20

// Config configures one processor.
type Config struct {
	// Feed is the feed whose topic is consumed. Required.
	Feed *catalog.Feed
	// Pipeline, when set, adds de-duplication, enrichment and windows, and
	// its batch limits replace MaxRows, MaxBytes and MaxWait.
	Pipeline *catalog.Pipeline
	// Group is the consumer group. Default "highway.<feed>".
	Group string
	// MaxRows bounds a micro-batch. Default catalog.DefaultBatch.Rows.
	MaxRows int
	// MaxBytes bounds the bytes of a micro-batch. Default 16 MiB.
	MaxBytes int64
	// MaxWait bounds how long a micro-batch waits to fill after its first
	// record. Default 500ms.
	MaxWait time.Duration
	// InFlight bounds the micro-batches of one partition that exist at
	// once: one being written to ClickHouse while the next ones are fetched
	// and decoded. Default 2; at least 2.
	InFlight int
	// RetryMin and RetryMax bound the backoff between attempts when
	// ClickHouse or Kafka fail. Defaults 200ms and 10s.
	RetryMin, RetryMax time.Duration
	// Budget is the memory budget the processor's partitions take their
	// batches' bytes from, shared by the processors of one process (see
	// Budget). Default: one of DefaultMemoryBudget bytes for this
	// processor alone.
	Budget *Budget
	// Logger, default slog.Default().
	Logger *slog.Logger
	// Metrics, when set, receive the processor's counters.
	Metrics *Metrics
}

func (c *Config) defaults() error {
	if c.Feed == nil {
		return errors.New("stream: Config.Feed is required")
	}
	if c.Group == "" {
		c.Group = "highway." + c.Feed.Name
	}
	if c.Pipeline != nil {
		if c.Pipeline.Source != c.Feed.Name {
			return fmt.Errorf("stream: pipeline %s reads %s, not %s", c.Pipeline.Name, c.Pipeline.Source, c.Feed.Name)
		}
		c.MaxRows, c.MaxBytes, c.MaxWait = c.Pipeline.Batch.Rows, c.Pipeline.Batch.Bytes, c.Pipeline.Batch.MaxWait
	}
	if c.MaxRows <= 0 {
		c.MaxRows = catalog.DefaultBatch.Rows
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = catalog.DefaultBatch.Bytes
	}
	if c.MaxWait <= 0 {
		c.MaxWait = catalog.DefaultBatch.MaxWait
	}
	if c.InFlight < 2 {
		c.InFlight = 2
	}
	if c.RetryMin <= 0 {
		c.RetryMin = 200 * time.Millisecond
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = max(10*time.Second, c.RetryMin)
	}
	if c.Budget == nil {
		c.Budget = NewBudget(DefaultMemoryBudget)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}
