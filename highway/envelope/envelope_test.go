package envelope_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/envelope"
)

// pairs is a header list for tests; seq yields it as ParseHeaders takes it.
type pairs [][2]string

func (p pairs) seq(yield func(string, []byte) bool) {
	for _, kv := range p {
		if !yield(kv[0], []byte(kv[1])) {
			return
		}
	}
}

func headersOf(e envelope.Envelope) pairs {
	var out pairs
	for k, v := range e.Headers() {
		out = append(out, [2]string{k, string(v)})
	}
	return out
}

var (
	fetched  = time.Date(2026, 11, 26, 0, 0, 5, 0, time.UTC)
	rejected = time.Date(2026, 11, 26, 0, 1, 2, 345678901, time.UTC)
)

// TestRoundTrip writes each kind of envelope the platform sends as headers
// and reads it back: what comes back is what went in, and the headers are
// the ones the poller, the push API, the processor and bus.DeadLetter have
// always written, in that order.
func TestRoundTrip(t *testing.T) {
	cases := []struct {
		name    string
		env     envelope.Envelope
		headers pairs
	}{
		{name: "nothing", env: envelope.Envelope{}},
		{name: "simulator: JSON only", env: envelope.Envelope{ContentType: "application/json"},
			headers: pairs{{"content-type", "application/json"}}},
		{name: "poller", env: envelope.Envelope{ContentType: "application/json", Provenance: envelope.Provenance{
			Source: "https://data.example/feed.json", ETag: `"abc"`, FetchedAt: fetched, SchemaVersion: 3}},
			headers: pairs{{"content-type", "application/json"}, {"highway-source", "https://data.example/feed.json"},
				{"highway-fetched-at", "2026-11-26T00:00:05Z"}, {"highway-schema-version", "3"}, {"highway-etag", `"abc"`}}},
		{name: "poller without ETag", env: envelope.Envelope{ContentType: "application/json", Provenance: envelope.Provenance{
			Source: "https://data.example/a", FetchedAt: fetched, SchemaVersion: 1}},
			headers: pairs{{"content-type", "application/json"}, {"highway-source", "https://data.example/a"},
				{"highway-fetched-at", "2026-11-26T00:00:05Z"}, {"highway-schema-version", "1"}}},
		{name: "push", env: envelope.Envelope{ContentType: "application/json", Provenance: envelope.Provenance{PushedBy: "td"}},
			headers: pairs{{"content-type", "application/json"}, {"highway-pushed-by", "td"}}},
		{name: "a rejected row of an Arrow message", env: envelope.Envelope{ContentType: "application/json", Row: 0, HasRow: true},
			headers: pairs{{"content-type", "application/json"}, {"highway-source-row", "0"}}},
		{name: "processor's reject", env: envelope.Envelope{Reject: &envelope.Reject{Reason: "field speed: value 350: above the maximum 300",
			At: rejected, Topic: "td.traffic.detectors", Partition: 2, Offset: 41}},
			headers: pairs{{"highway-reason", "field speed: value 350: above the maximum 300"}, {"highway-source-topic", "td.traffic.detectors"},
				{"highway-rejected-at", "2026-11-26T00:01:02.345678901Z"}, {"highway-source-partition", "2"}, {"highway-source-offset", "41"}}},
		{name: "connector's reject: never in Kafka", env: envelope.Envelope{ContentType: "application/json",
			Provenance: envelope.Provenance{Source: "https://x", FetchedAt: fetched, SchemaVersion: 2},
			Reject:     &envelope.Reject{Reason: "rainfall.data[3]: no value", At: rejected, Topic: "hko.rainfall", Partition: -1, Offset: -1}},
			headers: pairs{{"content-type", "application/json"}, {"highway-source", "https://x"}, {"highway-fetched-at", "2026-11-26T00:00:05Z"},
				{"highway-schema-version", "2"}, {"highway-reason", "rainfall.data[3]: no value"}, {"highway-source-topic", "hko.rainfall"},
				{"highway-rejected-at", "2026-11-26T00:01:02.345678901Z"}}},
		{name: "reject of a row", env: envelope.Envelope{ContentType: "application/json", Row: 7, HasRow: true,
			Reject: &envelope.Reject{Reason: "r", At: rejected, Topic: "t", Partition: 0, Offset: 0}},
			headers: pairs{{"content-type", "application/json"}, {"highway-source-row", "7"}, {"highway-reason", "r"},
				{"highway-source-topic", "t"}, {"highway-rejected-at", "2026-11-26T00:01:02.345678901Z"},
				{"highway-source-partition", "0"}, {"highway-source-offset", "0"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := headersOf(c.env)
			if !reflect.DeepEqual(got, c.headers) {
				t.Errorf("headers:\n got %q\nwant %q", got, c.headers)
			}
			back := envelope.ParseHeaders(got.seq)
			if !equal(back, c.env) {
				t.Errorf("read back %+v (reject %+v), want %+v (reject %+v)", back, back.Reject, c.env, c.env.Reject)
			}
		})
	}
}

func equal(a, b envelope.Envelope) bool {
	if !a.FetchedAt.Equal(b.FetchedAt) || (a.Reject == nil) != (b.Reject == nil) {
		return false
	}
	if a.Reject != nil && (!a.Reject.At.Equal(b.Reject.At) || a.Reject.Reason != b.Reject.Reason || a.Reject.Topic != b.Reject.Topic ||
		a.Reject.Partition != b.Reject.Partition || a.Reject.Offset != b.Reject.Offset) {
		return false
	}
	a.FetchedAt, b.FetchedAt, a.Reject, b.Reject = time.Time{}, time.Time{}, nil, nil
	return a == b
}

// TestFetchedAtTravelsToTheSecond: the fetch time is written to the second
// (the column is a DateTime), in UTC whatever its zone.
func TestFetchedAtTravelsToTheSecond(t *testing.T) {
	hkt := time.FixedZone("HKT", 8*3600)
	e := envelope.Envelope{Provenance: envelope.Provenance{FetchedAt: time.Date(2026, 11, 26, 8, 0, 5, 999_000_000, hkt)}}
	got := headersOf(e)
	if want := (pairs{{"highway-fetched-at", "2026-11-26T00:00:05Z"}}); !reflect.DeepEqual(got, want) {
		t.Fatalf("headers %q, want %q", got, want)
	}
	if back := envelope.ParseHeaders(got.seq); !back.FetchedAt.Equal(fetched) {
		t.Errorf("read back %v, want %v", back.FetchedAt, fetched)
	}
}

// TestParseHeadersIsLenient: a value that cannot be read is left unset, the
// first header of a name counts, and other headers are skipped.
func TestParseHeadersIsLenient(t *testing.T) {
	cases := []struct {
		name    string
		headers pairs
		want    envelope.Envelope
	}{
		{"unknown headers", pairs{{"x-trace", "1"}, {"Content-Type", "text/plain"}}, envelope.Envelope{}},
		{"first of a name", pairs{{"highway-source", "a"}, {"highway-source", "b"}}, envelope.Envelope{Provenance: envelope.Provenance{Source: "a"}}},
		{"bad fetch time and version", pairs{{"highway-fetched-at", "yesterday"}, {"highway-schema-version", "v3"}}, envelope.Envelope{}},
		{"bad row", pairs{{"highway-source-row", "x"}}, envelope.Envelope{}},
		{"offset without partition", pairs{{"highway-source-offset", "9"}},
			envelope.Envelope{Reject: &envelope.Reject{Partition: -1, Offset: 9}}},
		{"bad offset", pairs{{"highway-reason", "r"}, {"highway-source-partition", "1"}, {"highway-source-offset", "x"}},
			envelope.Envelope{Reject: &envelope.Reject{Reason: "r", Partition: -1, Offset: -1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := envelope.ParseHeaders(c.headers.seq); !equal(got, c.want) {
				t.Errorf("got %+v (reject %+v), want %+v (reject %+v)", got, got.Reject, c.want, c.want.Reject)
			}
		})
	}
}

// headerNames returns the value of every Header* constant of the package,
// read from its source, so a header added there is covered by the tests
// below without anyone remembering to list it.
func headerNames(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "envelope.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if !strings.HasPrefix(n.Name, "Header") {
					continue
				}
				v, err := strconv.Unquote(vs.Values[i].(*ast.BasicLit).Value)
				if err != nil {
					t.Fatal(err)
				}
				names[n.Name] = v
			}
		}
	}
	if len(names) < 12 {
		t.Fatalf("found %d header names in envelope.go, want at least 12", len(names))
	}
	return names
}

// TestEveryHeaderIsWrittenAndRead: every header name is written by
// Headers for a full envelope and read back by ParseHeaders. A header
// that one side knows and the other does not fails here.
func TestEveryHeaderIsWrittenAndRead(t *testing.T) {
	full := envelope.Envelope{ContentType: "application/json", Row: 1, HasRow: true,
		Provenance: envelope.Provenance{Source: "s", ETag: "e", FetchedAt: fetched, SchemaVersion: 4, PushedBy: "p"},
		Reject:     &envelope.Reject{Reason: "r", At: rejected, Topic: "t", Partition: 3, Offset: 5}}
	written := map[string]string{}
	for k, v := range full.Headers() {
		written[k] = string(v)
	}
	for name, header := range headerNames(t) {
		v, ok := written[header]
		if !ok {
			t.Errorf("%s (%q) is not written by Envelope.Headers", name, header)
			continue
		}
		// Read the header alone: it must change what is read.
		alone := envelope.ParseHeaders(pairs{{header, v}}.seq)
		if equal(alone, envelope.Envelope{}) {
			t.Errorf("%s (%q: %q) is written but ParseHeaders ignores it", name, header, v)
		}
	}
	if back := envelope.ParseHeaders(headersOf(full).seq); !equal(back, full) {
		t.Errorf("full envelope read back as %+v", back)
	}
}

// TestHeaderNamesAreSpelledOnce: no Go file outside this package (tests
// aside) spells a header name; they use the constants, so a header cannot
// be written under one name and read under another.
func TestHeaderNamesAreSpelledOnce(t *testing.T) {
	names := headerNames(t)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	self, _ := filepath.Abs(".")
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (path == self || strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for name, header := range names {
			if strings.Contains(string(src), strconv.Quote(header)) {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s spells %q; use envelope.%s", rel, header, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
