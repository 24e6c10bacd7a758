package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// liveHub shares one Kafka tail per feed among all the clients following
// it. The tail never waits for a client: each client has a buffer of
// LiveBuffer records, and a client whose buffer is full is dropped, so a
// slow client slows no one else.
type liveHub struct {
	tail    Tailer
	buffer  int
	log     *slog.Logger
	metrics *metrics

	mu     sync.Mutex
	feeds  map[string]*feedTail
	closed bool
}

type feedTail struct {
	subs   map[*liveSub]struct{}
	cancel context.CancelFunc
}

// liveSub is one client. ch closes when the client is dropped or the tail
// ends; err then says why.
type liveSub struct {
	ch   chan bus.Message
	once sync.Once
	err  error
}

func (s *liveSub) end(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.ch)
	})
}

var (
	errTooSlow   = errors.New("the client fell too far behind the feed and was dropped; reconnect to resume from now")
	errHubClosed = errors.New("the server is shutting down")
)

func newLiveHub(t Tailer, buffer int, log *slog.Logger, m *metrics) *liveHub {
	return &liveHub{tail: t, buffer: buffer, log: log, metrics: m, feeds: map[string]*feedTail{}}
}

// subscribe adds a client to feed's tail, starting the tail if it is the
// first.
func (h *liveHub) subscribe(feed *catalog.Feed) *liveSub {
	sub := &liveSub{ch: make(chan bus.Message, h.buffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		sub.end(errHubClosed)
		return sub
	}
	ft := h.feeds[feed.Name]
	if ft == nil {
		ctx, cancel := context.WithCancel(context.Background())
		ft = &feedTail{subs: map[*liveSub]struct{}{}, cancel: cancel}
		h.feeds[feed.Name] = ft
		go h.run(ctx, feed.Name, feed.Topic(), ft)
	}
	ft.subs[sub] = struct{}{}
	h.metrics.liveClients.Inc()
	return sub
}

// unsubscribe removes a client, stopping the tail after the last one.
func (h *liveHub) unsubscribe(name string, sub *liveSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ft := h.feeds[name]
	if ft == nil {
		return
	}
	if _, ok := ft.subs[sub]; !ok {
		return
	}
	delete(ft.subs, sub)
	h.metrics.liveClients.Dec()
	if len(ft.subs) == 0 {
		ft.cancel()
		delete(h.feeds, name)
	}
}

func (h *liveHub) run(ctx context.Context, name, topic string, ft *feedTail) {
	err := h.tail.Tail(ctx, topic, func(m bus.Message) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		for sub := range ft.subs {
			select {
			case sub.ch <- m:
			default:
				delete(ft.subs, sub)
				h.metrics.liveClients.Dec()
				h.metrics.liveDropped.Inc()
				sub.end(errTooSlow)
			}
		}
		return nil
	})
	if err == nil && ctx.Err() != nil {
		return
	}
	if err == nil {
		err = errors.New("the tail ended")
	}
	h.log.Warn("live tail ended", "feed", name, "err", err)
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range ft.subs {
		h.metrics.liveClients.Dec()
		sub.end(fmt.Errorf("the feed's tail failed: %w", err))
	}
	ft.subs = map[*liveSub]struct{}{}
	if h.feeds[name] == ft {
		delete(h.feeds, name)
	}
}

func (h *liveHub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for name, ft := range h.feeds {
		ft.cancel()
		for sub := range ft.subs {
			h.metrics.liveClients.Dec()
			sub.end(errHubClosed)
		}
		delete(h.feeds, name)
	}
}

// liveHeartbeat is how often an idle stream gets a comment line, so
// proxies keep it open and dead clients are noticed.
const liveHeartbeat = 15 * time.Second

// liveWriteTimeout bounds one write to a client; a client that does not
// read for that long is dropped.
const liveWriteTimeout = 10 * time.Second

// live streams a feed's new records as Server-Sent Events: "event: record"
// with the record's JSON as data and "partition-offset" as id. When the
// client is dropped or the tail fails, a last "event: error" says why.
func (s *Server) live(w http.ResponseWriter, r *http.Request, who *principal) {
	f := s.acl().feed(who.dept, r.PathValue("feed"))
	if f == nil {
		feedNotFound(w, r.PathValue("feed"))
		return
	}
	if s.cfg.Tail == nil {
		writeError(w, http.StatusServiceUnavailable, "live tails are not available: this server has no Kafka", "start highway serve with --kafka")
		return
	}
	var personal []string // removed from each record for all but the owner
	if f.Department != who.dept.Name {
		personal = personalNames(f)
	}
	rc := http.NewResponseController(w)
	start := time.Now()
	sub := s.hub.subscribe(f)
	defer s.hub.unsubscribe(f.Name, sub)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	var sent uint64
	defer func() {
		s.audit(store.AuditEntry{At: s.cfg.Now(), Department: who.dept.Name, TokenID: who.token.ID, Client: s.clientAddr(r),
			Action: "live", Route: "GET /api/v1/feeds/{feed}/live", Feed: f.Name, Status: http.StatusOK, Rows: sent, Duration: time.Since(start)})
	}()
	write := func(format string, args ...any) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(liveWriteTimeout))
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write(": following %s from now\n\n", f.Name) {
		return
	}
	beat := time.NewTicker(liveHeartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-beat.C:
			if !write(": heartbeat\n\n") {
				return
			}
		case m, ok := <-sub.ch:
			if !ok {
				msg, _ := json.Marshal(errorBody{Error: sub.err.Error(), Hint: "reconnect to follow the feed again"})
				write("event: error\ndata: %s\n\n", msg)
				return
			}
			if !write("id: %d-%d\nevent: record\ndata: %s\n\n", m.Partition, m.Offset, withoutFields(m.Value, personal)) {
				return
			}
			sent++
		}
	}
}

// withoutFields returns a record as one line of JSON without the fields
// named (compared case-insensitively, every copy of a repeated key). A
// record that is not a JSON object cannot be shown without them and is
// replaced by a note.
func withoutFields(v []byte, names []string) []byte {
	if len(names) == 0 {
		return oneLine(v)
	}
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(v, &rec); err != nil {
		return []byte(`"record withheld: it is not a JSON object, so its personal fields cannot be taken out"`)
	}
	for k := range rec {
		for _, n := range names {
			if strings.EqualFold(k, n) {
				delete(rec, k)
			}
		}
	}
	out, err := json.Marshal(rec)
	if err != nil {
		return []byte(`"record withheld: it could not be encoded again"`)
	}
	return out
}

// oneLine returns a record as one line of JSON, as an SSE data line needs;
// a value that is not JSON is sent as a JSON string.
func oneLine(v []byte) []byte {
	var b bytes.Buffer
	if json.Compact(&b, v) == nil {
		return b.Bytes()
	}
	s, _ := json.Marshal(string(v))
	return s
}
