package api

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rate is a token-bucket rate limit: PerSecond requests on average, bursts
// of up to Burst. A zero PerSecond disables the limit.
type Rate struct {
	PerSecond float64
	Burst     int
}

// limiter keeps one token bucket (golang.org/x/time/rate) per key (a token
// ID, a client address). Buckets idle for ten minutes are forgotten, so
// memory stays bounded by the number of recent callers. It is safe for
// concurrent use.
type limiter struct {
	rate  Rate
	now   func() time.Time
	mu    sync.Mutex
	b     map[string]*bucket
	swept time.Time
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

func newLimiter(r Rate, now func() time.Time) *limiter {
	if r.Burst < 1 {
		r.Burst = 1
	}
	return &limiter{rate: r, now: now, b: map[string]*bucket{}}
}

// allow takes a token from key's bucket. When there is none it returns
// false and how long until there is one.
func (l *limiter) allow(key string) (bool, time.Duration) {
	if l == nil || l.rate.PerSecond <= 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		for k, b := range l.b {
			if now.Sub(b.last) > 10*time.Minute {
				delete(l.b, k)
			}
		}
		l.swept = now
	}
	b, ok := l.b[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.rate.PerSecond), l.rate.Burst)}
		l.b[key] = b
	}
	b.last = now
	r := b.lim.ReserveN(now, 1)
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now) // the request is refused, so it takes no token
		return false, wait
	}
	return true, 0
}
