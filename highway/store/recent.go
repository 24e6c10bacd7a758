package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/record"
)

// MinEventTime returns the earliest event time in the feed's table, or the
// zero time if it is empty.
func (s *Store) MinEventTime(ctx context.Context, feed *catalog.Feed) (time.Time, error) {
	q := fmt.Sprintf("SELECT count(), min(%s) FROM %s", quoteIdent(feed.EventTime), s.ddl.FeedTable(feed))
	var (
		n  uint64
		at time.Time
	)
	if err := s.conn.QueryRow(ctx, q).Scan(&n, &at); err != nil {
		return time.Time{}, fmt.Errorf("reading the earliest event of %s: %w", feed.Table(), err)
	}
	if n == 0 {
		return time.Time{}, nil
	}
	return at, nil
}

// RecentIdentities returns the identities (key and event time, see
// record.Identity) of the rows of topic/partition with an event time at or
// after since, so a restarted processor de-duplicates as the one before it.
func (s *Store) RecentIdentities(ctx context.Context, feed *catalog.Feed, topic string, partition int, since time.Time) ([]record.Identity, error) {
	var cols []string
	for _, k := range feed.Key {
		col := quoteIdent(k)
		if feed.Field(k).Type == catalog.Time {
			col = "toUInt32(" + col + ")"
		}
		cols = append(cols, "toString("+col+")")
	}
	q := fmt.Sprintf("SELECT %s, %s FROM %s WHERE %s = ? AND %s = ? AND %s >= toDateTime(%d)",
		strings.Join(cols, ", "), quoteIdent(feed.EventTime), s.ddl.FeedTable(feed),
		quoteIdent(ColTopic), quoteIdent(ColPartition), quoteIdent(feed.EventTime), since.Unix())
	rows, err := s.conn.Query(ctx, q, topic, int32(partition))
	if err != nil {
		return nil, fmt.Errorf("reading recent keys of %s/%d: %w", topic, partition, err)
	}
	defer rows.Close()
	keys := make([]string, len(feed.Key))
	dest := make([]any, len(keys)+1)
	for i := range keys {
		dest[i] = &keys[i]
	}
	var at time.Time
	dest[len(keys)] = &at
	var out []record.Identity
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("reading recent keys of %s/%d: %w", topic, partition, err)
		}
		out = append(out, record.IdentityOf(keys, at))
	}
	return out, rows.Err()
}
