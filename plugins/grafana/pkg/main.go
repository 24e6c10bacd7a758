// Command gpx_highway is the backend of the Highway datasource for Grafana.
// Grafana starts it as a plugin process (hashicorp/go-plugin, gRPC) and
// talks to it through the plugin SDK; it is not meant to be run by hand.
package main

import (
	"os"

	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	"github.com/cityhighway/highway/plugins/grafana/pkg/plugin"
)

func main() {
	if err := datasource.Manage(plugin.ID, plugin.NewDatasource, datasource.ManageOpts{}); err != nil {
		log.DefaultLogger.Error("serving the plugin failed", "error", err.Error())
		os.Exit(1)
	}
}
