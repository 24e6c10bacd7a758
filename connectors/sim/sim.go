// Package sim simulates the built-in feeds for `highway dev`: every feed
// publishes at its declared cadence (or faster), with values that follow the
// city's daily rhythms — rush-hour speeds, diurnal temperature, rain events,
// AQHI episodes — and a small share of malformed records, so that the dead
// -letter path is exercised too.
package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
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
	if cfg.Speed <= 0 {
		cfg.Speed = 1
	}
	if cfg.BadShare == 0 {
		cfg.BadShare = 0.002
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Simulator{cfg: cfg, out: out}
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
			Key:     []byte(strings.Join(key, "|")),
			Value:   value,
			Headers: []bus.Header{{Key: bus.HeaderContentType, Value: []byte("application/json")}},
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
	hk := t.In(time.FixedZone("HKT", 8*3600))
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
		// Coolest near 06:00, warmest near 14:00; stations differ a little.
		return round1(22 + 4*math.Sin(2*math.Pi*(h-9)/24) + float64(i%5)*0.4 + 0.3*noise)
	case "humidity":
		return round1(clamp(78-12*math.Sin(2*math.Pi*(h-9)/24)+2*noise, 30, 100))
	case "rain_max", "rain_min":
		// A rain event passes over the city for an hour every few hours.
		if math.Mod(h, 5) < 1 {
			return round1(math.Abs(8 + 6*noise))
		}
		return 0.0
	case "uv_index":
		return round1(math.Max(0, 9*math.Sin(math.Pi*(h-6)/12)+0.5*noise))
	case "speed":
		// Rush hours at 08:00 and 18:00 slow the roads.
		rush := math.Exp(-sq(h-8.5)/1.5) + math.Exp(-sq(h-18.5)/1.5)
		return round1(clamp(85-45*rush-float64(i%4)*5+6*noise, 5, 120))
	case "volume":
		rush := math.Exp(-sq(h-8.5)/2) + math.Exp(-sq(h-18.5)/2)
		return int64(clamp(6+14*rush+3*noise, 0, 40))
	case "occupancy":
		rush := math.Exp(-sq(h-8.5)/2) + math.Exp(-sq(h-18.5)/2)
		return round1(clamp(8+30*rush+3*noise, 0, 100))
	case "speed_sd":
		return round1(math.Abs(6 + 2*noise))
	case "journey_minutes":
		rush := math.Exp(-sq(h-8.5)/1.5) + math.Exp(-sq(h-18.5)/1.5)
		return round1(clamp(12+10*rush+float64(i%6)+noise, 1, 120))
	case "aqhi":
		// An episode builds up in the afternoon.
		return int64(clamp(math.Round(3+2.5*math.Exp(-sq(h-15)/8)+float64(i%3)*0.5+0.6*noise), 1, 10))
	case "no2", "o3", "so2", "pm10", "pm2_5":
		return round1(math.Abs(30 + 15*math.Sin(2*math.Pi*(h-6)/24) + 8*noise))
	case "co":
		return round1(math.Abs(600 + 100*noise))
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
