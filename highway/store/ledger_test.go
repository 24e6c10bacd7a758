package store

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/cityhighway/highway/highway/record"
)

func TestMonthOf(t *testing.T) {
	hk, err := time.LoadLocation("Asia/Hong_Kong")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		zone *time.Location
		at   time.Time
		want uint32
	}{
		{"UTC, last second of October", time.UTC, time.Date(2026, 10, 31, 23, 59, 59, 999e6, time.UTC), 202610},
		{"UTC, first of November", time.UTC, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), 202611},
		{"Hong Kong is already in November", hk, time.Date(2026, 10, 31, 16, 0, 0, 0, time.UTC), 202611},
		{"before 1970 rounds down, not toward zero", time.UTC, time.Date(1969, 12, 31, 23, 59, 59, 500e6, time.UTC), 196912},
	}
	for _, c := range cases {
		s := &Store{zone: c.zone}
		if got := s.MonthOf(c.at.UnixMilli()); got != c.want {
			t.Errorf("%s: MonthOf(%d) = %d, want %d", c.name, c.at.UnixMilli(), got, c.want)
		}
	}
}

func TestFloorDiv(t *testing.T) {
	for _, c := range []struct{ a, b, want int64 }{{7, 2, 3}, {-7, 2, -4}, {-8, 2, -4}, {0, 5, 0}, {-1, 1000, -1}, {7, -2, -4}} {
		if got := floorDiv(c.a, c.b); got != c.want {
			t.Errorf("floorDiv(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// testBatch decodes n records of testFeed, lane i for record i.
func testBatch(t *testing.T, n int) (arrow.RecordBatch, Provenance) {
	t.Helper()
	feed := testFeed(t)
	dec := record.NewDecoder(feed)
	defer dec.Release()
	prov := Provenance{Topic: feed.Topic(), IngestedAt: time.Unix(100, 0)}
	for i := range n {
		if err := dec.Append(fmt.Appendf(nil, `{"detector_id":"D","lane":%d,"valid":true,"at":"2026-11-01T00:00:%02dZ"}`, i, i)); err != nil {
			t.Fatal(err)
		}
		prov.Partitions = append(prov.Partitions, int32(i%2))
		prov.Offsets = append(prov.Offsets, int64(10+i))
		prov.Sources = append(prov.Sources, fmt.Sprint("src", i))
	}
	rec := dec.NewRecordBatch()
	t.Cleanup(rec.Release)
	return rec, prov
}

func TestFilterRowsAndProvenance(t *testing.T) {
	rec, prov := testBatch(t, 6)
	cases := []struct {
		name  string
		keep  []bool
		lanes string
	}{
		{"all", []bool{true, true, true, true, true, true}, "[0 1 2 3 4 5]"},
		{"none", []bool{false, false, false, false, false, false}, "[]"},
		{"runs", []bool{true, true, false, true, false, true}, "[0 1 3 5]"},
		{"the last alone", []bool{false, false, false, false, false, true}, "[5]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sub := filterRows(rec, c.keep)
			defer sub.Release()
			lanes := sub.Column(1).(*array.Int64).Int64Values()
			if fmt.Sprint(lanes) != c.lanes || sub.NumCols() != rec.NumCols() {
				t.Errorf("lanes %v (%d columns), want %s", lanes, sub.NumCols(), c.lanes)
			}
			p := prov.filter(c.keep)
			if len(p.Offsets) != len(lanes) || len(p.Partitions) != len(lanes) || len(p.Sources) != len(lanes) || p.ETags != nil || p.Topic != prov.Topic || !p.IngestedAt.Equal(prov.IngestedAt) {
				t.Fatalf("provenance %+v for %d rows", p, len(lanes))
			}
			for i, lane := range lanes {
				if p.Offsets[i] != 10+lane || p.Sources[i] != fmt.Sprint("src", lane) || p.Partitions[i] != int32(lane%2) {
					t.Errorf("row %d (lane %d): offset %d, source %s, partition %d", i, lane, p.Offsets[i], p.Sources[i], p.Partitions[i])
				}
			}
			if err := checkBatch(testFeed(t), sub, p); err != nil {
				t.Errorf("the filtered batch does not fit: %v", err)
			}
		})
	}
}

func TestCheckBatch(t *testing.T) {
	feed := testFeed(t)
	rec, prov := testBatch(t, 3)
	short := prov
	short.Offsets = short.Offsets[:2]
	etags := prov
	etags.ETags = []string{"a"}
	cases := []struct {
		name string
		prov Provenance
		want string
	}{
		{"fits", prov, ""},
		{"an offset missing", short, "batch has 6 columns and 3 rows but 6 fields, 2 offsets and 3 partitions"},
		{"too few etags", etags, "provenance has 1 values for 3 rows"},
	}
	for _, c := range cases {
		err := checkBatch(feed, rec, c.prov)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: checkBatch = %v, want %q", c.name, err, c.want)
		}
	}
}

func TestCreateLedgerTable(t *testing.T) {
	cases := []struct {
		ddl   DDL
		table string
	}{
		{DDL{Database: "highway"}, "`highway_restricted`.`highway_batches`"},
		{DDL{Database: "db", Restricted: "secret"}, "`secret`.`highway_batches`"},
	}
	for _, c := range cases {
		want := "CREATE TABLE IF NOT EXISTS " + c.table + " (\n  `topic` String,\n  `partition` Int32,\n  `next_offset` Int64,\n  `written_at` DateTime\n) ENGINE = ReplacingMergeTree(next_offset)\nORDER BY (topic, partition)"
		if got := strings.Join(c.ddl.CreateLedgerTable(), ";\n"); got != want {
			t.Errorf("CreateLedgerTable:\n got %s\nwant %s", got, want)
		}
	}
}
