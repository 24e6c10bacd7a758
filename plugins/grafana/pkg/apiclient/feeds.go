package apiclient

import (
	"context"
	"net/url"

	"github.com/cityhighway/highway/highway/api/wire"
)

// Feed is an entry of GET /api/v1/feeds: the feed's spec, where its rows
// live and how fresh they are, as the API writes it (wire.Feed, the type
// the server itself answers with). Feed.Spec turns it into the
// catalog.Feed the query builder works on, so builder queries are checked
// the same way whether the feed came from the API or from the built-in
// catalogue.
type Feed = wire.Feed

// Field is a feed field as the catalogue shows it (wire.Field).
type Field = wire.Field

// Feeds lists the feeds the department may read.
func (c *Client) Feeds(ctx context.Context) ([]Feed, error) {
	var out []Feed
	if err := c.getJSON(ctx, "/api/v1/feeds", &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Feed returns one feed; an *Error with status 404 when there is none the
// department may read.
func (c *Client) Feed(ctx context.Context, name string) (*Feed, error) {
	var out Feed
	if err := c.getJSON(ctx, "/api/v1/feeds/"+url.PathEscape(name), &out); err != nil {
		return nil, err
	}
	return &out, nil
}
