package plugin

import (
	"context"
	"errors"
	"net/http"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/cityhighway/highway/plugins/grafana/pkg/apiclient"
	"github.com/cityhighway/highway/plugins/grafana/pkg/macros"
	"github.com/cityhighway/highway/plugins/grafana/pkg/query"
)

// Fault says whose an error is, the first thing a user needs to know.
type Fault string

// The faults, as they prefix error messages.
const (
	// FaultQuery: the query is wrong (macro, builder field, SQL refused by
	// the API or ClickHouse). The user fixes the query.
	FaultQuery Fault = "query error"
	// FaultSettings: the datasource's settings or token are wrong. An admin
	// fixes the datasource.
	FaultSettings Fault = "datasource settings"
	// FaultAPI: the Highway API (or ClickHouse behind it) failed or is
	// unreachable. The platform's operators fix it; retrying may help.
	FaultAPI Fault = "highway API error"
	// FaultPlugin: a bug in this plugin or a plugin/API version mismatch.
	FaultPlugin Fault = "plugin error"
)

// classify returns whose fault err is, the response status, and the
// SDK's error source (downstream for everything but the plugin's own bugs).
func classify(err error) (Fault, backend.Status, backend.ErrorSource) {
	var ae *apiclient.Error
	switch {
	case errors.Is(err, macros.ErrMacro), errors.Is(err, query.ErrInvalid):
		return FaultQuery, backend.StatusBadRequest, backend.ErrorSourceDownstream
	case errors.Is(err, apiclient.ErrConfig):
		return FaultSettings, backend.StatusBadRequest, backend.ErrorSourceDownstream
	case errors.As(err, &ae):
		switch {
		case ae.Status == http.StatusUnauthorized:
			return FaultSettings, backend.StatusUnauthorized, backend.ErrorSourceDownstream
		case ae.Status == http.StatusForbidden:
			return FaultSettings, backend.StatusForbidden, backend.ErrorSourceDownstream
		case ae.Status == http.StatusNotFound:
			return FaultQuery, backend.StatusNotFound, backend.ErrorSourceDownstream
		case ae.Status == http.StatusTooManyRequests:
			return FaultAPI, backend.StatusTooManyRequests, backend.ErrorSourceDownstream
		case ae.UserError():
			return FaultQuery, backend.StatusBadRequest, backend.ErrorSourceDownstream
		case ae.Status == http.StatusGatewayTimeout:
			return FaultAPI, backend.StatusTimeout, backend.ErrorSourceDownstream
		default:
			return FaultAPI, backend.StatusBadGateway, backend.ErrorSourceDownstream
		}
	case errors.Is(err, apiclient.ErrUnreachable):
		return FaultAPI, backend.StatusBadGateway, backend.ErrorSourceDownstream
	case errors.Is(err, context.DeadlineExceeded):
		return FaultAPI, backend.StatusTimeout, backend.ErrorSourceDownstream
	case errors.Is(err, context.Canceled):
		return FaultAPI, backend.StatusTimeout, backend.ErrorSourceDownstream
	default:
		return FaultPlugin, backend.StatusInternal, backend.ErrorSourcePlugin
	}
}

// errorResponse is the DataResponse of a failed query; its message starts
// with whose fault it is.
func errorResponse(err error) backend.DataResponse {
	fault, status, source := classify(err)
	return backend.ErrDataResponseWithSource(status, source, string(fault)+": "+err.Error())
}
