package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// PushKeyTable is the default name of the push idempotency keys' table, in
// the restricted database beside the audit log (it holds push responses,
// whose reasons quote the records' values).
const PushKeyTable = "highway_push_keys"

// PushKeyState is what a row of the push keys' table says about a request.
type PushKeyState uint8

// The states of a push key's rows. A request claims the key, then either
// completes it (with the response to replay) or releases it (it failed in a
// way a retry may repeat, and wrote nothing the retry must not repeat).
const (
	PushKeyClaimed   PushKeyState = 0
	PushKeyDone      PushKeyState = 1
	PushKeyReleased  PushKeyState = 2
	pushKeyStateLast              = PushKeyReleased
)

// PushKey is one row of the push keys' table. Rows are only ever added: a
// request's claim, then its outcome, share its Claim id.
type PushKey struct {
	Department string
	Key        string // the Idempotency-Key header
	BodyHash   string // hex SHA-256 of the request (feed and body)
	Claim      string // random id of the request that wrote the row
	State      PushKeyState
	// At is ClickHouse's own clock when the row was inserted (DEFAULT
	// now(), seconds), so that every API server orders claims by one clock;
	// it is ignored by PutPushKey.
	At       time.Time
	Status   int    // the response's status (done rows)
	Response []byte // the response's body (done rows)
}

// pushKeyColumns are the table's columns in order; at is filled by the
// server.
var pushKeyColumns = []column{
	{"department", "String"},
	{"key", "String"},
	{"body_hash", "String"},
	{"claim", "String"},
	{"state", "UInt8"},
	{"status", "UInt16"},
	{"response", "String"},
	{"at", "DateTime DEFAULT now()"},
}

// PushKeyTableName returns the quoted database.table of the push keys'
// table called table, in the restricted database.
func (d DDL) PushKeyTableName(table string) string {
	return quoteIdent(d.Layout().AuditDatabase()) + "." + quoteIdent(table)
}

// CreatePushKeyTable returns the statements that create the push keys'
// table if it is missing: MergeTree by day, ordered by department, key and
// time. Keys count for 24 hours. ClickHouse 18.16 has no TTL, so there the
// rows stay and readers filter by time (PushKeys.PushKeys); a server that
// has TTL (19.6 and later) drops them after two days. Old rows on 18.16 can
// be dropped a day at a time: ALTER TABLE … DROP PARTITION YYYYMMDD.
//
// In cluster mode a key's rows are on one shard (sharded by a hash of
// department and key).
func (d DDL) CreatePushKeyTable(table string) []string {
	t := tableSpec{db: d.Layout().AuditDatabase(), name: table, columns: pushKeyColumns, engine: "MergeTree",
		partition: "toYYYYMMDD(at)", order: "department, key, at", shardBy: "cityHash64(department, key)"}
	if d.Features().TTL {
		t.ttl = "at + toIntervalDay(2)"
	}
	return d.create(t)
}

// PushKeys keeps push idempotency keys in ClickHouse, so that every API
// server behind a load balancer sees the same keys. It is safe for
// concurrent use; it does no locking of its own (api orders claims by
// their At).
type PushKeys struct {
	s     *Store
	table string
}

// OpenPushKeys creates the push keys' table called table (PushKeyTable if
// empty), and the restricted database that holds it, if they are missing.
func (s *Store) OpenPushKeys(ctx context.Context, table string) (*PushKeys, error) {
	if table == "" {
		table = PushKeyTable
	}
	db := s.ddl.Layout().AuditDatabase()
	if err := s.placeTable(ctx, db, table); err != nil {
		return nil, fmt.Errorf("push keys: %w", err)
	}
	if err := s.execAll(ctx, s.ddl.CreatePushKeyTable(table)); err != nil {
		return nil, fmt.Errorf("creating the push keys' table %s.%s: %w", db, table, err)
	}
	return &PushKeys{s: s, table: table}, nil
}

// PutPushKey adds a row (its At is ClickHouse's clock at the insert). It
// returns once the row is visible to every reader.
func (p *PushKeys) PutPushKey(ctx context.Context, k PushKey) error {
	if k.State > pushKeyStateLast {
		return fmt.Errorf("push key %q: unknown state %d", k.Key, k.State)
	}
	if k.Status < 0 || k.Status >= 1<<16 {
		return fmt.Errorf("push key %q: status %d out of range", k.Key, k.Status)
	}
	names := make([]string, 0, len(pushKeyColumns)-1)
	for _, c := range pushKeyColumns[:len(pushKeyColumns)-1] {
		names = append(names, quoteIdent(c.name))
	}
	b, err := p.s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s (%s)", p.s.ddl.PushKeyTableName(p.table), strings.Join(names, ", ")))
	if err != nil {
		return fmt.Errorf("push key %q: preparing the insert: %w", k.Key, err)
	}
	defer b.Abort()
	if err := b.Append(k.Department, k.Key, k.BodyHash, k.Claim, uint8(k.State), uint16(k.Status), string(k.Response)); err != nil {
		return fmt.Errorf("push key %q: %w", k.Key, err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("push key %q: inserting: %w", k.Key, err)
	}
	return nil
}

// PushKeys returns the rows of department's key written in the last
// window by ClickHouse's clock, oldest first (by At, then Claim).
func (p *PushKeys) PushKeys(ctx context.Context, department, key string, window time.Duration) ([]PushKey, error) {
	secs := int64(window / time.Second)
	if secs < 1 {
		secs = 1
	}
	q := fmt.Sprintf("SELECT body_hash, claim, state, status, response, at FROM %s WHERE department = ? AND key = ? AND at >= now() - %d ORDER BY at, claim",
		p.s.ddl.PushKeyTableName(p.table), secs)
	rows, err := p.s.conn.Query(ctx, q, department, key)
	if err != nil {
		return nil, fmt.Errorf("reading push key %q of %s: %w", key, department, err)
	}
	defer rows.Close()
	var out []PushKey
	for rows.Next() {
		k := PushKey{Department: department, Key: key}
		var (
			state    uint8
			status   uint16
			response string
		)
		if err := rows.Scan(&k.BodyHash, &k.Claim, &state, &status, &response, &k.At); err != nil {
			return nil, fmt.Errorf("reading push key %q of %s: %w", key, department, err)
		}
		k.State, k.Status, k.Response = PushKeyState(state), int(status), []byte(response)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading push key %q of %s: %w", key, department, err)
	}
	return out, nil
}
