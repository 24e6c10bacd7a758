package builtin

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/cityhighway/highway/connectors/td"
)

// Locations returns the detector location list loaded last, or nil before
// the first load (detector records then have no district).
func (r *Registry) Locations() td.Locations {
	if p := r.locs.Load(); p != nil {
		return *p
	}
	return nil
}

// SetLocations parses a detector location list (TD's CSV) and uses it from
// now on. Rows that cannot be used are logged, not returned: they concern
// reference data, not records. It fails when the payload is not the list.
func (r *Registry) SetLocations(payload []byte) error {
	locs, rejects, err := td.ParseLocations(payload)
	if err != nil {
		return fmt.Errorf("detector locations: %w", err)
	}
	if len(locs) == 0 {
		return fmt.Errorf("detector locations: the list has no detector")
	}
	for i, rj := range rejects {
		if i == 5 {
			r.opts.Logger.Warn("detector locations: more rows left out", "count", len(rejects)-i)
			break
		}
		r.opts.Logger.Warn("detector locations: row left out", "where", rj.Where, "reason", rj.Reason)
	}
	r.locs.Store(&locs)
	return nil
}

// LoadLocations fetches the detector location list once (from LocationsURL,
// moved to the base URL if one is set) and uses it.
func (r *Registry) LoadLocations(ctx context.Context) error {
	u := r.URL(LocationsURL)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("detector locations: %w", err)
	}
	resp, err := r.opts.Client.Do(req)
	if err != nil {
		return fmt.Errorf("fetching detector locations: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching detector locations: %s answered %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("reading detector locations from %s: %w", u, err)
	}
	if err := r.SetLocations(body); err != nil {
		return err
	}
	r.opts.Logger.Info("detector locations loaded", "url", u, "detectors", len(r.Locations()))
	return nil
}

// RunReference keeps the reference data fresh until ctx ends: it loads the
// detector location list at once unless one is loaded already, then every
// LocationsRefresh; after a failure it tries again with backoff (from 10s up
// to an hour), keeping the list it has. Callers that want districts on the
// first detector records call LoadLocations before starting the sources.
func (r *Registry) RunReference(ctx context.Context) {
	wait := time.Duration(0)
	if r.Locations() != nil {
		wait = LocationsRefresh
	}
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		err := r.LoadLocations(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			failures, wait = 0, LocationsRefresh
			continue
		}
		failures++
		wait = min(10*time.Second<<min(failures-1, 10), time.Hour)
		wait = wait/2 + rand.N(wait/2+1)
		if r.Locations() == nil {
			r.opts.Logger.Warn("no detector locations yet: detector records have no district", "err", err, "retry_in", wait.Round(time.Second))
		} else {
			r.opts.Logger.Warn("refreshing detector locations failed; keeping the list loaded before", "err", err, "retry_in", wait.Round(time.Second))
		}
	}
}
