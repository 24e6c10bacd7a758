package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/plugins/grafana/pkg/apiclient"
)

// streamPrefix starts the Grafana Live path of a feed's stream.
const streamPrefix = "feed/"

// StreamPath is the Grafana Live path of a feed's live stream; the channel
// is ds/<datasource uid>/feed/<feed>.
func StreamPath(feed string) string { return streamPrefix + feed }

// Stream tuning, exported for tests.
var (
	// FlushEvery is how often buffered live records are sent to Grafana as
	// one frame.
	FlushEvery = 250 * time.Millisecond
	// ReconnectMin and ReconnectMax bound the backoff between attempts to
	// reconnect to the API's live tail; it doubles after each failure and
	// resets once records flow.
	ReconnectMin = 500 * time.Millisecond
	ReconnectMax = 30 * time.Second
)

// SubscribeStream allows a subscription to feed/<name> when the department
// may read the feed.
func (d *Datasource) SubscribeStream(ctx context.Context, req *backend.SubscribeStreamRequest) (*backend.SubscribeStreamResponse, error) {
	name, ok := strings.CutPrefix(req.Path, streamPrefix)
	if !ok || name == "" {
		return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusNotFound}, nil
	}
	if _, err := d.feed(ctx, name); err != nil {
		var ae *apiclient.Error
		switch {
		case errors.As(err, &ae) && ae.AuthError():
			return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusPermissionDenied}, nil
		case errors.As(err, &ae) && ae.Status == 404:
			return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusNotFound}, nil
		}
		return nil, fmt.Errorf("subscribing to %s: %w", req.Path, err)
	}
	return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusOK}, nil
}

// PublishStream refuses: panels read feeds, they never write to them.
func (d *Datasource) PublishStream(context.Context, *backend.PublishStreamRequest) (*backend.PublishStreamResponse, error) {
	return &backend.PublishStreamResponse{Status: backend.PublishStreamStatusPermissionDenied}, nil
}

// RunStream follows a feed's live tail and sends its records to Grafana
// Live in frames, one every FlushEvery while records arrive. Records wait
// in a buffer of Settings.LiveBuffer; when Grafana is slower than the feed
// the oldest are dropped (and counted in the log), so a stream never grows
// without bound. When the tail breaks it reconnects with backoff until
// Grafana ends the stream (ctx done).
func (d *Datasource) RunStream(ctx context.Context, req *backend.RunStreamRequest, sender *backend.StreamSender) error {
	name, ok := strings.CutPrefix(req.Path, streamPrefix)
	if !ok {
		return fmt.Errorf("unknown stream path %q", req.Path)
	}
	api, err := d.api()
	if err != nil {
		return err
	}
	feed, err := d.feed(ctx, name)
	if err != nil {
		return err
	}
	buf := newRecordBuffer(d.settings.LiveBuffer)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// A failed send means Grafana went away: stop following the tail too.
	flushErr := make(chan error, 1)
	go func() {
		flushErr <- d.flushLoop(ctx, feed, buf, sender)
		cancel()
	}()

	backoff := ReconnectMin
	for {
		got := false
		err := api.Live(ctx, feed.Name, func(rec json.RawMessage) error {
			got = true
			buf.push(rec)
			return nil
		})
		if ctx.Err() != nil {
			select {
			case err := <-flushErr:
				if err != nil && !errors.Is(err, context.Canceled) {
					return err
				}
			default:
			}
			return nil
		}
		if got {
			backoff = ReconnectMin
		}
		var ae *apiclient.Error
		if errors.As(err, &ae) && ae.AuthError() {
			return fmt.Errorf("live tail of %s: %w", feed.Name, err)
		}
		d.log.Warn("live tail interrupted; reconnecting", "feed", feed.Name, "error", err, "backoff", backoff)
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return nil
		case err := <-flushErr:
			return err
		case <-time.After(wait):
		}
		backoff = min(backoff*2, ReconnectMax)
	}
}

// flushLoop sends what buf holds every FlushEvery, until ctx is done or
// sending fails (Grafana went away).
func (d *Datasource) flushLoop(ctx context.Context, feed *catalog.Feed, buf *recordBuffer, sender *backend.StreamSender) error {
	t := time.NewTicker(FlushEvery)
	defer t.Stop()
	b := NewRecordBuilder(feed)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		recs, dropped := buf.take()
		if dropped > 0 {
			d.log.Warn("live stream buffer full; dropped the oldest records", "feed", feed.Name, "dropped", dropped)
		}
		if len(recs) == 0 {
			continue
		}
		for _, r := range recs {
			if err := b.Append(r); err != nil {
				d.log.Warn("skipping a live record that does not fit the feed", "feed", feed.Name, "error", err)
			}
		}
		if err := sender.SendFrame(b.Frame(), data.IncludeAll); err != nil {
			return fmt.Errorf("sending live frame of %s: %w", feed.Name, err)
		}
	}
}

// recordBuffer is a bounded FIFO of records that drops the oldest when full.
type recordBuffer struct {
	mu      sync.Mutex
	recs    []json.RawMessage
	max     int
	dropped int
}

func newRecordBuffer(max int) *recordBuffer { return &recordBuffer{max: max} }

func (b *recordBuffer) push(r json.RawMessage) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.recs) >= b.max {
		n := len(b.recs) - b.max + 1
		b.recs = append(b.recs[:0], b.recs[n:]...)
		b.dropped += n
	}
	b.recs = append(b.recs, r)
}

// take empties the buffer and returns its records and how many were
// dropped since the last take.
func (b *recordBuffer) take() ([]json.RawMessage, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	recs, dropped := b.recs, b.dropped
	b.recs, b.dropped = nil, 0
	return recs, dropped
}

// RecordBuilder turns JSON records of a feed into frames whose fields
// follow the feed's spec: the event time first, then the other fields in
// spec order, all nullable. Every frame it makes has the same schema, as
// Grafana Live needs to append them.
type RecordBuilder struct {
	feed   *catalog.Feed
	order  []*catalog.Field
	frame  *data.Frame
	fields []*data.Field
}

// NewRecordBuilder returns a builder for feed's records.
func NewRecordBuilder(feed *catalog.Feed) *RecordBuilder {
	b := &RecordBuilder{feed: feed}
	if ev := feed.Field(feed.EventTime); ev != nil {
		b.order = append(b.order, ev)
	}
	for i := range feed.Fields {
		if feed.Fields[i].Name != feed.EventTime {
			b.order = append(b.order, &feed.Fields[i])
		}
	}
	b.reset()
	return b
}

func (b *RecordBuilder) reset() {
	b.frame = data.NewFrame(b.feed.Name)
	b.fields = b.fields[:0]
	for _, f := range b.order {
		var fld *data.Field
		switch f.Type {
		case catalog.String:
			fld = data.NewField(f.Name, nil, []*string{})
		case catalog.Int64:
			fld = data.NewField(f.Name, nil, []*int64{})
		case catalog.Float64:
			fld = data.NewField(f.Name, nil, []*float64{})
		case catalog.Bool:
			fld = data.NewField(f.Name, nil, []*bool{})
		default:
			fld = data.NewField(f.Name, nil, []*time.Time{})
		}
		if f.Unit != "" {
			fld.SetConfig(&data.FieldConfig{Unit: grafanaUnit(f.Unit)})
		}
		b.fields = append(b.fields, fld)
	}
	b.frame.Fields = b.fields
}

// Append adds one JSON record. A record that is not an object, or whose
// value does not fit its field's type, is refused whole.
func (b *RecordBuilder) Append(rec json.RawMessage) error {
	dec := json.NewDecoder(bytes.NewReader(rec))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("record is not a JSON object: %w", err)
	}
	vals := make([]any, len(b.order))
	for i, f := range b.order {
		v, err := convert(f, m[f.Name])
		if err != nil {
			return fmt.Errorf("field %s: %w", f.Name, err)
		}
		vals[i] = v
	}
	for i, v := range vals {
		b.fields[i].Append(v)
	}
	return nil
}

// Frame returns the records appended since the last call as a frame.
func (b *RecordBuilder) Frame() *data.Frame {
	f := b.frame
	b.fields = nil
	b.reset()
	return f
}

// convert reads a JSON value as a field of the spec; nil stays null.
func convert(f *catalog.Field, v any) (any, error) {
	if v == nil {
		switch f.Type {
		case catalog.String:
			return (*string)(nil), nil
		case catalog.Int64:
			return (*int64)(nil), nil
		case catalog.Float64:
			return (*float64)(nil), nil
		case catalog.Bool:
			return (*bool)(nil), nil
		default:
			return (*time.Time)(nil), nil
		}
	}
	switch f.Type {
	case catalog.String:
		if s, ok := v.(string); ok {
			return &s, nil
		}
	case catalog.Int64:
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				return &i, nil
			}
		}
	case catalog.Float64:
		if n, ok := v.(json.Number); ok {
			if x, err := n.Float64(); err == nil {
				return &x, nil
			}
		}
	case catalog.Bool:
		if x, ok := v.(bool); ok {
			return &x, nil
		}
	case catalog.Time:
		switch x := v.(type) {
		case string:
			t, err := time.Parse(time.RFC3339Nano, x)
			if err == nil {
				t = t.UTC()
				return &t, nil
			}
		case json.Number:
			if ms, err := x.Int64(); err == nil {
				t := time.UnixMilli(ms).UTC()
				return &t, nil
			}
		}
	}
	return nil, fmt.Errorf("%v is not a %s", v, f.Type)
}

// grafanaUnit maps a spec's unit to Grafana's unit id where one exists.
func grafanaUnit(u string) string {
	switch u {
	case "C":
		return "celsius"
	case "km/h":
		return "velocitykmh"
	case "percent", "%":
		return "percent"
	case "mm":
		return "lengthmm"
	case "ug/m3":
		return "conµgm3"
	}
	return u
}
