package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/cityhighway/highway/highway/store"
)

// HeaderIdempotencyKey makes a push safe to retry: the same key with the
// same request (feed and body) within IdempotencyWindow, from the same
// department, answers with the first response and writes nothing again.
const HeaderIdempotencyKey = "Idempotency-Key"

// HeaderIdempotentReplayed is set to "true" on a response that is the
// replay of an earlier push with the same Idempotency-Key.
const HeaderIdempotentReplayed = "Idempotent-Replayed"

// IdempotencyWindow is how long a push's Idempotency-Key is remembered.
const IdempotencyWindow = 24 * time.Hour

// maxIdempotencyKey is the longest Idempotency-Key accepted, in bytes.
const maxIdempotencyKey = 255

// PushKeys keeps push idempotency keys where every API server sees them:
// *store.PushKeys. PutPushKey's rows must be visible to PushKeys once it
// returns, and PushKeys returns a key's rows of the last window oldest
// first, with At taken from one clock for all API servers.
type PushKeys interface {
	PutPushKey(ctx context.Context, k store.PushKey) error
	PushKeys(ctx context.Context, department, key string, window time.Duration) ([]store.PushKey, error)
}

// idempotency decides, for a push with an Idempotency-Key, whether it runs,
// replays an earlier response, or is refused.
//
// # How API servers agree
//
// Keys live in ClickHouse (PushKeys), which has no transactions, so a
// request claims a key by adding a claim row, waits settle, and reads the
// key's rows back: the oldest live claim, by ClickHouse's own clock (At)
// and then claim id, runs; the others wait for its outcome. Two claims
// whose inserts overlap see each other; a claim that did not see another
// was inserted at least settle after it, so its At is later (At has whole
// seconds, hence settle ≥ 1 s + the longest insert). A request that runs
// adds a done row with its response (any status below 500 but 429) or, when
// it failed before writing anything a retry must not repeat, a released
// row, after which the next claim runs. A claim with no outcome after
// inFlight (its server died) no longer holds the key: a retry then runs
// again, and records produced by the dead request may be produced twice.
// In one process a lock per key serializes requests before any of this,
// and a cache of done responses answers replays without ClickHouse.
type idempotency struct {
	keys     PushKeys
	settle   time.Duration
	wait     time.Duration // how long a request waits for another one's outcome before 409
	inFlight time.Duration
	poll     time.Duration
	now      func() time.Time
	log      *slog.Logger

	mu    sync.Mutex
	locks map[string]*keyLock
	done  map[string]doneResponse
}

// keyLock is a lock per key that a waiter can give up on.
type keyLock struct {
	ch   chan struct{}
	refs int
}

// doneResponse is a cached done row.
type doneResponse struct {
	hash   string
	status int
	body   []byte
	at     time.Time
}

// maxCachedResponses bounds the cache of done responses; past it, expired
// ones are dropped, then new ones are not cached (ClickHouse still has them).
const maxCachedResponses = 10000

func newIdempotency(keys PushKeys, settle, wait time.Duration, now func() time.Time, log *slog.Logger) *idempotency {
	return &idempotency{keys: keys, settle: settle, wait: wait, inFlight: 2 * time.Minute, poll: 200 * time.Millisecond,
		now: now, log: log, locks: map[string]*keyLock{}, done: map[string]doneResponse{}}
}

// pushHash identifies a push request for its key: the feed and the body,
// byte for byte.
func pushHash(feed string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(feed))
	h.Write([]byte{0})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// checkIdempotencyKey says what is wrong with a key, or "".
func checkIdempotencyKey(key string) string {
	if len(key) == 0 || len(key) > maxIdempotencyKey {
		return fmt.Sprintf("the %s header is %d bytes long; it must be 1 to %d", HeaderIdempotencyKey, len(key), maxIdempotencyKey)
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return fmt.Sprintf("the %s header has a byte 0x%02x at %d; use visible ASCII only (a UUID is a good key)", HeaderIdempotencyKey, key[i], i)
		}
	}
	return ""
}

// answer is a response decided without running the push: a replay or a
// refusal.
type answer struct {
	status   int
	body     []byte // a replay's body
	replayed bool
	msg      string // a refusal's error and hint
	hint     string
}

// outcome labels the answer in highway_api_push_idempotency_total.
func (a *answer) outcome() string {
	switch {
	case a.replayed:
		return "replayed"
	case a.status == http.StatusUnprocessableEntity:
		return "conflict"
	default:
		return "in_flight"
	}
}

// write sends the answer.
func (a *answer) write(w http.ResponseWriter) {
	if !a.replayed {
		writeError(w, a.status, a.msg, a.hint)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(HeaderIdempotentReplayed, "true")
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// ticket is a push that holds its key and must run; finish records its
// outcome and lets the key go.
type ticket struct {
	idem       *idempotency
	department string
	key, hash  string
	claim      string
	unlock     func()
}

// begin decides the fate of a push with key and request hash. Exactly one
// of its results is non-nil: a ticket (run the push, then call finish), an
// answer (write it, run nothing) or an error (the keys could not be read or
// written; nothing was written).
func (d *idempotency) begin(ctx context.Context, department, key, hash string) (*ticket, *answer, error) {
	id := department + "\x00" + key
	unlock, err := d.lock(ctx, id)
	if err != nil {
		return nil, &answer{status: http.StatusConflict, msg: fmt.Sprintf("a push with %s %q is still being processed by this server", HeaderIdempotencyKey, key),
			hint: "wait for its response, or retry in a few seconds; its records are written once"}, nil
	}
	if a := d.cached(id, key, hash); a != nil {
		unlock()
		return nil, a, nil
	}
	deadline := d.now().Add(d.wait)
	claim := ""
	for {
		rows, err := d.keys.PushKeys(ctx, department, key, IdempotencyWindow)
		if err != nil {
			unlock()
			return nil, nil, err
		}
		v := d.judge(rows, hash, claim)
		switch v.kind {
		case verdictReplay:
			d.remember(id, doneResponse{hash: hash, status: v.row.Status, body: v.row.Response, at: v.row.At})
			unlock()
			return nil, &answer{status: v.row.Status, body: v.row.Response, replayed: true}, nil
		case verdictConflict:
			unlock()
			return nil, conflict(key, v.row), nil
		case verdictRun:
			return &ticket{idem: d, department: department, key: key, hash: hash, claim: claim, unlock: unlock}, nil, nil
		case verdictFree:
			if claim != "" {
				// Our own claim is not there: the table lost it, or it
				// shows inserts later than settle.
				d.release(department, key, hash, claim)
				unlock()
				return nil, nil, fmt.Errorf("the claim of %s %q is not in the keys' table %s after it was written", HeaderIdempotencyKey, key, d.settle)
			}
			// Claim the key, let concurrent claims land, and judge again.
			claim = newClaimID()
			if err := d.keys.PutPushKey(ctx, store.PushKey{Department: department, Key: key, BodyHash: hash, Claim: claim, State: store.PushKeyClaimed}); err != nil {
				unlock()
				return nil, nil, err
			}
			if !sleepCtx(ctx, d.settle) {
				d.release(department, key, hash, claim)
				unlock()
				return nil, nil, ctx.Err()
			}
			continue
		case verdictWait:
		}
		if d.now().After(deadline) || !sleepCtx(ctx, d.poll) {
			if claim != "" {
				d.release(department, key, hash, claim)
			}
			unlock()
			return nil, &answer{status: http.StatusConflict,
				msg:  fmt.Sprintf("a push with %s %q is still being processed (it began at %s)", HeaderIdempotencyKey, key, v.row.At.UTC().Format(time.RFC3339)),
				hint: "wait for its response, or retry in a few seconds with the same key and body; its records are written once"}, nil
		}
	}
}

// finish records the push's response: done (replayed from now on) for any
// status below 500 but 429, else released, so that a retry runs again.
func (t *ticket) finish(status int, body []byte) {
	defer t.unlock()
	d := t.idem
	if status >= 500 || status == http.StatusTooManyRequests || status == 0 {
		d.release(t.department, t.key, t.hash, t.claim)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	k := store.PushKey{Department: t.department, Key: t.key, BodyHash: t.hash, Claim: t.claim, State: store.PushKeyDone, Status: status, Response: body}
	if err := d.keys.PutPushKey(ctx, k); err != nil {
		// The claim stays live for inFlight: retries wait, then 409, until it expires.
		d.log.Error("push idempotency: recording the response failed; retries with this key get 409 until the claim expires, then run again",
			"department", t.department, "key", t.key, "expires_in", d.inFlight, "err", err)
		return
	}
	d.remember(t.department+"\x00"+t.key, doneResponse{hash: t.hash, status: status, body: bytes.Clone(body), at: d.now()})
}

// release gives up a claim (best effort: an unreleased claim expires after
// inFlight).
func (d *idempotency) release(department, key, hash, claim string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.keys.PutPushKey(ctx, store.PushKey{Department: department, Key: key, BodyHash: hash, Claim: claim, State: store.PushKeyReleased}); err != nil {
		d.log.Warn("push idempotency: releasing a claim failed; it expires by itself", "department", department, "key", key, "expires_in", d.inFlight, "err", err)
	}
}

// conflict is the 422 for a key used with another request.
func conflict(key string, first store.PushKey) *answer {
	return &answer{status: http.StatusUnprocessableEntity,
		msg: fmt.Sprintf("%s %q was already used at %s for a different request (another body or feed); a key stands for one request for %s",
			HeaderIdempotencyKey, key, first.At.UTC().Format(time.RFC3339), IdempotencyWindow),
		hint: "send a new key with new records; to retry the first request, send exactly the same body to the same feed with this key"}
}

// verdictKind is what the rows of a key say about a request.
type verdictKind int

const (
	verdictFree     verdictKind = iota // no live claim and no response: claim it
	verdictRun                         // this request's claim is the oldest live one: run
	verdictWait                        // another request with the same body holds the key
	verdictReplay                      // a response is recorded for the same request
	verdictConflict                    // the key is held or was used by another request
)

type verdict struct {
	kind verdictKind
	row  store.PushKey // the row the verdict rests on
}

// judge reads a key's rows, oldest first, for a request with hash that
// holds claim ("" before it claims).
func (d *idempotency) judge(rows []store.PushKey, hash, claim string) verdict {
	ended := map[string]bool{}
	for _, r := range rows {
		if r.State == store.PushKeyDone {
			if r.BodyHash != hash {
				return verdict{verdictConflict, r}
			}
			return verdict{verdictReplay, r}
		}
		if r.State == store.PushKeyReleased {
			ended[r.Claim] = true
		}
	}
	now := d.now()
	for _, r := range rows {
		if r.State != store.PushKeyClaimed || ended[r.Claim] || now.Sub(r.At) > d.inFlight {
			continue
		}
		switch {
		case r.BodyHash != hash:
			return verdict{verdictConflict, r}
		case r.Claim == claim:
			return verdict{verdictRun, r}
		default:
			return verdict{verdictWait, r}
		}
	}
	return verdict{kind: verdictFree}
}

// lock takes id's in-process lock, or gives up after d.wait or when ctx
// ends. It returns the unlock function.
func (d *idempotency) lock(ctx context.Context, id string) (func(), error) {
	d.mu.Lock()
	l := d.locks[id]
	if l == nil {
		l = &keyLock{ch: make(chan struct{}, 1)}
		d.locks[id] = l
	}
	l.refs++
	d.mu.Unlock()
	unref := func() {
		d.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(d.locks, id)
		}
		d.mu.Unlock()
	}
	t := time.NewTimer(d.wait)
	defer t.Stop()
	select {
	case l.ch <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-l.ch; unref() }) }, nil
	case <-t.C:
		unref()
		return nil, fmt.Errorf("key %q: still held after %s", id, d.wait)
	case <-ctx.Done():
		unref()
		return nil, ctx.Err()
	}
}

// cached answers from the cache of done responses, or returns nil.
func (d *idempotency) cached(id, key, hash string) *answer {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.done[id]
	if !ok || d.now().Sub(c.at) > IdempotencyWindow {
		return nil
	}
	if c.hash != hash {
		return conflict(key, store.PushKey{At: c.at})
	}
	return &answer{status: c.status, body: c.body, replayed: true}
}

// remember caches a done response.
func (d *idempotency) remember(id string, c doneResponse) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.done) >= maxCachedResponses {
		now := d.now()
		for k, v := range d.done {
			if now.Sub(v.at) > IdempotencyWindow {
				delete(d.done, k)
			}
		}
		if len(d.done) >= maxCachedResponses {
			return
		}
	}
	d.done[id] = c
}

// newClaimID is a random claim id.
func newClaimID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sleepCtx waits d or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
