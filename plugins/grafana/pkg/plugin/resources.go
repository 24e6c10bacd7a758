package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/plugins/grafana/pkg/apiclient"
	"github.com/cityhighway/highway/plugins/grafana/pkg/query"
)

// CallResource serves the frontend's editors and variables (see resourceMux).
func (d *Datasource) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	return d.resources.CallResource(ctx, req, sender)
}

// resourceMux serves, under /api/datasources/uid/<uid>/resources/:
//
//	GET feeds                        the catalogue (names, fields, freshness)
//	GET values?feed=F&field=X        distinct values of a field, for variables
//	GET jobs                         the analytics jobs
//
// Variables answer [{"text": ..., "value": ...}], what metricFindQuery needs.
func (d *Datasource) resourceMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /feeds", func(w http.ResponseWriter, r *http.Request) {
		api, err := d.api()
		if err != nil {
			writeResourceError(w, err)
			return
		}
		feeds, err := api.Feeds(r.Context())
		if err != nil {
			writeResourceError(w, err)
			return
		}
		writeResourceJSON(w, feeds)
	})
	mux.HandleFunc("GET /jobs", func(w http.ResponseWriter, r *http.Request) {
		api, err := d.api()
		if err != nil {
			writeResourceError(w, err)
			return
		}
		jobs, err := api.Jobs(r.Context())
		if err != nil {
			writeResourceError(w, err)
			return
		}
		writeResourceJSON(w, jobs)
	})
	mux.HandleFunc("GET /values", func(w http.ResponseWriter, r *http.Request) {
		vals, err := d.fieldValues(r.Context(), r.URL.Query().Get("feed"), r.URL.Query().Get("field"), r.URL.Query().Get("limit"))
		if err != nil {
			writeResourceError(w, err)
			return
		}
		writeResourceJSON(w, vals)
	})
	return mux
}

// Value is one option of a template variable.
type Value struct {
	Text  string `json:"text"`
	Value string `json:"value"`
}

// fieldValues lists the distinct values of a feed's field, sorted, at most
// limit (default 1000) of them.
func (d *Datasource) fieldValues(ctx context.Context, feedName, field, limitArg string) ([]Value, error) {
	limit := 1000
	if limitArg != "" {
		n, err := strconv.Atoi(limitArg)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%w: limit %q is not a positive number", query.ErrInvalid, limitArg)
		}
		limit = n
	}
	if feedName == "" || field == "" {
		return nil, fmt.Errorf("%w: values needs feed and field, e.g. values(hko.weather.temperature, station)", query.ErrInvalid)
	}
	feed, table, err := d.feedTable(ctx, feedName)
	if err != nil {
		return nil, err
	}
	f := feed.Field(field)
	if f == nil {
		return nil, fmt.Errorf("%w: feed %s has no field %q", query.ErrInvalid, feedName, field)
	}
	if f.Type == catalog.Time {
		return nil, fmt.Errorf("%w: %s.%s is a time; variables need a string, number or bool field", query.ErrInvalid, feedName, field)
	}
	api, err := d.api()
	if err != nil {
		return nil, err
	}
	sql := fmt.Sprintf("SELECT DISTINCT toString(%s) AS value FROM %s WHERE isNotNull(%s) ORDER BY value LIMIT %d", f.Name, table, f.Name, limit)
	frame, err := api.Query(ctx, sql, "values")
	if err != nil {
		return nil, err
	}
	out := make([]Value, 0, frame.Rows())
	if len(frame.Fields) == 0 {
		return out, nil
	}
	for i := 0; i < frame.Rows(); i++ {
		s, ok := frame.Fields[0].ConcreteAt(i)
		if !ok {
			continue
		}
		v := fmt.Sprint(s)
		out = append(out, Value{Text: v, Value: v})
	}
	return out, nil
}

func writeResourceJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// writeResourceError answers with the API's error shape and the status
// that fits whose fault it is.
func writeResourceError(w http.ResponseWriter, err error) {
	fault, status, _ := classify(err)
	code := int(status)
	var ae *apiclient.Error
	if errors.As(err, &ae) {
		code = ae.Status
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": string(fault) + ": " + err.Error()})
}
