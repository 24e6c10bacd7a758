package plugin

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/cityhighway/highway/plugins/grafana/pkg/apiclient"
)

// CheckHealth is Grafana's "Save & test": it lists the feeds with the
// department's token, and says in words a user can act on whether the API
// is reachable and the token valid.
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	api, err := d.api()
	if err != nil {
		return healthError(err.Error()), nil
	}
	feeds, err := api.Feeds(ctx)
	if err != nil {
		return healthError(healthMessage(api.URL(), err)), nil
	}
	fresh := 0
	for _, f := range feeds {
		if f.Freshness == "fresh" {
			fresh++
		}
	}
	msg := fmt.Sprintf("Connected to the Highway API at %s: %d feeds visible to this department, %d fresh.", api.URL(), len(feeds), fresh)
	if len(feeds) == 0 {
		msg = fmt.Sprintf("Connected to the Highway API at %s, but no feed is visible to this department; ask the platform's admins for a grant.", api.URL())
	}
	return &backend.CheckHealthResult{Status: backend.HealthStatusOk, Message: msg}, nil
}

func healthError(msg string) *backend.CheckHealthResult {
	return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: msg}
}

// healthMessage says what to do about a failed catalogue call.
func healthMessage(url string, err error) string {
	var ae *apiclient.Error
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
		return fmt.Sprintf("The Highway API at %s refused the department token (%s). Paste a valid token (`highway token create --department <dept>`) and save again.", url, ae.Message)
	case errors.As(err, &ae) && ae.Status == http.StatusForbidden:
		return fmt.Sprintf("The department token is valid but may not list feeds at %s (%s). Ask the platform's admins for a grant.", url, ae.Message)
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		return fmt.Sprintf("%s answered 404 for /api/v1/feeds: the URL does not point at a Highway API server (use its base URL, without /api).", url)
	case errors.As(err, &ae):
		return fmt.Sprintf("The Highway API at %s failed (%d: %s); try again, or tell the platform's operators.", url, ae.Status, ae.Message)
	case errors.Is(err, apiclient.ErrUnreachable):
		return fmt.Sprintf("Cannot reach the Highway API at %s: %v. Check the URL, that the API server is running, and that Grafana's server can reach it (TLS settings for https).", url, errors.Unwrap(err))
	case errors.Is(err, apiclient.ErrProtocol):
		return fmt.Sprintf("%s answered, but not like a Highway API (%v): check the URL.", url, err)
	}
	return fmt.Sprintf("Checking the Highway API at %s failed: %v", url, err)
}
