// Package poll is the runtime of the polling connectors: it fetches a
// source's payload at the source's cadence with conditional GETs, skips
// payloads it has seen (by ETag, Last-Modified or content hash), parses them
// with the source's parser, checks every record against its feed's spec,
// drops records already published (by key and event time, across polls and
// restarts), and produces the rest to the feeds' topics — rejects to the
// feeds' dead-letter topics with their reasons. Errors back off
// exponentially with jitter. State lives in one small JSON file per source.
package poll

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/cityhighway/highway/connectors/connector"
	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/envelope"
	"github.com/cityhighway/highway/highway/record"
)

// Parser turns one payload, fetched at the given time, into records and
// rejects, or fails for the payload as a whole.
type Parser func(payload []byte, fetched time.Time) (connector.Result, error)

// Source is one endpoint polled for one or more feeds.
type Source struct {
	// Name identifies the source in logs, metrics and its state file.
	Name string
	URL  string
	// Interval is how often the source publishes; the poller polls that often.
	Interval time.Duration
	// Feeds are the feeds the parser makes records of.
	Feeds []string
	Parse Parser
}

// Producer is where records go: *bus.Producer.
type Producer interface {
	Produce(ctx context.Context, msgs ...bus.Message) error
}

// Config configures a Poller.
type Config struct {
	Catalog *catalog.Catalog
	// StateDir holds one state file per source; empty keeps state in memory
	// only (a restart then re-publishes the latest payload once).
	StateDir string
	// Client fetches; default one with a 30s timeout.
	Client *http.Client
	// MaxBackoff caps the wait after consecutive errors. Default the
	// source's interval, at least 10s.
	MaxBackoff time.Duration
	// MaxBody bounds a payload. Default 64 MiB.
	MaxBody int64
	Logger  *slog.Logger
	Metrics *Metrics
	// Now is the clock, for tests. Default time.Now.
	Now func() time.Time
}

// Poller runs sources.
type Poller struct {
	cfg Config
	out Producer
}

// New returns a Poller that produces to out.
func New(cfg Config, out Producer) *Poller {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 64 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Poller{cfg: cfg, out: out}
}

// Outcome is what one poll did.
type Outcome struct {
	// Status is "new", "not_modified" (304) or "unchanged" (same content).
	Status    string
	Records   int // produced
	Repeated  int // dropped: already published
	Rejects   int // sent to dead-letter topics
	FetchedAt time.Time
}

// ErrFetch wraps failures to fetch or read a payload; ErrPayload, payloads
// the parser cannot read at all. Both are retried with backoff.
var (
	ErrFetch   = errors.New("fetch failed")
	ErrPayload = errors.New("payload unreadable")
)

// Run polls src until ctx ends: at once, then every interval, backing off
// after errors.
func (p *Poller) Run(ctx context.Context, src Source) error {
	st, err := loadState(p.cfg.StateDir, src.Name)
	if err != nil {
		return err
	}
	log := p.cfg.Logger.With("source", src.Name)
	failures := 0
	for {
		out, err := p.poll(ctx, src, st)
		wait := src.Interval
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			failures++
			wait = p.backoff(src, failures)
			log.Warn("poll failed; backing off", "url", src.URL, "attempt", failures, "wait", wait.Round(time.Millisecond), "err", err)
		} else {
			failures = 0
			log.Debug("polled", "status", out.Status, "records", out.Records, "repeated", out.Repeated, "rejects", out.Rejects)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// backoff is exponential from 1s, capped, with full jitter.
func (p *Poller) backoff(src Source, failures int) time.Duration {
	ceiling := p.cfg.MaxBackoff
	if ceiling <= 0 {
		ceiling = max(src.Interval, 10*time.Second)
	}
	d := time.Second << min(failures-1, 20)
	d = min(d, ceiling)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// Poll polls src once with the state kept in StateDir.
func (p *Poller) Poll(ctx context.Context, src Source) (Outcome, error) {
	st, err := loadState(p.cfg.StateDir, src.Name)
	if err != nil {
		return Outcome{}, err
	}
	return p.poll(ctx, src, st)
}

func (p *Poller) poll(ctx context.Context, src Source, st *state) (Outcome, error) {
	m := p.cfg.Metrics
	m.poll(src.Name)
	out, err := p.fetchAndPublish(ctx, src, st)
	if err != nil {
		m.failed(src.Name)
		return out, err
	}
	m.succeeded(src.Name, out, p.cfg.Now())
	return out, nil
}

func (p *Poller) fetchAndPublish(ctx context.Context, src Source, st *state) (Outcome, error) {
	out := Outcome{FetchedAt: p.cfg.Now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.URL, nil)
	if err != nil {
		return out, fmt.Errorf("%w: %s: %v", ErrFetch, src.URL, err)
	}
	if st.ETag != "" {
		req.Header.Set("If-None-Match", st.ETag)
	}
	if st.LastModified != "" {
		req.Header.Set("If-Modified-Since", st.LastModified)
	}
	resp, err := p.cfg.Client.Do(req)
	if err != nil {
		return out, fmt.Errorf("%w: %s: %v", ErrFetch, src.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		out.Status = "not_modified"
		return out, nil
	}
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return out, fmt.Errorf("%w: %s answered %s", ErrFetch, src.URL, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, p.cfg.MaxBody+1))
	if err != nil {
		return out, fmt.Errorf("%w: reading %s: %v", ErrFetch, src.URL, err)
	}
	if int64(len(body)) > p.cfg.MaxBody {
		return out, fmt.Errorf("%w: %s is larger than %d bytes", ErrFetch, src.URL, p.cfg.MaxBody)
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	etag := resp.Header.Get("ETag")
	lastMod := resp.Header.Get("Last-Modified")
	if hash == st.Hash {
		st.ETag, st.LastModified = etag, lastMod
		out.Status = "unchanged"
		return out, st.save()
	}
	res, err := src.Parse(body, out.FetchedAt)
	if err != nil {
		return out, fmt.Errorf("%w: %s: %v", ErrPayload, src.URL, err)
	}
	msgs, events, rejects, repeated, latest, err := p.messages(src, res, out.FetchedAt, firstOf(etag, lastMod), st)
	if err != nil {
		return out, err
	}
	all := append(msgs, rejects...)
	if err := p.out.Produce(ctx, all...); err != nil {
		// Kafka has the records the error does not name: remember them as
		// published, so the next poll of this payload sends only the rest
		// and a department's record stays one record.
		if written := writtenOf(msgs, all, err); len(written) > 0 {
			st.merge(latestOf(p.cfg.Catalog, msgs, events, written))
			if serr := st.save(); serr != nil {
				p.cfg.Logger.Warn("saving what a partly failed produce wrote", "source", src.Name, "err", serr)
			}
		}
		return out, fmt.Errorf("%w: producing %d records of %s: %w", ErrFetch, len(msgs), src.Name, err)
	}
	// Only once Kafka has the records is the payload known to be published.
	st.ETag, st.LastModified, st.Hash = etag, lastMod, hash
	st.merge(latest)
	out.Status, out.Records, out.Rejects, out.Repeated = "new", len(msgs), len(rejects), repeated
	return out, st.save()
}

// writtenOf returns the indexes of the records among msgs (the first of
// all, the messages of one Produce call) that Kafka has although the call
// failed with err: none unless err says which failed (a *bus.ProduceError).
func writtenOf(msgs, all []bus.Message, err error) []int {
	var perr *bus.ProduceError
	if !errors.As(err, &perr) || perr.Total != len(all) {
		return nil
	}
	failed := make(map[int]bool, len(perr.Failed))
	for _, i := range perr.Failed {
		failed[i] = true
	}
	var out []int
	for i := range msgs {
		if !failed[i] {
			out = append(out, i)
		}
	}
	return out
}

// latestOf is the latest event time per feed and key among the records
// msgs[i] of written, events[i] being their event times, in the form
// state.merge takes.
func latestOf(cat *catalog.Catalog, msgs []bus.Message, events []int64, written []int) map[string]map[string]int64 {
	latest := map[string]map[string]int64{}
	for _, i := range written {
		m := msgs[i]
		f := cat.Feed(m.Topic)
		if f == nil {
			continue
		}
		if latest[f.Name] == nil {
			latest[f.Name] = map[string]int64{}
		}
		latest[f.Name][string(m.Key)] = max(latest[f.Name][string(m.Key)], events[i])
	}
	return latest
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// messages checks the parser's records against their specs, drops those
// already published, and builds the Kafka messages: records to their
// feeds' topics (events: each one's event time, Unix milliseconds),
// rejects to the dead-letter topics.
//
// A record was published already when its event time is no later than the
// latest published for its feed and key (the parser's key) by an earlier
// poll (the source's snapshot still shows it), or when a record of the same
// identity (record.Identity: key fields and event second) came earlier in
// this payload. The validator's decoder hands back both; nothing parses a
// record twice.
func (p *Poller) messages(src Source, res connector.Result, fetched time.Time, etag string, st *state) (msgs []bus.Message, events []int64, rejects []bus.Message, repeated int, latest map[string]map[string]int64, err error) {
	var feeds []*catalog.Feed
	for _, name := range src.Feeds {
		f := p.cfg.Catalog.Feed(name)
		if f == nil {
			return nil, nil, nil, 0, nil, fmt.Errorf("source %s makes records of feed %s, which is not in the catalogue", src.Name, name)
		}
		feeds = append(feeds, f)
	}
	v := connector.NewValidator(feeds...)
	defer v.Release()
	checked, res := v.CheckDecoded(res)
	latest = map[string]map[string]int64{}
	type seen struct {
		feed string
		id   record.Identity
	}
	inPayload := map[seen]bool{}
	// The records of a feed share one envelope, so one header slice (the
	// producer only reads it).
	headers := map[string][]bus.Header{}
	for _, rec := range checked {
		f := p.cfg.Catalog.Feed(rec.Feed)
		at, id := rec.EventMillis, seen{rec.Feed, rec.Identity}
		if at <= st.latest(rec.Feed, rec.Key) || inPayload[id] {
			repeated++
			continue
		}
		inPayload[id] = true
		if latest[rec.Feed] == nil {
			latest[rec.Feed] = map[string]int64{}
		}
		latest[rec.Feed][rec.Key] = max(latest[rec.Feed][rec.Key], at)
		h, ok := headers[f.Name]
		if !ok {
			h = provenance(src.URL, etag, fetched, f.Version)
			headers[f.Name] = h
		}
		msgs = append(msgs, bus.Message{Topic: f.Topic(), Key: []byte(rec.Key), Value: rec.Value, Headers: h})
		events = append(events, at)
	}
	for _, rj := range res.Rejects {
		f := p.cfg.Catalog.Feed(rj.Feed)
		if f == nil {
			continue
		}
		m := bus.Message{Topic: f.Topic(), Offset: -1, Value: rj.Raw, Headers: provenance(src.URL, etag, fetched, f.Version)}
		reason := rj.Reason
		if rj.Where != "" {
			reason = rj.Where + ": " + reason
		}
		rejects = append(rejects, bus.DeadLetter(m, reason, fetched))
	}
	p.cfg.Metrics.rejected(src.Name, len(rejects))
	return msgs, events, rejects, repeated, latest, nil
}

// provenance is the envelope of the records of one payload: JSON, and
// where and when they were fetched, for which version of the feed.
func provenance(url, etag string, fetched time.Time, version int) []bus.Header {
	return bus.Headers(envelope.Envelope{ContentType: record.ContentTypeJSON,
		Provenance: envelope.Provenance{Source: url, ETag: etag, FetchedAt: fetched, SchemaVersion: version}})
}
