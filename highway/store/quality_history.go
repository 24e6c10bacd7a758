package store

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
)

// History picks a feed's rows by when they landed in ClickHouse
// (_ingested_at, whole seconds), for downloads of the feed as it was and
// incremental syncs. The zero value picks every row.
type History struct {
	// AsOf, when set, keeps the rows that had landed by then (its second
	// included) and, of the rows with the same key and event time (a
	// correction re-publishes a record), only the latest that had.
	AsOf time.Time
	// ChangedSince, when set, keeps the rows that landed from then on (its
	// second included, so a sync that asks from the end of the last one
	// misses nothing; a row may come twice).
	ChangedSince time.Time
}

// QueryFeedHistory streams a feed's rows with event time in [from, to) as
// h picks them, like QueryFeed. With AsOf it returns one row per key and
// event time, ordered by them.
func (s *Store) QueryFeedHistory(ctx context.Context, feed *catalog.Feed, columns []string, from, to time.Time, h History, limit uint64, lim Limits, f Format, w io.Writer) (QueryStats, error) {
	if len(columns) == 0 {
		return QueryStats{}, fmt.Errorf("query of %s: no columns", feed.Name)
	}
	cols := make([]string, len(columns))
	for i, c := range columns {
		cols[i] = quoteIdent(c)
	}
	ev := quoteIdent(feed.EventTime)
	ing := quoteIdent(ColIngestedAt)
	where := []string{fmt.Sprintf("%s >= toDateTime(%d) AND %s < toDateTime(%d)", ev, from.Unix(), ev, to.Unix())}
	if !h.ChangedSince.IsZero() {
		where = append(where, fmt.Sprintf("%s >= toDateTime(%d)", ing, h.ChangedSince.Unix()))
	}
	var tail string
	if !h.AsOf.IsZero() {
		where = append(where, fmt.Sprintf("%s <= toDateTime(%d)", ing, h.AsOf.Unix()))
		var id []string
		for _, k := range feed.Key {
			id = append(id, quoteIdent(k))
		}
		id = append(id, ev)
		tail = fmt.Sprintf(" ORDER BY %s, %s DESC, %s DESC LIMIT 1 BY %s", strings.Join(id, ", "), ing, quoteIdent(ColOffset), strings.Join(id, ", "))
	}
	q := fmt.Sprintf("SELECT %s FROM %s WHERE %s%s", strings.Join(cols, ", "), s.ddl.FeedTable(feed), strings.Join(where, " AND "), tail)
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	return s.Query(ctx, q, lim, f, w)
}
