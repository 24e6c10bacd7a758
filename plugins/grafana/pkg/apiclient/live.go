package apiclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// ErrStreamEnded is returned by Live when the API closed the live tail
// without an error (a restart, a load balancer's idle timeout): the caller
// reconnects.
var ErrStreamEnded = errors.New("live tail closed by the API")

// maxEvent bounds one Server-Sent Event; a longer one is an error.
const maxEvent = 1 << 20

// Live follows GET /api/v1/feeds/{feed}/live, a stream of Server-Sent Events
// whose data lines are JSON records of the feed, and calls handle with each
// record in order. It returns when ctx is done (ctx.Err()), when the API
// ends the stream (ErrStreamEnded), when handle fails (its error), or on a
// read error. handle runs on the caller's goroutine; a slow handle slows
// the read, and the API drops clients that fall too far behind.
func (c *Client) Live(ctx context.Context, feed string, handle func(json.RawMessage) error) error {
	resp, err := c.do(ctx, c.stream, http.MethodGet, "/api/v1/feeds/"+url.PathEscape(feed)+"/live", nil, "text/event-stream")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxEvent)
	var event bytes.Buffer
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0: // end of an event
			if event.Len() == 0 {
				continue
			}
			rec := bytes.Clone(event.Bytes())
			event.Reset()
			if !json.Valid(rec) {
				return fmt.Errorf("%w: live event of %s is not JSON: %.80q", ErrProtocol, feed, rec)
			}
			if err := handle(rec); err != nil {
				return err
			}
		case bytes.HasPrefix(line, []byte("data:")):
			if event.Len() > 0 {
				event.WriteByte('\n')
			}
			event.Write(bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" ")))
		default:
			// comments (":" keep-alives), event:, id: and retry: lines
		}
	}
	if err := sc.Err(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return ErrStreamEnded
		}
		return fmt.Errorf("reading live tail of %s: %w", feed, err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return ErrStreamEnded
}
