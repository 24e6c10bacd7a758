package apiclient

import (
	"context"
	"fmt"
	"mime"
	"net/http"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/cityhighway/highway/highway/api/wire"
	"github.com/cityhighway/highway/highway/record"
	"github.com/cityhighway/highway/plugins/grafana/pkg/frames"
)

// ArrowStreamType is the media type of the API's Arrow answers (the
// platform's one definition, record.ContentTypeArrow).
const ArrowStreamType = record.ContentTypeArrow

// Query runs one read-only SQL statement through the API and returns its
// answer, received as an Arrow IPC stream, as a frame called name. The SQL
// must be expanded already (no macros). A statement the API or ClickHouse
// refuses comes back as an *Error with status 400 and ClickHouse's message.
func (c *Client) Query(ctx context.Context, sql, name string) (*data.Frame, error) {
	resp, err := c.do(ctx, c.http, http.MethodPost, "/api/v1/query", wire.QueryRequest{SQL: sql, Format: "arrow"}, ArrowStreamType)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != ArrowStreamType {
			return nil, fmt.Errorf("%w: POST /api/v1/query answered %q, not %s", ErrProtocol, mt, ArrowStreamType)
		}
	}
	frame, err := frames.FromArrowStream(resp.Body, name)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	return frame, nil
}
