package store

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// AuditTable is the default name of the audit log's table. The table is
// in the restricted database (Layout.AuditDatabase): it holds callers' SQL
// and the names of the restricted tables they read, so ClickHouse refuses
// it to the users that may read open data only. Users' SQL names it
// Layout.AuditTable(AuditTable), <database>_restricted.highway_audit.
const AuditTable = "highway_audit"

// AuditEntry is one thing someone did through the API: who (department and
// token, or the client address for open data), what (action, route, feed,
// the SQL), and how it went.
type AuditEntry struct {
	At time.Time
	// Department and TokenID say who; both are empty for open data.
	Department string
	TokenID    string
	// Client is the caller's address.
	Client string
	// Action is query, push, download or live.
	Action string
	Route  string
	// Feed is the feed concerned, if any.
	Feed string
	// Detail is the SQL of a query or the parameters of a download.
	Detail   string
	Status   int
	Rows     uint64
	Bytes    uint64
	Duration time.Duration
	Error    string
	// Link is the entry's place in the hash chain (see AuditLink). The
	// audit log fills it in; callers of Record leave it empty.
	Link AuditLink
}

// AuditConfig configures the audit log.
type AuditConfig struct {
	// Table receives the entries; it is in the restricted database.
	// Default AuditTable.
	Table string
	// Buffer is how many entries may wait to be written. Default 10000.
	// When it is full, Record waits up to BlockFor, then drops the entry
	// and counts it in Dropped.
	Buffer int
	// BlockFor bounds how long Record waits for room. Default 100ms.
	BlockFor time.Duration
	// FlushEvery is how often entries are written. Default 1s.
	FlushEvery time.Duration
	// Logger. Default slog.Default().
	Logger *slog.Logger
	// Server names this server in the chain names (AuditLink.Chain).
	// Default: the host name.
	Server string
	// Signer, if set, signs the last entry of every batch written (see
	// AuditLink); VerifyAudit checks the signatures with its public key.
	Signer ed25519.PrivateKey
}

// AuditLog writes AuditEntries to a ClickHouse table in batches, off the
// request path. It is safe for concurrent use; Close writes what is left.
type AuditLog struct {
	s       *Store
	cfg     AuditConfig
	ch      chan AuditEntry
	done    chan struct{}
	mu      sync.Mutex
	dropped uint64
	failed  uint64
	// closing guards ch: Record holds it for reading while it sends, Close
	// for writing while it closes ch.
	closing sync.RWMutex
	closed  bool
	chain   chainer
}

// auditColumns are the audit table's columns in order.
var auditColumns = []column{
	{"at", "DateTime"},
	{"at_ms", "UInt64"},
	{"department", "String"},
	{"token_id", "String"},
	{"client", "String"},
	{"action", "String"},
	{"route", "String"},
	{"feed", "String"},
	{"detail", "String"},
	{"status", "UInt16"},
	{"rows", "UInt64"},
	{"bytes", "UInt64"},
	{"duration_ms", "UInt32"},
	{"error", "String"},
}

// DefaultAuditServer names a server in the audit log's chains when it is
// not given a name: its host name and the port of addr, the address it
// listens on (if addr has one), so that two servers on one host keep
// chains of their own.
func DefaultAuditServer(addr string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "highway"
	}
	if _, port, err := net.SplitHostPort(addr); err == nil && port != "" {
		return host + ":" + port
	}
	return host
}

// OpenAuditLog creates the audit table, and the restricted database that
// holds it, if they are missing, and starts the writer. An audit table that
// an earlier version of highway left in the open database is moved to the
// restricted one first, rows and all (as EnsureFeedTable moves feed
// tables); one in both databases is an error wrapping
// ErrTableInBothDatabases. See DDL.CreateAuditTable for the table.
func (s *Store) OpenAuditLog(ctx context.Context, cfg AuditConfig) (*AuditLog, error) {
	if cfg.Table == "" {
		cfg.Table = AuditTable
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 10000
	}
	if cfg.BlockFor <= 0 {
		cfg.BlockFor = 100 * time.Millisecond
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = s.log
	}
	if cfg.Server == "" {
		cfg.Server = DefaultAuditServer("")
	}
	cfg.Server = strings.ReplaceAll(cfg.Server, " ", "_") // chain names are read back with %s
	db := s.ddl.Layout().AuditDatabase()
	if err := s.placeTable(ctx, db, cfg.Table); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	if err := s.execAll(ctx, s.ddl.CreateAuditTable(cfg.Table)); err != nil {
		return nil, fmt.Errorf("creating audit table %s.%s: %w", db, cfg.Table, err)
	}
	if err := s.addMissingColumns(ctx, db, cfg.Table, auditChainColumns); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	a := &AuditLog{s: s, cfg: cfg, ch: make(chan AuditEntry, cfg.Buffer), done: make(chan struct{})}
	now := time.Now().UTC()
	a.chain = chainer{chain: cfg.Server + "@" + now.Format(time.RFC3339Nano)}
	if cfg.Signer != nil {
		a.chain.signer, a.chain.keyID = cfg.Signer, KeyID(cfg.Signer.Public().(ed25519.PublicKey))
	}
	start := AuditEntry{At: now, Action: AuditActionStart, Detail: "first chain of server " + cfg.Server}
	prev, ok, err := a.lastLink(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	if ok {
		a.chain.prev = prev.Hash
		start.Detail = fmt.Sprintf(followsFormat, prev.Chain, prev.Seq)
	}
	a.ch <- start
	go a.run()
	return a, nil
}

// lastLink reads the link of the last entry of this server's chains.
func (a *AuditLog) lastLink(ctx context.Context) (AuditLink, bool, error) {
	q := fmt.Sprintf("SELECT chain, seq, hash FROM %s WHERE startsWith(chain, ?) ORDER BY at_ms DESC, seq DESC LIMIT 1",
		a.s.ddl.AuditTable(a.cfg.Table))
	rows, err := a.s.conn.Query(ctx, q, a.cfg.Server+"@")
	if err != nil {
		return AuditLink{}, false, fmt.Errorf("reading the last audit entry of server %s: %w", a.cfg.Server, err)
	}
	defer rows.Close()
	var l AuditLink
	if !rows.Next() {
		return l, false, rows.Err()
	}
	if err := rows.Scan(&l.Chain, &l.Seq, &l.Hash); err != nil {
		return l, false, fmt.Errorf("reading the last audit entry of server %s: %w", a.cfg.Server, err)
	}
	return l, true, rows.Err()
}

// Table is the audit table's name in its database, Database.
func (a *AuditLog) Table() string { return a.cfg.Table }

// Database is the database of the audit table: the restricted one.
func (a *AuditLog) Database() string { return a.s.ddl.Layout().AuditDatabase() }

// Record queues an entry. It waits at most AuditConfig.BlockFor for room,
// then drops the entry (counted by Dropped) rather than slow the API.
// After Close it drops every entry.
func (a *AuditLog) Record(e AuditEntry) {
	a.closing.RLock()
	defer a.closing.RUnlock()
	if a.closed {
		a.mu.Lock()
		a.dropped++
		a.mu.Unlock()
		return
	}
	select {
	case a.ch <- e:
		return
	default:
	}
	t := time.NewTimer(a.cfg.BlockFor)
	defer t.Stop()
	select {
	case a.ch <- e:
	case <-t.C:
		a.mu.Lock()
		a.dropped++
		a.mu.Unlock()
		a.cfg.Logger.Warn("audit log full: entry dropped", "action", e.Action, "department", e.Department)
	}
}

// Dropped returns how many entries were dropped because the buffer was full
// and how many were lost because ClickHouse refused their batch.
func (a *AuditLog) Dropped() (full, failed uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.dropped, a.failed
}

// Close stops accepting entries, writes the ones waiting and returns when
// they are written or ctx ends. Closing twice is harmless.
func (a *AuditLog) Close(ctx context.Context) error {
	a.closing.Lock()
	if !a.closed {
		a.closed = true
		a.ch <- AuditEntry{At: time.Now(), Action: AuditActionStop, Detail: "audit log closed"}
		close(a.ch)
	}
	a.closing.Unlock()
	select {
	case <-a.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("closing audit log: %w", ctx.Err())
	}
}

func (a *AuditLog) run() {
	defer close(a.done)
	tick := time.NewTicker(a.cfg.FlushEvery)
	defer tick.Stop()
	var batch []AuditEntry
	flush := func() {
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		a.chain.link(batch)
		err := a.insert(ctx, batch)
		cancel()
		if err == nil {
			a.chain.commit(batch)
		} else {
			a.mu.Lock()
			a.failed += uint64(len(batch))
			a.mu.Unlock()
			a.cfg.Logger.Error("writing audit entries failed", "entries", len(batch), "err", err)
		}
		batch = batch[:0]
	}
	for {
		select {
		case e, ok := <-a.ch:
			if !ok {
				flush()
				return
			}
			batch = append(batch, e)
			if len(batch) >= 1000 {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

func (a *AuditLog) insert(ctx context.Context, entries []AuditEntry) error {
	names := ""
	for i, c := range append(auditColumns[:len(auditColumns):len(auditColumns)], auditChainColumns...) {
		if i > 0 {
			names += ", "
		}
		names += quoteIdent(c.name)
	}
	b, err := a.s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s (%s)", a.s.ddl.AuditTable(a.cfg.Table), names))
	if err != nil {
		return fmt.Errorf("preparing audit insert: %w", err)
	}
	defer b.Abort()
	for _, e := range entries {
		e = storedAuditEntry(e)
		l := e.Link
		if err := b.Append(e.At, uint64(e.At.UnixMilli()), e.Department, e.TokenID, e.Client, e.Action, e.Route,
			e.Feed, e.Detail, uint16(e.Status), e.Rows, e.Bytes, uint32(e.Duration.Milliseconds()), e.Error,
			l.Chain, l.Seq, l.PrevHash, l.Hash, l.Signer, l.Signature); err != nil {
			return fmt.Errorf("appending audit entry: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("inserting %d audit entries: %w", len(entries), err)
	}
	return nil
}
