package api

import (
	"sort"
	"time"

	"github.com/cityhighway/highway/highway/api/sqlguard"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// accessControl knows every department and, for each, what it may read:
// feeds, and the ClickHouse tables behind them (feed tables, the window
// tables of their pipelines, the result tables of jobs over them). Tables
// are named as callers' SQL names them (store.Layout.SQLName): open ones
// alone, restricted ones as <restricted database>.table. It is computed
// once from the immutable catalogue and is read-only after.
type accessControl struct {
	layout store.Layout
	depts  map[string]*catalog.Department
	// readOnly holds, for each admin department, a copy without its admin
	// rights: what a token of it without the admin scope acts as.
	readOnly map[string]*catalog.Department
	views    map[*catalog.Department]*view
	// public is what anyone may read without a token (the portal's
	// visitors): a department with no grants that owns nothing.
	public *view
}

// view is what one department may read.
type view struct {
	feeds  []*catalog.Feed
	byName map[string]*catalog.Feed
	tables []string
	policy sqlguard.Policy
}

func newAccessControl(cat *catalog.Catalog, extra []*catalog.Department, layout store.Layout, auditTable string) *accessControl {
	a := &accessControl{layout: layout, depts: map[string]*catalog.Department{}, readOnly: map[string]*catalog.Department{},
		views: map[*catalog.Department]*view{}}
	if cat == nil {
		cat = &catalog.Catalog{}
	}
	for _, d := range cat.Departments() {
		a.depts[d.Name] = d
	}
	for _, d := range extra {
		a.depts[d.Name] = d
	}
	for _, f := range cat.Feeds() {
		if a.depts[f.Department] == nil {
			a.depts[f.Department] = &catalog.Department{Name: f.Department, Description: "owner of " + f.Name}
		}
	}
	// Every table the API knows of, and which feed each belongs to. The
	// audit log is in the restricted database, named like restricted feed
	// tables, so only admins see it and their queries of it run as
	// Config.RestrictedQuerier.
	all := map[string]bool{layout.AuditTable(auditTable): true}
	feedTables := map[*catalog.Feed][]string{}
	for _, f := range cat.Feeds() {
		ts := []string{layout.FeedTable(f)}
		if p := cat.PipelineOf(f.Name); p != nil {
			for _, w := range p.Windows {
				ts = append(ts, layout.WindowTable(f, w))
			}
		}
		feedTables[f] = ts
		for _, t := range ts {
			all[t] = true
		}
	}
	// The quality ledger of the open feeds is open (the restricted feeds'
	// rows are in the restricted database's copy, for admins).
	all[store.QualityTable] = true
	all[layout.SQLName(layout.Restricted, store.QualityTable)] = true
	jobs := cat.Jobs()
	jobTables := map[*catalog.Job]string{}
	epoch := time.Unix(0, 0)
	for _, j := range jobs {
		jobTables[j] = layout.SQLName(layout.JobDatabase(j.Render(epoch, epoch)), j.Table)
		all[jobTables[j]] = true
	}
	policy := func(tables map[string]bool, personal map[string][]string) sqlguard.Policy {
		return sqlguard.Policy{Database: layout.Open, Restricted: layout.Restricted, Tables: tables, Personal: personal}
	}
	// The public is the reader named "": no department has that name.
	readers := []*catalog.Department{{}}
	for name, d := range a.depts {
		readers = append(readers, d)
		if d.Admin {
			ro := *d
			ro.Admin = false
			a.readOnly[name] = &ro
			readers = append(readers, &ro)
		}
	}
	for _, d := range readers {
		name := d.Name
		v := &view{byName: map[string]*catalog.Feed{}}
		personal := personalColumns(cat, layout, d)
		visible := map[string]bool{store.QualityTable: true}
		for _, f := range cat.Feeds() {
			if d.CanRead(f) {
				v.feeds = append(v.feeds, f)
				v.byName[f.Name] = f
				for _, t := range feedTables[f] {
					visible[t] = true
				}
			}
		}
		if d.Admin {
			for t := range all {
				visible[t] = true
			}
		} else {
			// A job's results are readable by whoever may read everything
			// the job reads; jobs may read other jobs, so repeat until
			// nothing changes.
			for changed := true; changed; {
				changed = false
				for _, j := range jobs {
					if visible[jobTables[j]] {
						continue
					}
					res, err := sqlguard.Check(j.Render(epoch, epoch), policy(visible, personal))
					if err == nil && len(res.Tables) > 0 {
						visible[jobTables[j]] = true
						changed = true
					}
				}
			}
		}
		v.policy = policy(visible, personal)
		v.policy.Hidden = map[string]bool{}
		for t := range all {
			if !visible[t] {
				v.policy.Hidden[t] = true
			}
		}
		for t := range visible {
			v.tables = append(v.tables, t)
		}
		sort.Strings(v.tables)
		if name == "" {
			a.public = v
			continue
		}
		a.views[d] = v
	}
	return a
}

// personalColumns are the personal fields of the feeds d does not own, by
// feed table: no one but the owner reads them (sqlguard.CodePersonal).
func personalColumns(cat *catalog.Catalog, layout store.Layout, d *catalog.Department) map[string][]string {
	out := map[string][]string{}
	for _, f := range cat.Feeds() {
		if f.Department == d.Name && d.Name != "" {
			continue
		}
		if names := personalNames(f); len(names) > 0 {
			out[layout.FeedTable(f)] = names
		}
	}
	return out
}

// department returns the department called name, or nil.
func (a *accessControl) department(name string) *catalog.Department { return a.depts[name] }

// view returns what d may read. A department made elsewhere than from
// the catalogue is looked up by name.
func (a *accessControl) view(d *catalog.Department) *view {
	if v, ok := a.views[d]; ok {
		return v
	}
	if d.Admin {
		return a.views[a.depts[d.Name]]
	}
	if ro, ok := a.readOnly[d.Name]; ok {
		return a.views[ro]
	}
	return a.views[a.depts[d.Name]]
}

// as returns the department a token of d acts as: d itself, or for a token
// without the admin scope, d without its admin rights.
func (a *accessControl) as(d *catalog.Department, t TokenInfo) *catalog.Department {
	if d.Admin && !t.Has(ScopeAdmin) {
		return a.readOnly[d.Name]
	}
	return d
}

// viewOf returns what d may read, or what the public may for a nil d.
func (a *accessControl) viewOf(d *catalog.Department) *view {
	if d == nil {
		return a.public
	}
	return a.view(d)
}

// querier returns the connection that runs a query accepted as res for
// policy p: the one that can read the restricted database only when the
// query reads a restricted table, which the guard has let through only for
// a caller who may read it; every other query runs as a ClickHouse user
// that cannot read restricted data at all.
func (s *Server) querier(res sqlguard.Result, p sqlguard.Policy) Querier {
	if res.ReadsRestricted(p) {
		return s.cfg.RestrictedQuerier
	}
	return s.cfg.Querier
}

// feed returns the feed called name if d may read it, else nil: a feed d
// may not read is answered as if it did not exist.
func (a *accessControl) feed(d *catalog.Department, name string) *catalog.Feed {
	return a.view(d).byName[name]
}
