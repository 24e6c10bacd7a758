package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/cityhighway/highway/highway/catalog"
)

// readings are the columns of a small result: a station, a nullable value.
func readings(stations []string, values ...*float64) []proto.InputColumn {
	return []proto.InputColumn{
		{Name: "station", Data: strs(stations...)},
		{Name: "value", Data: nullableOf[float64](&proto.ColFloat64{}, values...)},
	}
}

// answer is a fake server's reply to every query: the header block (no
// rows, the result's columns), then chatter and the given blocks.
func answer(blocks ...[]proto.InputColumn) func(x *fakeExchange) {
	return func(x *fakeExchange) {
		x.data(readings(nil)...)
		x.chatter()
		for _, b := range blocks {
			x.data(b...)
		}
		x.end()
	}
}

// TestQueryFormats runs a query of two blocks against the fake server and
// checks each format's whole output, and that the packets a server sends
// beside the result (progress, profile, totals, logs) are left out.
func TestQueryFormats(t *testing.T) {
	fake := newFakeClickHouse(t, answer(
		readings([]string{"S1", "a,\"b\""}, ptr(1.5), nil),
		readings([]string{"S3"}, ptr(-2.0)),
	))
	st := fake.store()
	cases := []struct {
		f    Format
		want string
	}{
		{FormatJSON, "{\"meta\":[{\"name\":\"station\",\"type\":\"String\"},{\"name\":\"value\",\"type\":\"Nullable(Float64)\"}],\n\"data\":[\n" +
			"{\"station\":\"S1\",\"value\":1.5},\n{\"station\":\"a,\\\"b\\\"\",\"value\":null},\n{\"station\":\"S3\",\"value\":-2}\n],\n\"rows\":3}\n"},
		{FormatNDJSON, "{\"station\":\"S1\",\"value\":1.5}\n{\"station\":\"a,\\\"b\\\"\",\"value\":null}\n{\"station\":\"S3\",\"value\":-2}\n"},
		{FormatCSV, "station,value\r\nS1,1.5\r\n\"a,\"\"b\"\"\",\r\nS3,-2\r\n"},
	}
	for _, c := range cases {
		t.Run(string(c.f), func(t *testing.T) {
			var out bytes.Buffer
			stats, err := st.Query(context.Background(), "SELECT station, value FROM t", Limits{}, c.f, &out)
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != c.want {
				t.Errorf("got\n%q\nwant\n%q", out.String(), c.want)
			}
			if want := (QueryStats{Rows: 3, Columns: 2, Written: int64(len(c.want))}); stats != want {
				t.Errorf("stats %+v, want %+v", stats, want)
			}
		})
	}
	t.Run("arrow", func(t *testing.T) {
		var out bytes.Buffer
		if _, err := st.Query(context.Background(), "SELECT station, value FROM t", Limits{}, FormatArrow, &out); err != nil {
			t.Fatal(err)
		}
		r, err := ipc.NewReader(&out)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Release()
		if typ, _ := r.Schema().Field(1).Metadata.GetValue(ArrowMetaType); typ != "Nullable(Float64)" {
			t.Errorf("value's ClickHouse type %q", typ)
		}
		var got []string
		for r.Next() {
			rec := r.RecordBatch()
			for i := range int(rec.NumRows()) {
				got = append(got, rec.Column(0).(*array.String).Value(i)+"="+rec.Column(1).ValueStr(i))
			}
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		if want := `[S1=1.5 a,"b"=(null) S3=-2]`; fmt.Sprint(got) != want {
			t.Errorf("rows %s, want %s", got, want)
		}
	})
	// One connection served every query: the pool keeps it.
	if n := fake.conns.Load(); n != 1 {
		t.Errorf("%d connections for four queries, want 1", n)
	}
}

// TestQueryEmptyResult: a result without rows still has its columns.
func TestQueryEmptyResult(t *testing.T) {
	st := newFakeClickHouse(t, answer()).store()
	for f, want := range map[Format]string{
		FormatJSON:   "{\"meta\":[{\"name\":\"station\",\"type\":\"String\"},{\"name\":\"value\",\"type\":\"Nullable(Float64)\"}],\n\"data\":[\n],\n\"rows\":0}\n",
		FormatNDJSON: "",
		FormatCSV:    "station,value\r\n",
	} {
		var out bytes.Buffer
		stats, err := st.Query(context.Background(), "SELECT 1", Limits{}, f, &out)
		if err != nil || out.String() != want || stats.Rows != 0 || stats.Columns != 2 {
			t.Errorf("%s: %q %+v %v, want %q", f, out.String(), stats, err, want)
		}
	}
}

// TestQueryArrowBatches: a result of more rows than an Arrow batch holds
// comes in several batches, every row once and in order.
func TestQueryArrowBatches(t *testing.T) {
	const n = arrowBatchRows*2 + 100
	stations := make([]string, n)
	for i := range stations {
		stations[i] = fmt.Sprint(i)
	}
	half := n / 2
	st := newFakeClickHouse(t, func(x *fakeExchange) {
		x.data(proto.InputColumn{Name: "s", Data: strs()})
		x.data(proto.InputColumn{Name: "s", Data: strs(stations[:half]...)})
		x.data(proto.InputColumn{Name: "s", Data: strs(stations[half:]...)})
		x.end()
	}).store()
	var out bytes.Buffer
	if _, err := st.Query(context.Background(), "SELECT s", Limits{}, FormatArrow, &out); err != nil {
		t.Fatal(err)
	}
	r, err := ipc.NewReader(&out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	rows, batches := 0, 0
	for r.Next() {
		rec := r.RecordBatch()
		batches++
		if rec.NumRows() > arrowBatchRows {
			t.Errorf("a batch of %d rows", rec.NumRows())
		}
		for i := range int(rec.NumRows()) {
			if s := rec.Column(0).(*array.String).Value(i); s != stations[rows] {
				t.Fatalf("row %d is %s", rows, s)
			}
			rows++
		}
	}
	if rows != n || batches != 3 || r.Err() != nil {
		t.Errorf("%d rows in %d batches (%v), want %d in 3", rows, batches, r.Err(), n)
	}
}

// TestQuerySettings: the limits travel as the query's settings, with
// readonly=1 always, and QueryFeed asks for the feed's columns and range.
func TestQuerySettings(t *testing.T) {
	fake := newFakeClickHouse(t, answer())
	st := fake.store()
	lim := Limits{MaxExecutionTime: 1500 * time.Millisecond, MaxResultRows: 10, MaxResultBytes: 1 << 20, MaxMemory: 1 << 30, MaxRowsToRead: 1 << 62}
	if _, err := st.Query(context.Background(), "SELECT 1", lim, FormatCSV, io.Discard); err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Parse("t.yaml", []byte(`
kind: feed
name: test.readings
department: TEST
fields:
  - {name: station, type: string, required: true}
  - {name: at, type: time, required: true}
key: [station]
event_time: at
interval: 1m
`))
	if err != nil {
		t.Fatal(err)
	}
	from := time.Unix(1795651200, 0)
	if _, err := st.QueryFeed(context.Background(), c.Feeds()[0], []string{"station", "at"}, from, from.Add(time.Hour), 5, Limits{}, FormatCSV, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := st.QueryFeed(context.Background(), c.Feeds()[0], nil, from, from, 0, Limits{}, FormatCSV, io.Discard); err == nil {
		t.Error("QueryFeed without columns did not fail")
	}
	q := fake.received()
	if len(q) != 2 {
		t.Fatalf("%d queries reached the server, want 2", len(q))
	}
	var got []string
	for _, s := range q[0].Settings {
		got = append(got, s.Key+"="+s.Value)
	}
	want := "[readonly=1 max_execution_time=2 max_memory_usage=1073741824 max_result_bytes=1048576 max_result_rows=10 max_rows_to_read=4611686018427387904]"
	if fmt.Sprint(got) != want {
		t.Errorf("settings %s, want %s", got, want)
	}
	if q[0].Body != "SELECT 1" || q[0].Info.ClientName != "highway" {
		t.Errorf("query %q from client %q", q[0].Body, q[0].Info.ClientName)
	}
	wantSQL := "SELECT `station`, `at` FROM `db`.`test_readings` WHERE `at` >= toDateTime(1795651200) AND `at` < toDateTime(1795654800) LIMIT 5"
	if q[1].Body != wantSQL {
		t.Errorf("QueryFeed sent\n%s\nwant\n%s", q[1].Body, wantSQL)
	}
	if v, ok := (&fakeExchange{Query: q[1]}).setting("readonly"); !ok || v != "1" {
		t.Errorf("QueryFeed's readonly setting %q %v", v, ok)
	}
}

// TestQueryFailures: how each way a query can fail reaches the caller, and
// what has been written by then.
func TestQueryFailures(t *testing.T) {
	oneRow := readings([]string{"S1"}, ptr(1.0))
	cases := []struct {
		name  string
		serve func(x *fakeExchange)
		f     Format
		check func(err error) bool
		// out is what the writer holds afterwards.
		out string
	}{
		{"refused before any rows", func(x *fakeExchange) { x.exception(47, "Missing columns: 'nope'") }, FormatJSON,
			func(err error) bool {
				var qe *QueryError
				return errors.As(err, &qe) && qe.Code == 47 && qe.Message == "Missing columns: 'nope'"
			}, ""},
		{"failed after rows, JSON", func(x *fakeExchange) { x.data(readings(nil)...); x.data(oneRow...); x.exception(395, "throwIf") }, FormatJSON,
			func(err error) bool { var qe *QueryError; return errors.As(err, &qe) && qe.Code == 395 },
			"{\"meta\":[{\"name\":\"station\",\"type\":\"String\"},{\"name\":\"value\",\"type\":\"Nullable(Float64)\"}],\n\"data\":[\n{\"station\":\"S1\",\"value\":1}\n],\n\"rows\":1,\"error\":\"ClickHouse error 395: throwIf\"}\n"},
		{"failed after rows, NDJSON", func(x *fakeExchange) { x.data(oneRow...); x.exception(395, "throwIf") }, FormatNDJSON,
			func(err error) bool { return err != nil }, "{\"station\":\"S1\",\"value\":1}\n{\"error\":\"ClickHouse error 395: throwIf\"}\n"},
		{"failed after rows, CSV", func(x *fakeExchange) { x.data(oneRow...); x.exception(395, "throwIf") }, FormatCSV,
			func(err error) bool { return err != nil }, "station,value\r\nS1,1\r\n"},
		{"a type no format carries", func(x *fakeExchange) {
			x.data(proto.InputColumn{Name: "agg", Data: typed{&proto.ColStr{}, "AggregateFunction(uniq, String)"}})
			x.end()
		}, FormatJSON, func(err error) bool {
			return errors.Is(err, ErrUnsupportedType) && strings.Contains(err.Error(), "toString(agg)")
		}, ""},
		{"a packet no server sends", func(x *fakeExchange) { x.buf.PutUVarInt(99) }, FormatJSON,
			func(err error) bool {
				return errors.Is(err, errProtocol) && strings.HasPrefix(err.Error(), "clickhouse: ")
			}, ""},
		{"columns change between blocks", func(x *fakeExchange) {
			x.data(oneRow...)
			x.data(proto.InputColumn{Name: "other", Data: strs("x")}, proto.InputColumn{Name: "value", Data: &proto.ColFloat64{1}})
			x.end()
		}, FormatCSV, func(err error) bool { return errors.Is(err, errProtocol) }, "station,value\r\nS1,1\r\n"},
		{"the server hangs up", func(x *fakeExchange) { x.data(oneRow...); _ = x.flush(); x.conn.Close() }, FormatCSV,
			func(err error) bool { return err != nil && strings.Contains(err.Error(), "reading from ClickHouse") }, "station,value\r\nS1,1\r\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake := newFakeClickHouse(t, c.serve)
			st := fake.store()
			var out bytes.Buffer
			stats, err := st.Query(context.Background(), "SELECT", Limits{}, c.f, &out)
			if !c.check(err) {
				t.Errorf("err = %v", err)
			}
			if out.String() != c.out {
				t.Errorf("wrote\n%q\nwant\n%q", out.String(), c.out)
			}
			if stats.Written != int64(out.Len()) {
				t.Errorf("stats say %d bytes written, the writer has %d", stats.Written, out.Len())
			}
		})
	}
}

// TestQueryExceptionNested: of nested exceptions, the outermost one is the
// query's error.
func TestQueryExceptionNested(t *testing.T) {
	st := newFakeClickHouse(t, func(x *fakeExchange) {
		x.exception(1001, "outer")
		x.buf.Buf[len(x.buf.Buf)-1] = 1 // it has a nested one
		(&proto.Exception{Code: 1002, Name: "std::exception", Message: "inner"}).EncodeAware(&x.buf, x.version)
	}).store()
	_, err := st.Query(context.Background(), "SELECT", Limits{}, FormatJSON, io.Discard)
	var qe *QueryError
	if !errors.As(err, &qe) || qe.Code != 1001 || qe.Error() != "ClickHouse error 1001: outer" {
		t.Fatalf("err = %v", err)
	}
}

// failingWriter fails every write: the reader went away.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// TestQueryReaderGoesAway: a writer that fails ends the query as a write
// error, and the connection, with the rest of the result unread, is not
// used again.
func TestQueryReaderGoesAway(t *testing.T) {
	big := make([]string, 20000)
	for i := range big {
		big[i] = strings.Repeat("x", 10)
	}
	fake := newFakeClickHouse(t, answer(readings(big, make([]*float64, len(big))...)))
	st := fake.store()
	_, err := st.Query(context.Background(), "SELECT", Limits{}, FormatCSV, failingWriter{})
	if err == nil || !strings.HasPrefix(err.Error(), "writing result: ") {
		t.Fatalf("err = %v, want a write error", err)
	}
	if _, err := st.Query(context.Background(), "SELECT", Limits{}, FormatCSV, io.Discard); err != nil {
		t.Fatal(err)
	}
	if n := fake.conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2: the one left mid-result must not be reused", n)
	}
}

// TestQueryCancel: cancelling the context cuts the connection, which is
// how ClickHouse learns to cancel the query, and returns ctx's error.
func TestQueryCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	closed := make(chan struct{})
	fake := newFakeClickHouse(t, func(x *fakeExchange) {
		x.data(readings([]string{"S1"}, nil)...)
		_ = x.flush()
		cancel()
		wait, stop := context.WithTimeout(context.Background(), 5*time.Second)
		defer stop()
		x.waitClosed(wait)
		close(closed)
	})
	st := fake.store()
	_, err := st.Query(ctx, "SELECT sleep(3)", Limits{}, FormatCSV, io.Discard)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection stayed open after the cancel")
	}
	// A query on a context that has already ended waits for nothing.
	if _, err := st.Query(ctx, "SELECT", Limits{}, FormatCSV, io.Discard); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v on an ended context", err)
	}
}

// TestQueryHandshake: a server that refuses the login, or is not there,
// fails the query with what went wrong; the client logs in as the DSN
// says.
func TestQueryHandshake(t *testing.T) {
	fake := newFakeClickHouse(t, answer())
	fake.hello = func(x *fakeExchange) {
		if x.Hello.User != "reader" || x.Hello.Password != "secret" || x.Hello.Database != "db" {
			x.exception(516, fmt.Sprintf("unexpected login %s/%s on %s", x.Hello.User, x.Hello.Password, x.Hello.Database))
			return
		}
		x.exception(516, "reader: Authentication failed")
	}
	_, err := fake.store().Query(context.Background(), "SELECT", Limits{}, FormatJSON, io.Discard)
	var qe *QueryError
	if !errors.As(err, &qe) || qe.Message != "reader: Authentication failed" || !strings.Contains(err.Error(), "handshake with ClickHouse at ") {
		t.Errorf("err = %v", err)
	}

	ln := newFakeClickHouse(t, answer())
	addr := ln.ln.Addr().String()
	ln.ln.Close()
	p := newNativePool(nativeConfig{addrs: []string{addr}})
	defer p.close()
	_, err = runQuery(context.Background(), p, "SELECT", Limits{}, FormatJSON, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "connecting to ClickHouse at "+addr) {
		t.Errorf("err = %v with no server", err)
	}
	empty := newNativePool(nativeConfig{})
	if _, err := runQuery(context.Background(), empty, "SELECT", Limits{}, FormatJSON, io.Discard); err == nil || !strings.Contains(err.Error(), "no ClickHouse address") {
		t.Errorf("err = %v with no address", err)
	}
}

// TestQueryPoolLimits: at most maxOpen connections at once, and a query
// waiting for one gives up when its context ends.
func TestQueryPoolLimits(t *testing.T) {
	release := make(chan struct{})
	fake := newFakeClickHouse(t, func(x *fakeExchange) {
		<-release
		answer()(x)
	})
	p := newNativePool(nativeConfig{addrs: []string{fake.ln.Addr().String()}, maxOpen: 1, maxIdle: 1})
	defer p.close()
	done := make(chan error, 1)
	go func() {
		_, err := runQuery(context.Background(), p, "SELECT", Limits{}, FormatCSV, io.Discard)
		done <- err
	}()
	for len(fake.received()) == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := runQuery(ctx, p, "SELECT", Limits{}, FormatCSV, io.Discard); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a second query with one connection in use: %v, want to wait until the deadline", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestParseFormat(t *testing.T) {
	for _, c := range []struct {
		in, contentType string
		want            Format
		ok              bool
	}{
		{"", "application/json", FormatJSON, true},
		{"json", "application/json", FormatJSON, true},
		{"NDJSON", "application/x-ndjson", FormatNDJSON, true},
		{"csv", "text/csv; charset=utf-8", FormatCSV, true},
		{"Arrow", "application/vnd.apache.arrow.stream", FormatArrow, true},
		{"xml", "", "", false},
	} {
		f, err := ParseFormat(c.in)
		if f != c.want || (err == nil) != c.ok {
			t.Errorf("ParseFormat(%q) = %q, %v", c.in, f, err)
		}
		if c.ok && f.ContentType() != c.contentType {
			t.Errorf("%s's content type %q, want %q", f, f.ContentType(), c.contentType)
		}
	}
}
