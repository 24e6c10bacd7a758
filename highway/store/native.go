package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/ClickHouse/ch-go/proto"
)

// The native protocol reader below serves Query and QueryFeed. clickhouse-go
// hands results over one row at a time (rows.Scan into per-row values); the
// API's formats are columnar or close to it, so results are read here block
// by block into typed columns (see result.go) that the writers encode
// without per-value boxing. It speaks only what a read-only SELECT needs,
// on ch-go's protocol encoders (the package clickhouse-go itself uses), and
// sends query settings in the encoding of the server's protocol revision:
// ch-go's own client drops settings on servers older than revision 54429,
// ClickHouse 18.16 among them, and the limits must never be dropped.

// nativeClientVersion is the protocol revision this client announces; the
// connection speaks the lower of it and the server's.
const nativeClientVersion = proto.Version

// nativeConfig says where and as whom the native connections connect.
type nativeConfig struct {
	addrs                    []string
	database, user, password string
	tls                      *tls.Config
	dialTimeout              time.Duration
	maxOpen, maxIdle         int
}

// nativePool holds idle native connections for read-only queries. It is
// safe for concurrent use; at most maxOpen connections exist at once.
type nativePool struct {
	cfg  nativeConfig
	sem  chan struct{}
	mu   sync.Mutex
	idle []*nativeConn
	next int // round robin over addrs
}

func newNativePool(cfg nativeConfig) *nativePool {
	if cfg.maxOpen <= 0 {
		cfg.maxOpen = 16
	}
	if cfg.maxIdle <= 0 {
		cfg.maxIdle = 4
	}
	if cfg.user == "" {
		cfg.user = "default"
	}
	return &nativePool{cfg: cfg, sem: make(chan struct{}, cfg.maxOpen)}
}

// get returns an idle connection or dials a new one; put gives it back.
func (p *nativePool) get(ctx context.Context) (*nativeConn, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, nil
	}
	addrs := p.cfg.addrs
	start := p.next
	p.next++
	p.mu.Unlock()
	var errs []error
	for i := range addrs {
		addr := addrs[(start+i)%len(addrs)]
		c, err := dialNative(ctx, addr, p.cfg)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	<-p.sem
	if len(errs) == 0 {
		return nil, errors.New("no ClickHouse address configured")
	}
	return nil, errors.Join(errs...)
}

// put returns c to the pool, or closes it when it is broken (a query on it
// was cut short) or the pool has enough idle connections.
func (p *nativePool) put(c *nativeConn) {
	defer func() { <-p.sem }()
	if c.broken {
		c.close()
		return
	}
	p.mu.Lock()
	if len(p.idle) < p.cfg.maxIdle {
		p.idle = append(p.idle, c)
		c = nil
	}
	p.mu.Unlock()
	if c != nil {
		c.close()
	}
}

// close closes the idle connections; connections in use close when put.
func (p *nativePool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.cfg.maxIdle = nil, -1
	p.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
}

// nativeConn is one connection speaking ClickHouse's native protocol. It
// runs one query at a time; a query that ends early (cancelled, or broken
// off by a protocol or network error) marks it broken.
type nativeConn struct {
	conn    net.Conn
	r       *proto.Reader
	buf     proto.Buffer
	version int // the negotiated protocol revision
	server  proto.ServerHello
	broken  bool
}

func dialNative(ctx context.Context, addr string, cfg nativeConfig) (*nativeConn, error) {
	timeout := cfg.dialTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	var (
		conn net.Conn
		err  error
	)
	if cfg.tls != nil {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: cfg.tls}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("connecting to ClickHouse at %s: %w", addr, err)
	}
	c := &nativeConn{conn: conn, r: proto.NewReader(conn), version: nativeClientVersion}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	if err := c.handshake(cfg); err != nil {
		conn.Close()
		return nil, fmt.Errorf("handshake with ClickHouse at %s: %w", addr, err)
	}
	_ = conn.SetDeadline(time.Time{})
	return c, nil
}

func (c *nativeConn) handshake(cfg nativeConfig) error {
	c.buf.Reset()
	proto.ClientHello{Name: "highway", Major: 1, Minor: 0, ProtocolVersion: nativeClientVersion,
		Database: cfg.database, User: cfg.user, Password: cfg.password}.Encode(&c.buf)
	if err := c.flush(); err != nil {
		return err
	}
	code, err := c.r.UVarInt()
	if err != nil {
		return fmt.Errorf("reading the server's hello: %w", err)
	}
	switch proto.ServerCode(code) {
	case proto.ServerCodeHello:
	case proto.ServerCodeException:
		return c.exception() // a bad password, an unknown database
	default:
		return fmt.Errorf("the server answered hello with packet %d", code)
	}
	if err := c.server.DecodeAware(c.r, nativeClientVersion); err != nil {
		return fmt.Errorf("reading the server's hello: %w", err)
	}
	c.version = min(c.server.Revision, nativeClientVersion)
	if proto.FeatureAddendum.In(c.version) {
		c.buf.Reset()
		c.buf.PutString("") // quota key
		return c.flush()
	}
	return nil
}

func (c *nativeConn) flush() error {
	if _, err := c.conn.Write(c.buf.Buf); err != nil {
		return fmt.Errorf("writing to ClickHouse: %w", err)
	}
	return nil
}

func (c *nativeConn) close() { c.conn.Close() }

// revisionWithClientInfo is the protocol revision from which a query
// carries the client's info.
const revisionWithClientInfo = 54032

// setting is one query setting; every limit is a whole number, the one
// kind of value all protocol revisions can carry.
type setting struct {
	name  string
	value uint64
}

// sendQuery sends sql with the settings, then the empty block that ends
// the (absent) external tables.
func (c *nativeConn) sendQuery(sql string, settings []setting) {
	b := &c.buf
	b.Reset()
	proto.ClientCodeQuery.Encode(b)
	b.PutString("") // query id: the server makes one
	// ch-go gates the client info on revision 54420; ClickHouse reads it
	// from every client since 54032 (DBMS_MIN_REVISION_WITH_CLIENT_INFO),
	// and 18.16 (54413) takes the query apart without it.
	if c.version >= revisionWithClientInfo {
		proto.ClientInfo{
			ProtocolVersion: c.version, Major: 1, Minor: 0, Interface: proto.InterfaceTCP,
			Query: proto.ClientQueryInitial, InitialAddress: c.conn.LocalAddr().String(), ClientName: "highway",
		}.EncodeAware(b, c.version)
	}
	for _, s := range settings {
		b.PutString(s.name)
		if proto.FeatureSettingsSerializedAsStrings.In(c.version) {
			b.PutUVarInt(0) // flags: not important, not custom
			b.PutString(strconv.FormatUint(s.value, 10))
		} else {
			b.PutUVarInt(s.value)
		}
	}
	b.PutString("") // end of settings
	if proto.FeatureInterServerSecret.In(c.version) {
		b.PutString("")
	}
	proto.StageComplete.Encode(b)
	proto.CompressionDisabled.Encode(b)
	b.PutString(sql)
	if proto.FeatureParameters.In(c.version) {
		b.PutString("") // end of parameters
	}
	// The end of external tables: an empty data block.
	proto.ClientCodeData.Encode(b)
	proto.ClientData{}.EncodeAware(b, c.version)
	_ = proto.Block{}.EncodeBlock(b, c.version, nil)
}

// errProtocol marks a reply this client cannot follow.
var errProtocol = errors.New("unexpected reply from ClickHouse")

// query runs sql and calls onBlock for each data block of the result with
// rows in it; res holds the block's columns, made from the first block's
// names and types (ClickHouse sends a block without rows first, so res
// knows the columns even of an empty result). A failure of the query
// itself is a *QueryError. Cancelling ctx stops the query: the connection
// is closed, which makes ClickHouse cancel it, and marked broken.
func (c *nativeConn) query(ctx context.Context, sql string, settings []setting, res *resultSet, onBlock func() error) (err error) {
	c.sendQuery(sql, settings)
	defer c.cancelOn(ctx)(&err)
	if err := c.flush(); err != nil {
		c.broken = true
		return err
	}
	for {
		code, err := c.nextPacket()
		if err != nil {
			return err
		}
		switch code {
		case proto.ServerCodeData:
			rows, err := c.readBlock(res)
			if err != nil {
				c.broken = true
				return err
			}
			if rows > 0 {
				if err := onBlock(); err != nil {
					// The rest of the result is not wanted: closing the
					// connection is what cancels the query.
					c.broken = true
					return err
				}
			}
		case proto.ServerCodeException:
			return c.exception()
		case proto.ServerCodeEndOfStream:
			return nil
		default:
			if err := c.skipPacket(code); err != nil {
				return err
			}
		}
	}
}

// cancelOn makes the end of ctx cut the connection, which makes ClickHouse
// cancel the statement running on it. The function it returns, deferred
// with the statement's error, marks the connection broken when ctx ended
// (or the cut came too late to undo) and reports ctx's error.
func (c *nativeConn) cancelOn(ctx context.Context) func(err *error) {
	stop := context.AfterFunc(ctx, func() { _ = c.conn.SetDeadline(time.Unix(1, 0)) })
	return func(err *error) {
		if !stop() || ctx.Err() != nil {
			c.broken = true
			if *err != nil {
				*err = fmt.Errorf("%w (%v)", ctx.Err(), *err)
			} else {
				*err = ctx.Err()
			}
		}
	}
}

// nextPacket reads the code of the server's next packet. A failed read
// leaves the connection broken.
func (c *nativeConn) nextPacket() (proto.ServerCode, error) {
	code, err := c.r.UVarInt()
	if err != nil {
		c.broken = true
		return 0, fmt.Errorf("reading from ClickHouse: %w", err)
	}
	return proto.ServerCode(code), nil
}

// skipPacket reads a packet that is neither data, an exception nor the end
// of the stream: progress, profile information, table columns, logs, and
// the totals and extremes blocks, which no format carries. A failure leaves
// the connection broken.
func (c *nativeConn) skipPacket(code proto.ServerCode) error {
	if err := c.skipBody(code); err != nil {
		c.broken = true
		return fmt.Errorf("reading from ClickHouse: %w", err)
	}
	return nil
}

// skipBody reads the packet of code that skipPacket skips.
func (c *nativeConn) skipBody(code proto.ServerCode) error {
	switch code {
	case proto.ServerCodeProgress:
		var p proto.Progress
		return p.DecodeAware(c.r, c.version)
	case proto.ServerCodeProfile:
		var p proto.Profile
		return p.DecodeAware(c.r, c.version)
	case proto.ServerCodeTableColumns:
		var t proto.TableColumns
		return t.DecodeAware(c.r, c.version)
	case proto.ServerCodeTotals, proto.ServerCodeExtremes:
		var skip resultSet
		_, err := c.readBlock(&skip)
		return err
	case proto.ServerCodeLog, proto.ServerProfileEvents:
		var skip proto.Results
		return c.skipBlock(skip.Auto())
	}
	return fmt.Errorf("%w: packet %d", errProtocol, code)
}

// readBlock reads a data block into res and returns its rows.
func (c *nativeConn) readBlock(res *resultSet) (int, error) {
	if err := c.blockStart(); err != nil {
		return 0, err
	}
	var info proto.BlockInfo
	if proto.FeatureBlockInfo.In(c.version) {
		if err := info.Decode(c.r); err != nil {
			return 0, fmt.Errorf("reading a block: %w", err)
		}
	}
	ncols, err := c.r.Int()
	if err != nil {
		return 0, fmt.Errorf("reading a block: %w", err)
	}
	rows, err := c.r.Int()
	if err != nil {
		return 0, fmt.Errorf("reading a block: %w", err)
	}
	if ncols < 0 || ncols > 1<<16 || rows < 0 || rows > 1<<30 {
		return 0, fmt.Errorf("%w: a block of %d columns and %d rows", errProtocol, ncols, rows)
	}
	if ncols == 0 {
		return 0, nil
	}
	first := res.cols == nil
	if !first && ncols != len(res.cols) {
		return 0, fmt.Errorf("%w: a block of %d columns after one of %d", errProtocol, ncols, len(res.cols))
	}
	for i := range ncols {
		name, err := c.r.Str()
		if err != nil {
			return 0, fmt.Errorf("reading column %d's name: %w", i, err)
		}
		typ, err := c.r.Str()
		if err != nil {
			return 0, fmt.Errorf("reading column %s's type: %w", name, err)
		}
		if proto.FeatureCustomSerialization.In(c.version) {
			custom, err := c.r.Bool()
			if err != nil {
				return 0, fmt.Errorf("reading column %s: %w", name, err)
			}
			if custom {
				return 0, fmt.Errorf("%w: column %s has a custom serialization", errProtocol, name)
			}
		}
		if first {
			col, err := newColumn(typ)
			if err != nil {
				return 0, &unsupportedError{column: name, chType: typ, err: err}
			}
			res.names = append(res.names, name)
			res.types = append(res.types, typ)
			res.cols = append(res.cols, col)
		} else if name != res.names[i] || typ != res.types[i] {
			return 0, fmt.Errorf("%w: column %d is %s %s, was %s %s", errProtocol, i, name, typ, res.names[i], res.types[i])
		}
		if err := decodeColumn(c.r, res.cols[i], rows); err != nil {
			return 0, fmt.Errorf("reading column %s (%s): %w", name, typ, err)
		}
	}
	if first && res.cols == nil {
		res.cols = []resultColumn{}
	}
	res.rows = rows
	return rows, nil
}

// blockStart reads what precedes a block: the name of its temporary
// table, empty for results.
func (c *nativeConn) blockStart() error {
	if proto.FeatureTempTables.In(c.version) {
		if _, err := c.r.Str(); err != nil {
			return fmt.Errorf("reading a block: %w", err)
		}
	}
	return nil
}

// skipBlock reads a block that is not part of the result into target.
func (c *nativeConn) skipBlock(target proto.Result) error {
	if err := c.blockStart(); err != nil {
		return err
	}
	var b proto.Block
	return b.DecodeBlock(c.r, c.version, target)
}

// exception reads an exception packet (and the exceptions nested in it)
// into a *QueryError carrying the outermost one.
func (c *nativeConn) exception() error {
	var first *QueryError
	for {
		code, err := c.r.Int32()
		if err != nil {
			return fmt.Errorf("reading an exception: %w", err)
		}
		var name, msg string
		for _, s := range []*string{&name, &msg, nil} {
			v, err := c.r.Str()
			if err != nil {
				return fmt.Errorf("reading an exception: %w", err)
			}
			if s != nil {
				*s = v
			}
		}
		nested, err := c.r.Bool()
		if err != nil {
			return fmt.Errorf("reading an exception: %w", err)
		}
		if first == nil {
			first = &QueryError{Code: code, Message: msg}
		}
		if !nested {
			return first
		}
	}
}

// resultSet is the columns of a result, refilled by each block.
type resultSet struct {
	names, types []string
	cols         []resultColumn
	rows         int
}

// unsupportedError is a result column whose type the formats cannot write.
type unsupportedError struct {
	column, chType string
	err            error
}

func (e *unsupportedError) Error() string {
	return fmt.Sprintf("column %s has type %s, which results cannot carry (%v); convert it in the query, for example with toString(%s)",
		e.column, e.chType, e.err, e.column)
}

func (e *unsupportedError) Is(target error) bool { return target == ErrUnsupportedType }

// ErrUnsupportedType is wrapped by the error of a query whose result has a
// column of a type that the result formats cannot carry: the query's
// fault, fixed by converting the column (toString) in the query.
var ErrUnsupportedType = errors.New("unsupported result type")
