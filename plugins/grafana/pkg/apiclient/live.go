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

	"github.com/cityhighway/highway/highway/api/wire"
)

// ErrStreamEnded is returned by Live when the API closed the live tail
// without an error (a restart, a load balancer's idle timeout): the caller
// reconnects.
var ErrStreamEnded = errors.New("live tail closed by the API")

// ErrLiveError is returned by Live when the API ended the live tail with an
// "event: error" (it dropped a client that fell behind, or its Kafka tail
// failed); the message is the API's. It wraps ErrStreamEnded: the caller
// reconnects as after any end of the stream.
var ErrLiveError = fmt.Errorf("live tail ended with an error event: %w", ErrStreamEnded)

// maxEvent bounds one Server-Sent Event; a longer one is an error.
const maxEvent = 1 << 20

// Live follows GET /api/v1/feeds/{feed}/live, a stream of Server-Sent Events
// whose data lines are JSON records of the feed, and calls handle with each
// record in order ("event: record", or an event without a type). It
// returns when ctx is done (ctx.Err()), when the API ends the stream
// (ErrStreamEnded, or ErrLiveError with the API's message after an "event:
// error"), when handle fails (its error), or on a read error. Events of
// other types are skipped. handle runs on the caller's goroutine; a slow handle slows
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
	var kind string // the event's type; "" is a record
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0: // end of an event
			typ := kind
			kind = ""
			if event.Len() == 0 {
				continue
			}
			rec := bytes.Clone(event.Bytes())
			event.Reset()
			switch typ {
			case "", "record":
			case "error":
				return liveError(feed, rec)
			default:
				continue
			}
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
		case bytes.HasPrefix(line, []byte("event:")):
			kind = string(bytes.TrimSpace(bytes.TrimPrefix(line, []byte("event:"))))
		default:
			// comments (":" keep-alives), id: and retry: lines
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

// liveError is the error of an "event: error" whose data is the API's
// error body (or, from a server of another kind, any text).
func liveError(feed string, data []byte) error {
	var body wire.ErrorBody
	if err := json.Unmarshal(data, &body); err != nil || body.Error == "" {
		return fmt.Errorf("%w: live tail of %s: %.200q", ErrLiveError, feed, data)
	}
	if body.Hint != "" {
		return fmt.Errorf("%w: live tail of %s: %s (%s)", ErrLiveError, feed, body.Error, body.Hint)
	}
	return fmt.Errorf("%w: live tail of %s: %s", ErrLiveError, feed, body.Error)
}
