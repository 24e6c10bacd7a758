package record_test

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/record"
)

// keysSpec has a key field of every type a key may have.
const keysSpec = `
kind: feed
name: test.keys
department: TEST
fields:
  - {name: s, type: string, required: true}
  - {name: n, type: int64, required: true}
  - {name: b, type: bool, required: true}
  - {name: d, type: time, required: true}
  - {name: v, type: float64}
  - {name: at, type: time, required: true}
key: [s, n, b, d]
event_time: at
interval: 1m
`

func keysFeed(t testing.TB) *catalog.Feed {
	t.Helper()
	c, err := catalog.Parse("keys.yaml", []byte(keysSpec))
	if err != nil {
		t.Fatal(err)
	}
	return c.Feed("test.keys")
}

// jsonKey is the key rule as the push API wrote it before the decoder
// handed the key back, with encoding/json: the key fields' values in the
// feed's order, joined with '|', strings as they are, other values as
// written.
func jsonKey(f *catalog.Feed, raw []byte) string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return ""
	}
	parts := make([]string, len(f.Key))
	for i, k := range f.Key {
		var s string
		if json.Unmarshal(obj[k], &s) == nil {
			parts[i] = s
		} else {
			parts[i] = string(obj[k])
		}
	}
	return strings.Join(parts, "|")
}

// jsonEventMillis is the event time as the poller read it before, with
// encoding/json: an RFC 3339 string or integer milliseconds.
func jsonEventMillis(value []byte, field string) (int64, bool) {
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(value, &rec); err != nil {
		return 0, false
	}
	raw := bytes.TrimSpace(rec[field])
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		t, err := time.Parse(time.RFC3339Nano, s)
		return t.UnixMilli(), err == nil
	}
	ms, err := strconv.ParseInt(string(raw), 10, 64)
	return ms, err == nil
}

// storedIdentity is the identity of row i of rec as ClickHouse gives it
// back (the canonical text of each key column, the event time), which is
// what store.Store.RecentIdentities hands record.IdentityOf.
func storedIdentity(f *catalog.Feed, rec arrow.RecordBatch, i int) record.Identity {
	var keys []string
	for _, k := range f.Key {
		switch col := rec.Column(f.FieldIndex(k)).(type) {
		case *array.String:
			keys = append(keys, col.Value(i))
		case *array.Int64:
			keys = append(keys, strconv.FormatInt(col.Value(i), 10))
		case *array.Boolean:
			keys = append(keys, map[bool]string{true: "1", false: "0"}[col.Value(i)])
		case *array.Timestamp:
			keys = append(keys, strconv.FormatInt(time.UnixMilli(int64(col.Value(i))).Unix(), 10))
		}
	}
	at := rec.Column(f.FieldIndex(f.EventTime)).(*array.Timestamp).Value(i)
	return record.IdentityOf(keys, time.UnixMilli(int64(at)))
}

// checkHandsBack decodes each line of data and, for every record the
// decoder accepts, checks what it hands back against the rules as they
// were before: the key of the push API, the event time of the poller, and
// the identity ClickHouse's row gives. Identities are compared for times
// from 1970 on (before it, a sub-second time rounds one way in the
// decoder and the other in ClickHouse, as it always has).
func checkHandsBack(t *testing.T, f *catalog.Feed, data []byte) {
	d := record.NewDecoder(f)
	defer d.Release()
	var ids []record.Identity
	for _, line := range bytes.Split(data, []byte("\n")) {
		if d.Append(line) != nil {
			continue
		}
		if got, want := string(d.AppendKey(nil)), jsonKey(f, line); got != want {
			t.Errorf("%s: key %q, encoding/json gives %q", line, got, want)
		}
		want, readable := jsonEventMillis(line, f.EventTime)
		if got := d.EventMillis(); !readable || got != want {
			t.Errorf("%s: event time %d, encoding/json gives %d (readable %v)", line, got, want, readable)
		}
		ids = append(ids, d.Identity())
	}
	rec := d.NewRecordBatch()
	defer rec.Release()
	for i, id := range ids {
		if negative(rec, i) {
			continue
		}
		if id != storedIdentity(f, rec, i) {
			t.Errorf("record %d: identity %x, its row's is %x", i, id, storedIdentity(f, rec, i))
		}
	}
}

// negative says whether row i of rec has a time before 1970.
func negative(rec arrow.RecordBatch, i int) bool {
	for _, col := range rec.Columns() {
		if ts, ok := col.(*array.Timestamp); ok && ts.IsValid(i) && ts.Value(i) < 0 {
			return true
		}
	}
	return false
}

// TestDecoderHandsBackWhatItRead: the key, event time and identity the
// decoder hands back are those the push API, the poller and ClickHouse's
// rows gave before, for every way a record may write them.
func TestDecoderHandsBackWhatItRead(t *testing.T) {
	f := keysFeed(t)
	for _, rec := range []string{
		`{"s":"A","n":1,"b":true,"d":"2026-11-26T08:30:00+08:00","at":"2026-11-26T08:30:00+08:00"}`,
		`{"at":1795653000123,"d":0,"b":false,"n":-42,"s":"with \"quotes\", a \\ and |"}`,
		`{"s":"caf\u00e9 \ud83d\ude97","n":9007199254740993,"b":true,"d":1795653000000,"v":1.5,"at":"2026-11-26T00:30:00.5Z"}`,
		`{ "s" : "spaced" , "n" : 7 , "b" : false , "d" : "2026-11-26T00:00:00Z" , "at" : "2026-11-26T00:00:00.999999999-09:30" }`,
		`{"s":"","n":0,"b":true,"d":"2026-11-26T00:00:00Z","at":0}`,
		`{"s":"x","n":1e3,"b":true,"d":"2026-11-26T00:00:00Z","at":0}`,
		`{"s":"x","n":10,"b":true,"d":"2026-11-26T00:00:00Z","at":"2026-11-26T00:00:00Z"}`,
	} {
		checkHandsBack(t, f, []byte(rec))
	}
}

// FuzzDecoderHandsBack fuzzes checkHandsBack: one record per line.
func FuzzDecoderHandsBack(f *testing.F) {
	feed := keysFeed(f)
	f.Add([]byte(`{"s":"A","n":1,"b":true,"d":"2026-11-26T08:30:00+08:00","at":"2026-11-26T08:30:00+08:00"}` + "\n" +
		`{"at":1795653000123,"d":0,"b":false,"n":-42,"s":"with \"quotes\", a \\ and |"}`))
	f.Add([]byte(`{"s":"caf\u00e9 \ud83d\ude97","n":9007199254740993,"b":true,"d":1795653000000,"v":1.5,"at":"2026-11-26T00:30:00.5Z"}`))
	f.Add([]byte(`{"s":"\ud800","n":1,"b":true,"d":0,"at":0}` + "\n" + "{\"s\":\"\xff\",\"n\":1,\"b\":true,\"d\":0,\"at\":0}"))
	f.Fuzz(func(t *testing.T, data []byte) { checkHandsBack(t, feed, data) })
}
