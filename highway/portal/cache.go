package portal

import (
	"context"
	"sync"
	"time"

	"github.com/cityhighway/highway/highway/api"
	"github.com/cityhighway/highway/highway/catalog"
)

// cacheTTL is how long the portal reuses a feed's statistics, the city
// page's figures and the jobs' results. The feeds publish every 30 seconds at the fastest, so a
// figure is at most this much older than ClickHouse's; in exchange a busy
// portal asks ClickHouse once per period, not once per visitor.
const cacheTTL = 5 * time.Second

// ttlCache keeps values for cacheTTL. Two callers that miss at once both
// compute the value; the later one's is kept. It is safe for concurrent use.
type ttlCache[V any] struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]cached[V]
}

type cached[V any] struct {
	v  V
	at time.Time
}

func newTTLCache[V any](now func() time.Time) *ttlCache[V] {
	return &ttlCache[V]{now: now, m: map[string]cached[V]{}}
}

// get returns the value of key, computing it with fill when it is missing
// or older than cacheTTL.
func (c *ttlCache[V]) get(key string, fill func() V) V {
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < cacheTTL && !now.Before(e.at) {
		return e.v
	}
	v := fill()
	c.mu.Lock()
	c.m[key] = cached[V]{v: v, at: now}
	c.mu.Unlock()
	return v
}

// viewKey keys what a page shows a visitor: the same for every visitor
// of one department (or the public) and language.
func viewKey(v *visit) string {
	if v.dept != nil {
		return v.lang + "/" + v.dept.Name
	}
	return v.lang
}

// describe is api.Server.Describe with each feed's entry kept for cacheTTL;
// the feeds missing from the cache are described together, concurrently.
func (s *Server) describe(ctx context.Context, feeds []*catalog.Feed) []api.FeedInfo {
	out := make([]api.FeedInfo, len(feeds))
	var missing []*catalog.Feed
	var at []int
	now := s.infos.now()
	s.infos.mu.Lock()
	for i, f := range feeds {
		if e, ok := s.infos.m[f.Name]; ok && now.Sub(e.at) < cacheTTL && !now.Before(e.at) {
			out[i] = e.v
		} else {
			missing = append(missing, f)
			at = append(at, i)
		}
	}
	s.infos.mu.Unlock()
	if len(missing) == 0 {
		return out
	}
	fresh := s.cfg.API.Describe(ctx, missing)
	s.infos.mu.Lock()
	defer s.infos.mu.Unlock()
	for k, fi := range fresh {
		out[at[k]] = fi
		s.infos.m[fi.Name] = cached[api.FeedInfo]{v: fi, at: now}
	}
	return out
}
