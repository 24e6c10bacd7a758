package main

import (
	"log/slog"

	"github.com/cityhighway/highway/connectors/district"
	"github.com/cityhighway/highway/highway/api"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/portal"
)

// withPortal puts the open-data portal and city dashboard in front of the
// API: the portal's pages at /, /feeds, /jobs, the CKAN subset and DCAT-AP,
// and every API path handed on to srv.
func withPortal(srv *api.Server, log *slog.Logger) (*portal.Server, error) {
	return portal.New(portal.Config{API: srv, Logger: log, DistrictName: districtName})
}

// districtName names a district code in a language of the portal.
func districtName(code, lang string) string {
	d, ok := district.Lookup(code)
	switch {
	case !ok:
		return code
	case lang == catalog.TraditionalChinese:
		return d.Chinese + "區"
	}
	return d.Name
}
