package api

import (
	"slices"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/control"
	"github.com/cityhighway/highway/highway/store"
)

// GrantSource gives the grants made at run time, on top of those the
// department specs declare: *control.Replica, the control plane's.
type GrantSource interface {
	// Grants returns every grant, active or not; the caller does not
	// change it.
	Grants() []control.Grant
	// Changed returns a channel closed at the next change of the grants.
	Changed() <-chan struct{}
}

// acl returns what each department may read now.
func (s *Server) acl() *accessControl { return s.access.Load() }

// buildAccess computes the access rules from the catalogue, the extra
// departments and the grants of Config.Grants active at now.
func (s *Server) buildAccess(now time.Time) *accessControl {
	extra := s.cfg.Departments
	if s.cfg.Grants != nil {
		extra = withGrants(s.cfg.Catalog, s.cfg.Departments, control.ActiveGrants(s.cfg.Grants.Grants(), now))
	}
	return newAccessControl(s.cfg.Catalog, extra, store.NewLayout(s.cfg.Database), s.cfg.AuditTable)
}

// withGrants returns the departments of the catalogue and extra, each
// with the feeds of grants added to its own grants (copies: the catalogue
// is not changed). A grant to a department no spec declares is left out.
func withGrants(cat *catalog.Catalog, extra []*catalog.Department, grants map[string][]string) []*catalog.Department {
	byName := map[string]*catalog.Department{}
	var order []string
	add := func(d *catalog.Department) {
		if _, ok := byName[d.Name]; !ok {
			order = append(order, d.Name)
		}
		byName[d.Name] = d
	}
	if cat != nil {
		for _, d := range cat.Departments() {
			add(d)
		}
		for _, f := range cat.Feeds() {
			if _, ok := byName[f.Department]; !ok {
				add(&catalog.Department{Name: f.Department, Description: "owner of " + f.Name})
			}
		}
	}
	for _, d := range extra {
		add(d)
	}
	out := make([]*catalog.Department, 0, len(order))
	for _, name := range order {
		d := byName[name]
		if g := grants[name]; len(g) > 0 {
			c := *d
			c.Grants = slices.Clone(d.Grants)
			for _, f := range g {
				if !slices.Contains(c.Grants, f) {
					c.Grants = append(c.Grants, f)
				}
			}
			d = &c
		}
		out = append(out, d)
	}
	return out
}

// followGrants rebuilds the access rules at each change of Config.Grants
// and when an active grant ends, until done is closed.
func (s *Server) followGrants(done <-chan struct{}) {
	for {
		changed := s.cfg.Grants.Changed()
		now := s.cfg.Now()
		s.access.Store(s.buildAccess(now))
		var expiry <-chan time.Time
		var timer *time.Timer
		if next := control.NextExpiry(s.cfg.Grants.Grants(), now); !next.IsZero() {
			timer = time.NewTimer(next.Sub(now))
			expiry = timer.C
		}
		select {
		case <-done:
		case <-changed:
		case <-expiry:
		}
		if timer != nil {
			timer.Stop()
		}
		select {
		case <-done:
			return
		default:
		}
	}
}
