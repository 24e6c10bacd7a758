// Package connectortest helps test parsers: it compares their results with
// expected records and rejects, proves every record against the built-in
// feed specs with the platform's own decoder, and checks the invariants a
// fuzz target asserts.
package connectortest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cityhighway/highway/connectors/connector"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/record"
)

// Want is an expected record: feed, key, where and JSON value, in that
// order (an array, so that tables of them read as rows). The JSON is
// compared by meaning (decoded), not by bytes.
type Want [4]string

// WantReject is an expected reject: feed, where and reason, compared exactly.
type WantReject [3]string

var (
	builtinOnce sync.Once
	builtin     *catalog.Catalog
	builtinErr  error
)

// Builtin returns the built-in catalogue.
func Builtin(t testing.TB) *catalog.Catalog {
	t.Helper()
	builtinOnce.Do(func() { builtin, builtinErr = catalog.Builtin() })
	if builtinErr != nil {
		t.Fatal(builtinErr)
	}
	return builtin
}

// Sample reads testdata/name.
func Sample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// SharedSamplesEnv names the folder of the shared samples when they are not
// at shared/feeds/samples beside the repository.
const SharedSamplesEnv = "HIGHWAY_SHARED_SAMPLES"

// SharedManifest is the file in testdata that records the SHA-256 of each
// shared sample copied there, in sha256sum's format ("HASH  NAME" lines;
// `sha256sum NAME... > testdata/shared.sha256` writes it).
const SharedManifest = "shared.sha256"

// rootModule is the module line of the repository's top go.mod.
const rootModule = "module github.com/cityhighway/highway"

// SharedSamples returns the folder of the shared samples: $HIGHWAY_SHARED_SAMPLES
// (which must exist), or shared/feeds/samples beside the repository (the
// folder whose go.mod is the root module's, found upwards from the test's
// folder), where the workspace keeps shared/. It returns "" and why when
// there is none: a clone of the repository alone has no shared/ beside it.
func SharedSamples(t testing.TB) (dir, why string) {
	t.Helper()
	if dir := os.Getenv(SharedSamplesEnv); dir != "" {
		if _, err := os.Stat(dir); err != nil {
			t.Fatalf("%s=%s: %v", SharedSamplesEnv, dir, err)
		}
		return dir, ""
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && slices.Contains(strings.Split(string(b), "\n"), rootModule) {
			samples := filepath.Join(filepath.Dir(dir), "shared", "feeds", "samples")
			if _, err := os.Stat(samples); err != nil {
				return "", fmt.Sprintf("no shared samples beside the repository %s (%v)", dir, err)
			}
			return samples, ""
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Sprintf("no repository (a go.mod of %s) above %s", strings.TrimSpace(strings.TrimPrefix(rootModule, "module ")), wd)
		}
	}
}

// SameAsShared fails t if a copy in testdata is not the shared sample of
// the same name, so the copies stay the real payloads. Every copy is
// checked against the SHA-256 recorded in testdata/shared.sha256, always;
// where the shared samples are at hand (SharedSamples), the shared files
// are checked against the same record, so a sample changed upstream is
// noticed too.
func SameAsShared(t *testing.T, names ...string) {
	t.Helper()
	manifest, err := os.ReadFile(filepath.Join("testdata", SharedManifest))
	if err != nil {
		t.Fatalf("reading the record of the shared samples: %v (write it with: cd testdata && sha256sum %s > %s)", err, strings.Join(names, " "), SharedManifest)
	}
	recorded := map[string]string{}
	for n, line := range strings.Split(strings.TrimSpace(string(manifest)), "\n") {
		hash, name, ok := strings.Cut(line, "  ")
		if !ok || len(hash) != 64 {
			t.Fatalf("testdata/%s:%d: want \"SHA256  NAME\", got %q", SharedManifest, n+1, line)
		}
		recorded[name] = hash
	}
	dir, why := SharedSamples(t)
	if dir == "" {
		t.Logf("the copies are checked against testdata/%s only: %s (put shared/ beside it or set %s to check the shared files too)", SharedManifest, why, SharedSamplesEnv)
	}
	for _, name := range names {
		want, ok := recorded[name]
		if !ok {
			t.Errorf("testdata/%s has no line for %s: add `sha256sum %s`", SharedManifest, name, name)
			continue
		}
		if got := sha256Hex(Sample(t, name)); got != want {
			t.Errorf("testdata/%s (sha256 %s) is not the shared sample recorded in testdata/%s (%s); copy it again", name, got, SharedManifest, want)
		}
		if dir == "" {
			continue
		}
		shared, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := sha256Hex(shared); got != want {
			t.Errorf("%s/%s changed (sha256 %s, recorded %s): copy it to testdata again and record its hash in testdata/%s", dir, name, got, want, SharedManifest)
		}
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Valid fails t for every record of res that the built-in spec of its feed
// does not accept, using highway/record's decoder: what passes here is what
// the processors accept.
func Valid(t testing.TB, res connector.Result) {
	t.Helper()
	c := Builtin(t)
	decoders := map[string]*record.Decoder{}
	defer func() {
		for _, d := range decoders {
			d.Release()
		}
	}()
	for i, rec := range res.Records {
		f := c.Feed(rec.Feed)
		if f == nil {
			t.Errorf("record %d (%s): feed %q is not built in", i, rec.Where, rec.Feed)
			continue
		}
		d := decoders[rec.Feed]
		if d == nil {
			d = record.NewDecoder(f)
			decoders[rec.Feed] = d
		}
		if err := d.Append(rec.Value); err != nil {
			t.Errorf("record %d (%s) of %s does not fit its spec: %v\n%s", i, rec.Where, rec.Feed, err, rec.Value)
		}
	}
}

// Case is one row of a parser's table test: a payload (text or bytes)
// and the records and rejects parsing it gives.
type Case[P string | []byte] struct {
	Name    string
	Payload P
	Records []Want
	Rejects []WantReject
}

// Run runs each case as a subtest named for it: parse must read the
// payload without an error and give exactly the case's records and rejects
// (Check).
func Run[P string | []byte](t *testing.T, parse func([]byte) (connector.Result, error), cases []Case[P]) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			res, err := parse([]byte(c.Payload))
			if err != nil {
				t.Fatal(err)
			}
			Check(t, res, c.Records, c.Rejects)
		})
	}
}

// Check compares res with the expected records and rejects, in order, and
// proves the records valid against the built-in specs.
func Check(t testing.TB, res connector.Result, records []Want, rejects []WantReject) {
	t.Helper()
	Valid(t, res)
	for i := 0; i < max(len(records), len(res.Records)); i++ {
		switch {
		case i >= len(records):
			t.Errorf("extra record %d: %s %q at %s: %s", i, res.Records[i].Feed, res.Records[i].Key, res.Records[i].Where, res.Records[i].Value)
			continue
		case i >= len(res.Records):
			t.Errorf("missing record %d: %q", i, records[i])
			continue
		}
		got, want := res.Records[i], records[i]
		if got.Feed != want[0] || got.Key != want[1] || got.Where != want[2] {
			t.Errorf("record %d: got %s %q at %q, want %s %q at %q", i, got.Feed, got.Key, got.Where, want[0], want[1], want[2])
		}
		if !SameJSON(t, got.Value, []byte(want[3])) {
			t.Errorf("record %d (%s):\n got %s\nwant %s", i, got.Where, got.Value, want[3])
		}
	}
	for i := 0; i < max(len(rejects), len(res.Rejects)); i++ {
		switch {
		case i >= len(rejects):
			r := res.Rejects[i]
			t.Errorf("extra reject %d: {%q, %q, %q}", i, r.Feed, r.Where, r.Reason)
			continue
		case i >= len(res.Rejects):
			t.Errorf("missing reject %d: %q", i, rejects[i])
			continue
		}
		got, want := res.Rejects[i], rejects[i]
		if got.Feed != want[0] || got.Where != want[1] || got.Reason != want[2] {
			t.Errorf("reject %d:\n got {%q, %q, %q}\nwant %q", i, got.Feed, got.Where, got.Reason, want)
		}
	}
}

// SameJSON reports whether two JSON documents mean the same.
func SameJSON(t testing.TB, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Errorf("not JSON: %v: %s", err, a)
		return false
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("expected value is not JSON: %v: %s", err, b)
	}
	return reflect.DeepEqual(x, y)
}

// Invariants checks what every parser guarantees whatever its input, for
// fuzz targets: an error is a payload error with a message; every record
// has a feed of the given set, a key, and a value that is one flat JSON
// object; every reject has a feed of the set and a reason.
func Invariants(t testing.TB, res connector.Result, err error, feeds ...string) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, connector.ErrPayload) || err.Error() == "" {
			t.Fatalf("error %T %q is not a payload error", err, err)
		}
	}
	known := func(f string) bool {
		for _, k := range feeds {
			if f == k {
				return true
			}
		}
		return false
	}
	for _, rec := range res.Records {
		if !known(rec.Feed) || rec.Key == "" || rec.Where == "" {
			t.Fatalf("record without feed, key or where: %+v", rec)
		}
		if err := flat(rec.Value); err != nil {
			t.Fatalf("record %s: %v: %s", rec.Where, err, rec.Value)
		}
	}
	for _, r := range res.Rejects {
		if !known(r.Feed) || r.Reason == "" || r.Where == "" || len(r.Raw) > connector.MaxRaw {
			t.Fatalf("bad reject: %+v", r)
		}
	}
}

// flat checks that v is one JSON object of scalar members.
func flat(v []byte) error {
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return err
	}
	if d.More() {
		return errors.New("data after the object")
	}
	if m == nil {
		return errors.New("null, not an object")
	}
	for k, x := range m {
		switch x.(type) {
		case map[string]any, []any:
			return fmt.Errorf("member %s is not a scalar", k)
		}
		if strings.TrimSpace(k) == "" {
			return errors.New("empty member name")
		}
	}
	return nil
}
