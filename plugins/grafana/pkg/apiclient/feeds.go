package apiclient

import (
	"context"
	"net/url"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
)

// Field is a feed field as the catalogue shows it.
type Field struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	Unit        string   `json:"unit,omitempty"`
	Description string   `json:"description,omitempty"`
	Required    bool     `json:"required"`
	Min         *float64 `json:"min,omitempty"`
	Max         *float64 `json:"max,omitempty"`
	Enum        []string `json:"enum,omitempty"`
}

// Feed is an entry of GET /api/v1/feeds: the feed's spec, where its rows
// live and how fresh they are. Fields the plugin does not use are ignored,
// so the API may add more.
type Feed struct {
	Name            string     `json:"name"`
	Department      string     `json:"department"`
	Description     string     `json:"description,omitempty"`
	Access          string     `json:"access,omitempty"`
	IntervalSeconds float64    `json:"interval_seconds"`
	Key             []string   `json:"key"`
	EventTime       string     `json:"event_time"`
	Fields          []Field    `json:"fields"`
	Table           string     `json:"table"`
	Rows            uint64     `json:"rows"`
	LatestEventTime *time.Time `json:"latest_event_time"`
	// Freshness is fresh, late, stale, empty or unknown.
	Freshness  string `json:"freshness"`
	StatsError string `json:"stats_error,omitempty"`
}

// Spec returns the feed as a catalog.Feed, the one spec type the plugin's
// query builder works on, so builder queries are checked the same way
// whether the feed came from the API or from the built-in catalogue.
func (f *Feed) Spec() *catalog.Feed {
	out := &catalog.Feed{
		Name: f.Name, Department: f.Department, Description: f.Description,
		Key: f.Key, EventTime: f.EventTime, Access: catalog.Access(f.Access),
		Interval: time.Duration(f.IntervalSeconds * float64(time.Second)),
	}
	for _, fld := range f.Fields {
		out.Fields = append(out.Fields, catalog.Field{
			Name: fld.Name, Type: catalog.FieldType(fld.Type), Unit: fld.Unit, Description: fld.Description,
			Required: fld.Required, Min: fld.Min, Max: fld.Max, Enum: fld.Enum,
		})
	}
	return out
}

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
