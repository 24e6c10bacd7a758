package store

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go/proto"
)

// fakeClickHouse is the server side of ClickHouse's native protocol, in
// process, for unit tests of the native reader and insert: it answers the
// handshake, reads each query and its data with ch-go's decoders (the
// protocol package clickhouse-go itself uses, not our client code), and
// replies with what the test's handler writes with ch-go's encoders. It
// fakes the server, not the client: the bytes our client reads are the
// ones ch-go writes for a real server's reply, and the bytes it sends are
// checked by ch-go's reading of them. It does not run SQL; each test says
// what the server answers.
type fakeClickHouse struct {
	t        *testing.T
	ln       net.Listener
	revision int
	// hello, when set, answers the handshake instead of the server's hello
	// (an exception: a bad password).
	hello func(x *fakeExchange)
	// serve answers one query; it returns when the reply is written (or
	// the client went away).
	serve func(x *fakeExchange)

	conns   atomic.Int32 // connections accepted
	mu      sync.Mutex
	queries []proto.Query
	wg      sync.WaitGroup
}

// newFakeClickHouse listens on a free local port until the test ends.
func newFakeClickHouse(t *testing.T, serve func(x *fakeExchange)) *fakeClickHouse {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeClickHouse{t: t, ln: ln, revision: proto.Version, serve: serve}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(func() {
		ln.Close()
		f.wg.Wait()
	})
	return f
}

// pool returns a native pool dialling the fake, closed when the test ends.
func (f *fakeClickHouse) pool() *nativePool {
	p := newNativePool(nativeConfig{addrs: []string{f.ln.Addr().String()}, database: "db", user: "reader", password: "secret"})
	f.t.Cleanup(p.close)
	return p
}

// store returns a Store whose native pool dials the fake; its
// clickhouse-go connection is nil, so only the native paths (Query,
// QueryFeed, Insert, InsertMissing) work on it.
func (f *fakeClickHouse) store() *Store {
	return &Store{reader: f.pool(), database: "db", ddl: DDL{Database: "db"}}
}

// received returns the queries the fake has read so far.
func (f *fakeClickHouse) received() []proto.Query {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]proto.Query(nil), f.queries...)
}

func (f *fakeClickHouse) accept() {
	defer f.wg.Done()
	for {
		conn, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.conns.Add(1)
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer conn.Close()
			if err := f.handle(conn); err != nil && !clientGone(err) {
				f.t.Errorf("fake ClickHouse: %v", err)
			}
		}()
	}
}

// clientGone says whether err only means that the client hung up, as it
// does when it cancels a query or stops reading a result.
func clientGone(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// handle speaks to one client: the handshake, then queries until it goes
// away.
func (f *fakeClickHouse) handle(conn net.Conn) error {
	// A client that sends what the fake cannot follow would leave both
	// sides waiting: the fake gives up after a while, and the client sees
	// the connection close.
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	x := &fakeExchange{conn: conn, r: proto.NewReader(bufio.NewReader(conn)), version: f.revision}
	code, err := x.r.UVarInt()
	if err != nil {
		return err
	}
	if proto.ClientCode(code) != proto.ClientCodeHello {
		return errors.New("the client did not start with hello")
	}
	if err := x.Hello.Decode(x.r); err != nil {
		return err
	}
	x.version = min(x.Hello.ProtocolVersion, f.revision)
	if f.hello != nil {
		f.hello(x)
		return x.flush()
	}
	(&proto.ServerHello{Name: "ClickHouse", Major: 24, Minor: 8, Revision: f.revision, Timezone: "UTC", DisplayName: "fake"}).EncodeAware(&x.buf, f.revision)
	if err := x.flush(); err != nil {
		return err
	}
	if proto.FeatureAddendum.In(x.version) {
		if _, err := x.r.Str(); err != nil { // quota key
			return err
		}
	}
	for {
		code, err := x.r.UVarInt()
		if err != nil {
			return err
		}
		if proto.ClientCode(code) == proto.ClientCodePing { // clickhouse-go checks a connection so
			proto.ServerCodePong.Encode(&x.buf)
			if err := x.flush(); err != nil {
				return err
			}
			continue
		}
		if proto.ClientCode(code) != proto.ClientCodeQuery {
			return errors.New("a packet other than a query: " + proto.ClientCode(code).String())
		}
		x.Query = proto.Query{}
		if err := x.Query.DecodeAware(x.r, x.version); err != nil {
			return err
		}
		// The (empty) external tables.
		if _, err := x.readData(nil); err != nil {
			return err
		}
		f.mu.Lock()
		f.queries = append(f.queries, x.Query)
		f.mu.Unlock()
		f.serve(x)
		if err := x.flush(); err != nil {
			return err
		}
	}
}

// fakeExchange is one connection's current query and the reply being
// written to it.
type fakeExchange struct {
	conn    net.Conn
	r       *proto.Reader
	buf     proto.Buffer
	version int
	Hello   proto.ClientHello
	Query   proto.Query
}

func (x *fakeExchange) flush() error {
	if len(x.buf.Buf) == 0 {
		return nil
	}
	_, err := x.conn.Write(x.buf.Buf)
	x.buf.Reset()
	return err
}

// setting returns the value of the query's setting key, and whether it was
// sent.
func (x *fakeExchange) setting(key string) (string, bool) {
	for _, s := range x.Query.Settings {
		if s.Key == key {
			return s.Value, true
		}
	}
	return "", false
}

// data writes a data block of the columns (packet code, temporary table
// name, block), as a server sends a result block.
func (x *fakeExchange) data(cols ...proto.InputColumn) {
	x.block(proto.ServerCodeData, cols...)
}

func (x *fakeExchange) block(code proto.ServerCode, cols ...proto.InputColumn) {
	rows := 0
	if len(cols) > 0 {
		rows = cols[0].Data.Rows()
	}
	code.Encode(&x.buf)
	proto.ClientData{}.EncodeAware(&x.buf, x.version)
	if err := (proto.Block{Info: proto.BlockInfo{BucketNum: -1}, Columns: len(cols), Rows: rows}).EncodeBlock(&x.buf, x.version, cols); err != nil {
		panic(err) // a bug in the test
	}
}

// exception writes an exception packet.
func (x *fakeExchange) exception(code int32, msg string) {
	proto.ServerCodeException.Encode(&x.buf)
	(&proto.Exception{Code: proto.Error(code), Name: "DB::Exception", Message: msg, Stack: "stack"}).EncodeAware(&x.buf, x.version)
}

// chatter writes the packets a server sends beside the result: progress,
// profile information, a totals block and a log block.
func (x *fakeExchange) chatter() {
	proto.ServerCodeProgress.Encode(&x.buf)
	proto.Progress{Rows: 10, Bytes: 100, TotalRows: 10}.EncodeAware(&x.buf, x.version)
	proto.Profile{Rows: 10, Blocks: 1, Bytes: 100}.EncodeAware(&x.buf, x.version) // with its packet code
	x.block(proto.ServerCodeTotals, proto.InputColumn{Name: "n", Data: &proto.ColUInt64{42}})
	x.block(proto.ServerCodeLog, proto.InputColumn{Name: "text", Data: &proto.ColStr{}})
}

// end writes the end of the stream.
func (x *fakeExchange) end() { proto.ServerCodeEndOfStream.Encode(&x.buf) }

// readData reads a client data packet and its block into target (nil: an
// empty block is expected), with ch-go's decoder.
func (x *fakeExchange) readData(target proto.Result) (proto.Block, error) {
	var b proto.Block
	code, err := x.r.UVarInt()
	if err != nil {
		return b, err
	}
	if proto.ClientCode(code) != proto.ClientCodeData {
		return b, errors.New("a packet other than data: " + proto.ClientCode(code).String())
	}
	var d proto.ClientData
	if err := d.DecodeAware(x.r, x.version); err != nil {
		return b, err
	}
	err = b.DecodeBlock(x.r, x.version, target)
	if err == nil && target == nil && !b.End() {
		err = errors.New("a data block with rows where none was expected")
	}
	return b, err
}

// waitClosed blocks until the client closes the connection (or ctx ends).
func (x *fakeExchange) waitClosed(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(io.Discard, x.conn)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
