package store

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go/proto"

	"github.com/cityhighway/highway/highway/catalog"
)

// ledgerServer keeps the ledger rows a fake server was sent, as the
// columns ch-go decoded, and answers reads of the ledger with them: a
// round trip through the native protocol, with no SQL run.
type ledgerServer struct {
	mu   sync.Mutex
	rows proto.Results
	sql  []string
}

func (s *ledgerServer) serve(x *fakeExchange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sql = append(s.sql, x.Query.Body)
	header := func() []proto.InputColumn {
		cols := make([]proto.InputColumn, len(qualityColumns))
		for i, c := range qualityColumns {
			var a proto.ColAuto
			if err := a.Infer(proto.ColumnType(c.typ)); err != nil {
				panic(err)
			}
			cols[i] = proto.InputColumn{Name: c.name, Data: a}
		}
		return cols
	}
	switch {
	case strings.HasPrefix(x.Query.Body, "CREATE"):
		x.end()
	case strings.HasPrefix(x.Query.Body, "INSERT INTO `db`.`highway_quality`"):
		x.data(header()...)
		_ = x.flush()
		var res proto.Results
		if _, err := x.readData(res.Auto()); err != nil {
			x.exception(33, err.Error())
			return
		}
		if _, err := x.readData(nil); err != nil {
			x.exception(33, err.Error())
			return
		}
		s.rows = res
		x.end()
	case strings.HasPrefix(x.Query.Body, "SELECT") && strings.Contains(x.Query.Body, "`db_restricted`"):
		x.exception(60, "Table db_restricted.highway_quality doesn't exist")
	case strings.HasPrefix(x.Query.Body, "SELECT"):
		x.data(header()...)
		if s.rows != nil {
			cols := make([]proto.InputColumn, len(s.rows))
			for i, c := range s.rows {
				cols[i] = proto.InputColumn{Name: c.Name, Data: c.Data.(proto.ColInput)}
			}
			x.data(cols...)
		}
		x.end()
	default:
		x.exception(62, "the fake has no answer for: "+x.Query.Body)
	}
}

// TestQualityLedgerRoundTrip: a ledger row written with WriteQuality reads
// back the same with ReadQuality, its lists and maps through the details
// column; a ledger whose table does not exist yet reads as empty.
func TestQualityLedgerRoundTrip(t *testing.T) {
	srv := &ledgerServer{}
	fake := newFakeClickHouse(t, scripted(route{"highway_quality", srv.serve}, route{"CREATE", func(x *fakeExchange) { x.end() }}))
	st, err := Open(context.Background(), "clickhouse://"+fake.ln.Addr().String()+"/db", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := catalog.Parse("t.yaml", []byte(`
kind: feed
name: test.open
department: TEST
fields:
  - {name: station, type: string, required: true}
  - {name: at, type: time, required: true}
key: [station]
event_time: at
interval: 1m
---
kind: feed
name: test.closed
department: TEST
access: restricted
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
	open, closed := c.Feed("test.open"), c.Feed("test.closed")
	ctx := context.Background()
	if err := st.EnsureQualityTables(ctx); err != nil {
		t.Fatal(err)
	}
	bucket := time.Unix(1795651200, 0).UTC()
	row := QualityRow{Feed: "test.open", Bucket: bucket, BucketSeconds: 3600, Rows: 100, Rejected: 2, DeadLettered: 2, Late: 1, Duplicates: 3, Corrections: 4,
		IntervalsExpected: 60, IntervalsPresent: 59, Gaps: 1, KeysExpected: 10, KeysReporting: 9, KeysMissing: 1, MissingKeys: []string{"S9"},
		MaxDelaySeconds: 42, Freshness: "fresh", DriftFields: 1, Score: 0.9, Parts: QualityParts{Completeness: 0.98, Validity: 0.97, Timeliness: 1, Uniqueness: 0.99, Stability: 0.5, Consistency: 1},
		Rejects:        Rejects{ByReason: map[string]uint64{"range": 2}, ByField: map[string]uint64{"speed": 2}},
		Fields:         []FieldFigures{{Name: "speed", Nulls: 1, NullShare: 0.01}},
		Reconciliation: &Reconciliation{Messages: 102, Unexplained: 0}}
	feeds := map[string]*catalog.Feed{"test.open": open, "test.closed": closed}
	if err := st.WriteQuality(ctx, feeds, []QualityRow{row}, 2, "node-a"); err != nil {
		t.Fatal(err)
	}
	if err := st.WriteQuality(ctx, feeds, []QualityRow{{Feed: "nope"}}, 1, "n"); err == nil || !strings.Contains(err.Error(), `no feed called "nope"`) {
		t.Errorf("a row of no feed: %v", err)
	}
	got, err := st.ReadQuality(ctx, open, bucket, bucket.Add(time.Hour))
	if err != nil || len(got) != 1 {
		t.Fatalf("ReadQuality = %v, %v", got, err)
	}
	if got[0].Attempt != 2 || time.Since(got[0].WrittenAt) > time.Minute {
		t.Errorf("attempt %d written at %s", got[0].Attempt, got[0].WrittenAt)
	}
	got[0].Attempt, got[0].WrittenAt = 0, time.Time{}
	if !reflect.DeepEqual(got[0], row) {
		t.Errorf("read back\n%+v\nwant\n%+v", got[0], row)
	}
	if rows, err := st.LatestQuality(ctx, open, 5); err != nil || len(rows) != 1 {
		t.Errorf("LatestQuality = %v, %v", rows, err)
	}
	if rows, err := st.QualityAt(ctx, open, nil); err != nil || rows != nil {
		t.Errorf("QualityAt of no buckets = %v, %v", rows, err)
	}
	if rows, err := st.QualityAt(ctx, closed, []time.Time{bucket}); err != nil || rows != nil {
		t.Errorf("a ledger not written yet: %v, %v; want none", rows, err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	var sawLimit, sawIn bool
	for _, q := range srv.sql {
		sawLimit = sawLimit || strings.Contains(q, "ORDER BY bucket DESC, `_attempt` DESC LIMIT 1 BY bucket LIMIT 5")
		sawIn = sawIn || strings.Contains(q, "bucket IN (toDateTime(1795651200))")
	}
	if !sawLimit || !sawIn {
		t.Errorf("LatestQuality or QualityAt did not ask as expected:\n%s", strings.Join(srv.sql, "\n"))
	}
}
