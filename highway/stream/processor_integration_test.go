//go:build integration

package stream_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/envelope"
	"github.com/cityhighway/highway/highway/record"
	"github.com/cityhighway/highway/highway/store"
	"github.com/cityhighway/highway/highway/stream"
	"github.com/cityhighway/highway/internal/testenv"
)

// rig is one test's feed, topic, bus and database on the real services.
type rig struct {
	feed     *catalog.Feed
	pipeline *catalog.Pipeline
	bus      *bus.Bus
	prod     *bus.Producer
	store    *store.Store
}

const readingsSpec = `
kind: feed
name: {{name}}
department: TEST
fields:
  - {name: station, type: string, required: true}
  - {name: value, type: float64, min: 0, max: 100}
  - {name: at, type: time, required: true}
key: [station]
event_time: at
interval: 1m
`

func newRig(t *testing.T) *rig { return newRigSpec(t, readingsSpec) }

// newRigSpec sets up the feed (and pipeline) of spec, where {{name}} stands
// for a feed name unique to the test, in a fresh database.
func newRigSpec(t *testing.T, spec string) *rig {
	t.Helper()
	return newRigWithStore(t, spec, testenv.Database(t))
}

// newRigWithStore is newRigSpec on the ClickHouse at dsn.
func newRigWithStore(t *testing.T, spec, dsn string) *rig {
	t.Helper()
	return newRigWith(t, spec, dsn, bus.Config{Brokers: testenv.Kafka(t), SessionTimeout: 6 * time.Second})
}

// newRigWith is newRigSpec on the ClickHouse at dsn and the Kafka of cfg.
func newRigWith(t *testing.T, spec, dsn string, cfg bus.Config) *rig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := strings.Replace(testenv.Name("it.readings"), "_", "x", 1)
	spec = strings.ReplaceAll(spec, "{{name}}", name)
	c, err := catalog.Parse("test.yaml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	b, err := bus.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	feed := c.Feeds()[0]
	if err := b.EnsureTopics(ctx, 2, feed.Topic(), feed.DLQTopic()); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureFeedTable(ctx, feed); err != nil {
		t.Fatal(err)
	}
	r := &rig{feed: feed, pipeline: c.PipelineOf(feed.Name), bus: b, prod: b.NewProducer(), store: st}
	t.Cleanup(func() { r.prod.Close(); st.Close(); b.Close() })
	return r
}

// produce writes n good records (value = i mod 100) for 10 stations, and
// after every `every` good records one of the given bad ones.
func (r *rig) produce(t *testing.T, n int, bad []string, every int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	var msgs []bus.Message
	for i := 0; i < n; i++ {
		station := "S" + strconv.Itoa(i%10)
		v := fmt.Sprintf(`{"station":%q,"value":%d,"at":%q}`, station, i%100, base.Add(time.Duration(i)*time.Second).Format(time.RFC3339))
		msgs = append(msgs, bus.Message{Topic: r.feed.Topic(), Key: []byte(station), Value: []byte(v)})
		if every > 0 && i%every == 0 && len(bad) > 0 {
			msgs = append(msgs, bus.Message{Topic: r.feed.Topic(), Key: []byte(station), Value: []byte(bad[(i/every)%len(bad)])})
		}
	}
	if err := r.prod.Produce(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) processor(t *testing.T, sink stream.Sink) *stream.Processor {
	t.Helper()
	if sink == nil {
		sink = r.store
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := stream.Config{Feed: r.feed, MaxRows: 300, MaxWait: 100 * time.Millisecond, Logger: log}
	if r.pipeline != nil {
		pl := *r.pipeline
		pl.Batch = catalog.BatchLimits{Rows: 300, Bytes: 1 << 20, MaxWait: 100 * time.Millisecond}
		cfg.Pipeline = &pl
	}
	p, err := stream.NewProcessor(cfg, r.bus, sink, r.prod)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// committedEnd fails t unless the processor's consumer group has
// committed the end of every partition of the feed's topic.
func (r *rig) committedEnd(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	ends, err := r.bus.EndOffsets(ctx, r.feed.Topic())
	if err != nil {
		t.Fatal(err)
	}
	committed, err := r.bus.CommittedOffsets(ctx, "highway."+r.feed.Name, r.feed.Topic())
	if err != nil {
		t.Fatal(err)
	}
	for part, end := range ends {
		if committed[part] != end {
			t.Errorf("partition %d: committed %d, want the end %d", part, committed[part], end)
		}
	}
}

func (r *rig) count(t *testing.T) (rows, distinct uint64) {
	t.Helper()
	q := fmt.Sprintf("SELECT count(), uniqExact(_partition, _offset) FROM %s", r.feed.Table())
	if err := r.store.QueryRow(context.Background(), []any{&rows, &distinct}, q); err != nil {
		t.Fatal(err)
	}
	return rows, distinct
}

// waitRows waits until the table has want rows (and fails if it passes it).
func (r *rig) waitRows(t *testing.T, want uint64) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		rows, _ := r.count(t)
		if rows == want {
			return
		}
		if rows > want || time.Now().After(deadline) {
			t.Fatalf("table has %d rows, want %d", rows, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestProcessorDeliversEveryGoodRecordAndDeadLettersBadOnes(t *testing.T) {
	r := newRig(t)
	bad := []string{
		`{"station":"S1","value":"high","at":"2026-11-26T00:00:00Z"}`,
		`{"station":"S1","value":101,"at":"2026-11-26T00:00:00Z"}`,
		`{"value":5,"at":"2026-11-26T00:00:00Z"}`,
		`not json at all`,
		`{"station":"S1","at":"yesterday"}`,
	}
	const n = 5000
	r.produce(t, n, bad, 500) // 10 bad records among 5000 good ones
	p := r.processor(t, nil)
	stop := start(t, p)
	r.waitRows(t, n)
	time.Sleep(time.Second) // nothing more may arrive
	stop()

	rows, distinct := r.count(t)
	if rows != n || distinct != n {
		t.Fatalf("rows=%d distinct=%d, want %d", rows, distinct, n)
	}
	// Commits are spaced a second apart, and the last one is made when the
	// claim ends: the group has committed everything.
	r.committedEnd(t)
	var sum float64
	var stations uint64
	q := fmt.Sprintf("SELECT sum(value), uniqExact(station) FROM %s", r.feed.Table())
	if err := r.store.QueryRow(context.Background(), []any{&sum, &stations}, q); err != nil {
		t.Fatal(err)
	}
	if want := float64(50 * 4950); sum != want || stations != 10 {
		t.Errorf("sum(value)=%v stations=%d, want %v and 10", sum, stations, want)
	}

	dead, err := r.bus.ReadAll(context.Background(), r.feed.DLQTopic())
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 10 {
		t.Fatalf("DLQ has %d records, want 10", len(dead))
	}
	wantReasons := map[string]string{
		bad[0]: `field value: value "high": must be a number, not a string`,
		bad[1]: `field value: value 101: above the maximum 100`,
		bad[2]: `field station: required field is missing or null`,
		bad[3]: `at byte 0: a record must be a JSON object starting with '{'`,
		bad[4]: `field at: value "yesterday": not a time: write RFC 3339 with an offset, like "2026-11-26T08:30:00+08:00", or milliseconds since 1970`,
	}
	for _, m := range dead {
		want, ok := wantReasons[string(m.Value)]
		if !ok {
			t.Errorf("unexpected DLQ record %q", m.Value)
			continue
		}
		if got := string(m.Header(envelope.HeaderReason)); got != want {
			t.Errorf("reason of %s = %q, want %q", m.Value, got, want)
		}
		if string(m.Header(envelope.HeaderSourceTopic)) != r.feed.Topic() || m.Header(envelope.HeaderSourceOffset) == nil || m.Header(envelope.HeaderRejectedAt) == nil {
			t.Errorf("DLQ record %q lacks provenance headers: %v", m.Value, m.Headers)
		}
	}
}

func TestProcessorRestartWritesEachRowOnce(t *testing.T) {
	r := newRig(t)
	const n = 20000
	r.produce(t, n, nil, 0)
	stop := start(t, r.processor(t, nil))
	// Stop in the middle.
	deadline := time.Now().Add(time.Minute)
	for {
		rows, _ := r.count(t)
		if rows > 0 && rows < n {
			break
		}
		if rows == n || time.Now().After(deadline) {
			t.Fatalf("could not stop in the middle: %d rows", rows)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	mid, _ := r.count(t)
	t.Logf("stopped with %d of %d rows", mid, n)
	stop = start(t, r.processor(t, nil))
	r.waitRows(t, n)
	r.waitLedgerAtRows(t)
	stop()
	if rows, distinct := r.count(t); rows != n || distinct != n {
		t.Fatalf("rows=%d distinct=%d, want %d", rows, distinct, n)
	}
}

// waitLedgerAtRows waits, with the processor still running, until the batch
// ledger of both partitions says what the table holds: once records stop,
// the last batches are recorded within a second or so (ops/stack check
// waits for the ledger, not the rows; a batch written less than a second
// after the last entry used to wait for another batch).
func (r *rig) waitLedgerAtRows(t *testing.T) {
	t.Helper()
	began := time.Now()
	for partition := 0; partition < 2; partition++ {
		for {
			res, err := r.store.ResumePoint(context.Background(), r.feed, r.feed.Topic(), partition)
			if err != nil {
				t.Fatal(err)
			}
			if res.HasLedger && res.Ledger == res.TableNext {
				break
			}
			if time.Since(began) > 10*time.Second {
				t.Fatalf("partition %d: ledger at %d (has ledger: %v) 10 s after every row landed, the table's rows up to %d", partition, res.Ledger, res.HasLedger, res.TableNext)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("the ledger at the table's rows %s after they landed", time.Since(began).Round(time.Millisecond))
}

// crashAfterInsert stops its processor right after an insert succeeds and
// before the Kafka commit, the window where at-least-once systems duplicate.
type crashAfterInsert struct {
	*store.Store
	once  sync.Once
	crash func()
}

func (c *crashAfterInsert) InsertMissing(ctx context.Context, feed *catalog.Feed, rec arrow.RecordBatch, prov store.Provenance, landed store.Landed) (int, int, error) {
	inserted, skipped, err := c.Store.InsertMissing(ctx, feed, rec, prov, landed)
	if err == nil {
		c.once.Do(c.crash)
	}
	return inserted, skipped, err
}

func TestProcessorCrashBetweenInsertAndCommit(t *testing.T) {
	r := newRig(t)
	const n = 3000
	r.produce(t, n, nil, 0)
	ctx, cancel := context.WithCancel(context.Background())
	sink := &crashAfterInsert{Store: r.store, crash: cancel}
	p := r.processor(t, sink)
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	first, _ := r.count(t)
	if first == 0 || first == n {
		t.Fatalf("after the crash the table has %d rows; want some but not all", first)
	}
	stop := start(t, r.processor(t, nil))
	r.waitRows(t, n)
	time.Sleep(time.Second)
	stop()
	if rows, distinct := r.count(t); rows != n || distinct != n {
		t.Fatalf("rows=%d distinct=%d, want %d", rows, distinct, n)
	}
}

// An Arrow IPC message carries several rows; its bad rows go to the DLQ as
// JSON, its good ones arrive beside the JSON records.
func TestProcessorArrowMessages(t *testing.T) {
	r := newRig(t)
	r.produce(t, 10, nil, 0)
	// Built from JSON records with the feed's own decoder: the same schema a
	// department's Arrow client would send.
	src := record.NewDecoder(r.feed)
	for _, v := range []string{
		`{"station":"A1","value":1,"at":"2026-11-26T09:00:00Z"}`,
		`{"station":"A2","value":2,"at":"2026-11-26T09:00:01Z"}`,
		`{"station":"A3","at":"2026-11-26T09:00:02Z"}`,
	} {
		if err := src.Append([]byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	batch := src.NewRecordBatch()
	defer batch.Release()
	payload, err := record.EncodeIPC(batch)
	if err != nil {
		t.Fatal(err)
	}
	// A second message whose schema the feed does not have.
	other := record.NewDecoder(mustOtherFeed(t))
	if err := other.Append([]byte(`{"colour":"red","at":"2026-11-26T09:00:00Z"}`)); err != nil {
		t.Fatal(err)
	}
	otherBatch := other.NewRecordBatch()
	defer otherBatch.Release()
	wrong, err := record.EncodeIPC(otherBatch)
	if err != nil {
		t.Fatal(err)
	}
	arrowHeader := []bus.Header{{Key: envelope.HeaderContentType, Value: []byte(record.ContentTypeArrow)}}
	if err := r.prod.Produce(context.Background(),
		bus.Message{Topic: r.feed.Topic(), Key: []byte("A"), Value: payload, Headers: arrowHeader},
		bus.Message{Topic: r.feed.Topic(), Key: []byte("A"), Value: wrong, Headers: arrowHeader},
	); err != nil {
		t.Fatal(err)
	}
	stop := start(t, r.processor(t, nil))
	r.waitRows(t, 13)
	time.Sleep(500 * time.Millisecond)
	stop()
	dead, err := r.bus.ReadAll(context.Background(), r.feed.DLQTopic())
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 {
		t.Fatalf("DLQ has %d records, want 1 (the message of another schema)", len(dead))
	}
	if got := string(dead[0].Header(envelope.HeaderReason)); got != "field colour: unknown field; the feed "+r.feed.Name+" has station, value, at" {
		t.Errorf("reason = %q", got)
	}
}

func mustOtherFeed(t *testing.T) *catalog.Feed {
	t.Helper()
	c, err := catalog.Parse("other.yaml", []byte(`
kind: feed
name: test.other
department: TEST
fields: [{name: colour, type: string, required: true}, {name: at, type: time, required: true}]
key: [colour]
event_time: at
interval: 1m
`))
	if err == nil {
		return c.Feeds()[0]
	}
	t.Fatal(err)
	return nil
}

// A record's source headers become its row's provenance columns.
func TestProcessorKeepsProvenance(t *testing.T) {
	r := newRig(t)
	headers := []bus.Header{
		{Key: envelope.HeaderSource, Value: []byte("https://data.example/feed.json")},
		{Key: envelope.HeaderETag, Value: []byte(`"abc"`)},
		{Key: envelope.HeaderFetchedAt, Value: []byte("2026-11-26T08:00:05+08:00")},
		{Key: envelope.HeaderSchemaVersion, Value: []byte("3")},
	}
	err := r.prod.Produce(context.Background(),
		bus.Message{Topic: r.feed.Topic(), Key: []byte("P"), Value: []byte(`{"station":"P","at":"2026-11-26T00:00:00Z"}`)},
		bus.Message{Topic: r.feed.Topic(), Key: []byte("P"), Value: []byte(`{"station":"P","at":"2026-11-26T00:00:01Z"}`), Headers: headers},
	)
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, r.processor(t, nil))
	r.waitRows(t, 2)
	stop()
	var got []string
	q := fmt.Sprintf("SELECT _source, _etag, toUnixTimestamp(_fetched_at), _schema_version FROM %s ORDER BY at", r.feed.Table())
	err = r.store.QueryEach(context.Background(), q, func(scan func(...any) error) error {
		var (
			src, etag string
			at        uint32
			version   uint32
		)
		if err := scan(&src, &etag, &at, &version); err != nil {
			return err
		}
		got = append(got, fmt.Sprintf("%s %s %d v%d", src, etag, at, version))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"  0 v1", `https://data.example/feed.json "abc" 1795651205 v3`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("provenance:\n got %q\nwant %q", got, want)
	}
}

// TestProcessorSkipsAnUnreadableBatch: a record batch Kafka holds but the
// processor cannot read (here one that inflates past the bus's limit) does
// not stop the partition: it becomes one dead-letter record saying where it
// is and why, and the records after it arrive.
func TestProcessorSkipsAnUnreadableBatch(t *testing.T) {
	r := newRig(t)
	small, err := bus.New(bus.Config{Brokers: testenv.Kafka(t), SessionTimeout: 6 * time.Second, MaxBatchBytes: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { small.Close() })
	r.bus = small

	const n = 1000
	r.produce(t, n, nil, 0)
	// One record alone in its batch that inflates to 600 KiB (snappy makes
	// it a few KiB, so Kafka takes it).
	big := bus.Message{Topic: r.feed.Topic(), Key: []byte("S1"), Value: bytes.Repeat([]byte("x"), 600<<10)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.prod.Produce(ctx, big); err != nil {
		t.Fatal(err)
	}
	r.produce(t, n, nil, 0)

	stop := start(t, r.processor(t, nil))
	r.waitRows(t, 2*n)
	time.Sleep(time.Second)
	stop()
	if rows, distinct := r.count(t); rows != 2*n || distinct != 2*n {
		t.Fatalf("rows=%d distinct=%d, want %d", rows, distinct, 2*n)
	}
	dead, err := r.bus.ReadAll(ctx, r.feed.DLQTopic())
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 {
		t.Fatalf("DLQ has %d records, want 1", len(dead))
	}
	reason := string(dead[0].Header(envelope.HeaderReason))
	if !strings.Contains(reason, "cannot be read: decompressing (snappy): a record batch of") || !strings.Contains(reason, "inflates past 262144 bytes; skipped") ||
		string(dead[0].Header(envelope.HeaderSourceTopic)) != r.feed.Topic() || dead[0].Header(envelope.HeaderSourceOffset) == nil {
		t.Errorf("DLQ record: reason %q, headers %v", reason, dead[0].Headers)
	}
}
