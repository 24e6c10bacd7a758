package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// Other doors than the API (the portal, highway/portal) answer people with
// the API's own access rules, through the methods below: which department
// a token belongs to, what a department (or the public) may read, and which
// ClickHouse user reads it.

// The errors of SignIn.
var (
	// ErrBadToken is returned for a token that is unknown or revoked, or
	// when the server has no token store.
	ErrBadToken = errors.New("invalid or revoked token")
	// ErrUndeclared is returned for a token whose department is not
	// declared (any more).
	ErrUndeclared = errors.New("the token's department is not declared")
	// ErrExpired is returned for a token past its expiry.
	ErrExpired = errors.New("the token has expired")
)

// SignIn returns the department a token belongs to, as the API's bearer
// authentication finds it: ErrBadToken, ErrExpired or ErrUndeclared when
// there is none. A token without the admin scope of an admin department
// gets the department without its admin rights. It is safe for concurrent
// use; a revoked token fails within a second.
func (s *Server) SignIn(token string) (*catalog.Department, TokenInfo, error) {
	if s.cfg.Tokens == nil {
		return nil, TokenInfo{}, ErrBadToken
	}
	info, ok := s.cfg.Tokens.Verify(strings.TrimSpace(token))
	if !ok {
		return nil, TokenInfo{}, ErrBadToken
	}
	if info.Expired(s.cfg.Now()) {
		return nil, info, fmt.Errorf("%w: token %s expired on %s", ErrExpired, info.ID, info.Expires.UTC().Format(time.RFC3339))
	}
	dept := s.acl().department(info.Department)
	if dept == nil {
		return nil, info, fmt.Errorf("%w: %q", ErrUndeclared, info.Department)
	}
	return s.acl().as(dept, info), info, nil
}

// Readable returns the feeds dept may read, in catalogue order; for a nil
// dept (the public, no token) the open feeds only.
func (s *Server) Readable(dept *catalog.Department) []*catalog.Feed {
	return s.acl().viewOf(dept).feeds
}

// ReadableFeed returns the feed called name if dept (nil: the public) may
// read it, else nil, as if it did not exist.
func (s *Server) ReadableFeed(dept *catalog.Department, name string) *catalog.Feed {
	return s.acl().viewOf(dept).byName[name]
}

// JobResults returns the table that SQL reads a job's latest results from
// (its <table>_latest view, named as POST /api/v1/query names tables), and
// whether dept (nil: the public) may read it: only who may read everything
// the job reads. Results of jobs over restricted data are in the restricted
// database; QuerierFor says which user reads them.
func (s *Server) JobResults(dept *catalog.Department, j *catalog.Job) (string, bool) {
	epoch := time.Unix(0, 0)
	l := s.acl().layout
	db := l.JobDatabase(j.Render(epoch, epoch))
	v := s.acl().viewOf(dept)
	return l.SQLName(db, j.Table+store.LatestSuffix), v.policy.Tables[l.SQLName(db, j.Table)]
}

// QuerierFor returns the ClickHouse connection that reads a table named as
// JobResults or FeedInfo.Table name it: the one denied the restricted
// database unless the table is in it.
func (s *Server) QuerierFor(table string) Querier {
	if s.acl().layout.Restricted != "" && strings.HasPrefix(table, s.acl().layout.Restricted+".") {
		return s.cfg.RestrictedQuerier
	}
	return s.cfg.Querier
}

// Describe returns the catalogue entries of feeds (as GET /api/v1/feeds
// shows them: rows, latest event time, freshness, quality), reading each
// feed's statistics concurrently.
func (s *Server) Describe(ctx context.Context, feeds []*catalog.Feed) []FeedInfo {
	q := s.quality()
	out := make([]FeedInfo, len(feeds))
	var wg sync.WaitGroup
	for i, f := range feeds {
		wg.Go(func() { out[i] = s.info(ctx, f, q) })
	}
	wg.Wait()
	return out
}

// Now is the server's clock (Config.Now).
func (s *Server) Now() time.Time { return s.cfg.Now() }

// Catalog is the server's catalogue.
func (s *Server) Catalog() *catalog.Catalog { return s.cfg.Catalog }

// Table is a feed's table as POST /api/v1/query names it (FeedInfo.Table):
// alone for an open feed, <database>_restricted.table for a restricted one.
func (s *Server) Table(f *catalog.Feed) string { return s.acl().layout.FeedTable(f) }
