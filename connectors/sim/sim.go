// Package sim simulates the city's sources for `highway dev`. Server serves
// every built-in source's payload in its real format (HKO JSON, TD XML and
// CSV, EPD RSS and XML) over HTTP, so the real connectors poll and parse it
// as they would the real endpoints. Simulator produces records of any feed
// straight to Kafka, for feeds that have no connector and for benchmarks
// (Snapshot). Both follow the city's daily rhythms — rush-hour speeds,
// diurnal temperature, rain events, AQHI episodes (patterns.go) — and make
// a small share of items malformed, so that the dead-letter path is
// exercised too.
package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cityhighway/highway/connectors/connector"
	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/envelope"
	"github.com/cityhighway/highway/highway/record"
)

// Producer is where the simulator sends records: *bus.Producer.
type Producer interface {
	Produce(ctx context.Context, msgs ...bus.Message) error
}

// Config configures a simulator.
type Config struct {
	// Feeds to simulate. Required.
	Feeds []*catalog.Feed
	// Speed divides every feed's interval: 60 makes an hourly feed publish
	// every minute. Default 1 (real cadence).
	Speed float64
	// BadShare is the share of records made malformed on purpose.
	// Default 0.002; negative disables.
	BadShare float64
	// Seed makes runs repeatable. Default 1.
	Seed uint64
	// Logger, default slog.Default().
	Logger *slog.Logger
}

// Simulator produces records of the configured feeds.
type Simulator struct {
	cfg      Config
	out      Producer
	produced atomic.Int64
}

// New returns a simulator that produces to out.
func New(cfg Config, out Producer) *Simulator {
	defaultShape(&cfg.Speed, &cfg.BadShare, &cfg.Seed)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Simulator{cfg: cfg, out: out}
}

// defaultShape fills in the knobs Config and ServerConfig share, with the
// defaults both document: speed 1 (real cadence), bad share 0.002 and
// seed 1.
func defaultShape(speed, badShare *float64, seed *uint64) {
	if *speed <= 0 {
		*speed = 1
	}
	if *badShare == 0 {
		*badShare = 0.002
	}
	if *seed == 0 {
		*seed = 1
	}
}

// Produced is the number of records produced so far.
func (s *Simulator) Produced() int64 { return s.produced.Load() }

// Run publishes every feed once at once, then at its cadence, until ctx ends.
func (s *Simulator) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i, feed := range s.cfg.Feeds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(s.cfg.Seed, uint64(i)))
			every := time.Duration(float64(feed.Interval) / s.cfg.Speed)
			every = max(every, 100*time.Millisecond)
			for {
				msgs := s.Snapshot(feed, time.Now(), rng)
				if err := s.out.Produce(ctx, msgs...); err != nil {
					if ctx.Err() != nil {
						return
					}
					s.cfg.Logger.Warn("simulator: produce failed", "feed", feed.Name, "err", err)
				} else {
					s.produced.Add(int64(len(msgs)))
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(every):
				}
			}
		}()
	}
	wg.Wait()
	return nil
}

// Snapshot returns one publication of feed at time now: a record per entity
// the feed reports on.
func (s *Simulator) Snapshot(feed *catalog.Feed, now time.Time, rng *rand.Rand) []bus.Message {
	entities := entitiesOf(feed)
	msgs := make([]bus.Message, 0, len(entities))
	at := now.UTC().Truncate(time.Second)
	for i, ent := range entities {
		rec := make(map[string]any, len(feed.Fields))
		for _, f := range feed.Fields {
			if v, ok := ent[f.Name]; ok {
				if fn, ok := v.(func(time.Time) any); ok {
					v = fn(at)
				}
				rec[f.Name] = v
				continue
			}
			rec[f.Name] = valueFor(feed, f, at, i, rng)
		}
		if rng.Float64() < s.cfg.BadShare {
			spoil(feed, rec, rng)
		}
		value, _ := json.Marshal(rec)
		key := make([]string, len(feed.Key))
		for j, k := range feed.Key {
			key[j] = fmt.Sprint(rec[k])
		}
		msgs = append(msgs, bus.Message{
			Topic:   feed.Topic(),
			Key:     []byte(record.JoinKey(key...)),
			Value:   value,
			Headers: bus.Headers(envelope.Envelope{ContentType: record.ContentTypeJSON}),
		})
	}
	return msgs
}

// spoil makes a record break its spec in one of the ways real feeds do.
func spoil(feed *catalog.Feed, rec map[string]any, rng *rand.Rand) {
	f := feed.Fields[rng.IntN(len(feed.Fields))]
	switch {
	case f.Type.Numeric() && f.Max != nil:
		rec[f.Name] = *f.Max + 1 + math.Round(rng.Float64()*100)
	case f.Required:
		delete(rec, f.Name)
	default:
		rec[f.Name] = map[string]any{"unexpected": "nesting"}
	}
}

// hour returns the local (Hong Kong) hour of day of t as a fraction.
func hour(t time.Time) float64 {
	hk := t.In(connector.HKT)
	return float64(hk.Hour()) + float64(hk.Minute())/60
}

// valueFor makes a plausible value for field f of entity i at time at.
func valueFor(feed *catalog.Feed, f catalog.Field, at time.Time, i int, rng *rand.Rand) any {
	h := hour(at)
	noise := rng.NormFloat64()
	switch f.Name {
	case feed.EventTime, "period_from", "record_time", "capture_time", "publish_time", "measure_time", "update_time", "end_time":
		return at.Format(time.RFC3339)
	case "period_to":
		return at.Add(30 * time.Second).Format(time.RFC3339)
	case "start_time":
		return at.Add(-time.Hour).Format(time.RFC3339)
	case "issue_time":
		return at.Add(-2 * time.Hour).Format(time.RFC3339)
	case "expire_time":
		return at.Add(4 * time.Hour).Format(time.RFC3339)
	case "temperature":
		return round1(temperature(h, i, noise))
	case "humidity":
		return round1(humidity(h, noise))
	case "rain_max", "rain_min":
		return round1(rain(h, noise))
	case "uv_index":
		return round1(uvIndex(h, noise))
	case "speed":
		return round1(speed(h, i, noise))
	case "volume":
		return int64(volume(h, noise))
	case "occupancy":
		return round1(occupancy(h, noise))
	case "speed_sd":
		return round1(speedSD(noise))
	case "journey_minutes":
		return round1(journeyMinutes(h, i, noise))
	case "aqhi":
		return int64(aqhi(h, i, noise))
	case "no2", "o3", "so2", "pm10", "pm2_5":
		return round1(pollutant(h, noise))
	case "co":
		return round1(carbonMonoxide(noise))
	}
	return generic(f, rng)
}

func generic(f catalog.Field, rng *rand.Rand) any {
	switch f.Type {
	case catalog.String:
		if len(f.Enum) > 0 {
			return f.Enum[rng.IntN(len(f.Enum))]
		}
		return nil
	case catalog.Bool:
		return rng.Float64() < 0.97
	case catalog.Int64, catalog.Float64:
		lo, hi := 0.0, 100.0
		if f.Min != nil {
			lo = *f.Min
		}
		if f.Max != nil {
			hi = *f.Max
		}
		v := lo + rng.Float64()*(hi-lo)
		if f.Type == catalog.Int64 {
			return int64(v)
		}
		return round1(v)
	case catalog.Time:
		return nil
	}
	return nil
}

func round1(v float64) float64        { return math.Round(v*10) / 10 }
func sq(v float64) float64            { return v * v }
func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }
