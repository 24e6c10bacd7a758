// Package plugin is the Highway datasource's backend: QueryData for builder,
// SQL, job and feed-health queries, CheckHealth, resources for the editors
// and variables, and live streams of feeds through Grafana Live. It talks to
// the platform only through the Highway API (package apiclient).
package plugin

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/grafana/grafana-plugin-sdk-go/backend/resource/httpadapter"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/plugins/grafana/pkg/apiclient"
)

// ID is the plugin's id, as in plugin.json.
const ID = "cityhighway-highway-datasource"

// Make sure Datasource implements the SDK's handlers.
var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ backend.CallResourceHandler   = (*Datasource)(nil)
	_ backend.StreamHandler         = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
)

// feedTTL is how long a feed's spec is cached; specs change rarely and a
// builder query must not pay a catalogue call each time.
const feedTTL = 5 * time.Minute

// Datasource is one configured Highway datasource. Grafana makes one per
// datasource settings version (instancemgmt) and calls it concurrently.
type Datasource struct {
	settings Settings
	client   *apiclient.Client
	// cfgErr is set when the settings are unusable; every call reports it.
	cfgErr    error
	log       log.Logger
	resources backend.CallResourceHandler

	mu     sync.Mutex
	feeds  map[string]cachedFeed
	tables map[string]cachedColumns
}

type cachedColumns struct {
	cols []string
	at   time.Time
}

type cachedFeed struct {
	spec *catalog.Feed
	// table is the feed's table as the API names it in SQL (a restricted
	// feed's is database.table).
	table string
	at    time.Time
}

// NewDatasource is the instance factory given to datasource.Manage. Bad
// settings do not fail it: the datasource answers every call with what to
// fix, which Grafana shows on "Save & test" and in panels.
func NewDatasource(_ context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
	ds := &Datasource{log: log.DefaultLogger.With("datasource", s.UID), feeds: map[string]cachedFeed{}, tables: map[string]cachedColumns{}}
	ds.settings, ds.cfgErr = LoadSettings(s)
	if ds.cfgErr == nil {
		ds.client, ds.cfgErr = apiclient.New(ds.settings.ClientConfig())
	}
	ds.resources = httpadapter.New(ds.resourceMux())
	return ds, nil
}

// Dispose is called by Grafana when the settings change.
func (d *Datasource) Dispose() {
	if d.client != nil {
		d.client.Close()
	}
}

// api returns the client, or the configuration error.
func (d *Datasource) api() (*apiclient.Client, error) {
	if d.cfgErr != nil {
		return nil, d.cfgErr
	}
	return d.client, nil
}

// feed returns a feed's spec from the API, cached for feedTTL.
func (d *Datasource) feed(ctx context.Context, name string) (*catalog.Feed, error) {
	spec, _, err := d.feedTable(ctx, name)
	return spec, err
}

// feedTable returns a feed's spec and its table as SQL names it, from the
// API's catalogue (cached for feedTTL): open feeds' tables by name,
// restricted ones' as <database>_restricted.table.
func (d *Datasource) feedTable(ctx context.Context, name string) (*catalog.Feed, string, error) {
	d.mu.Lock()
	c, ok := d.feeds[name]
	d.mu.Unlock()
	if ok && time.Since(c.at) < feedTTL {
		return c.spec, c.table, nil
	}
	api, err := d.api()
	if err != nil {
		return nil, "", err
	}
	f, err := api.Feed(ctx, name)
	if err != nil {
		var ae *apiclient.Error
		if errors.As(err, &ae) && ae.Status == 404 {
			return nil, "", fmt.Errorf("no feed %q visible to this department: %w", name, err)
		}
		return nil, "", err
	}
	spec := f.Spec()
	table := f.Table
	if table == "" {
		table = spec.Table() // an API from before restricted databases
	}
	d.mu.Lock()
	d.feeds[name] = cachedFeed{spec: spec, table: table, at: time.Now()}
	d.mu.Unlock()
	return spec, table, nil
}
