package record_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/cityhighway/highway/highway/record"
)

const ipcSpec = `
kind: feed
name: test.ipc
department: TEST
fields:
  - {name: station, type: string, required: true}
  - {name: value, type: float64, max: 100}
  - {name: at, type: time, required: true}
key: [station]
event_time: at
interval: 1m
`

// ipcStream writes one batch with the given columns as an Arrow IPC stream.
func ipcStream(t *testing.T, fields []arrow.Field, fill func(b *array.RecordBuilder)) []byte {
	t.Helper()
	schema := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(memory.NewGoAllocator(), schema)
	defer b.Release()
	fill(b)
	rec := b.NewRecordBatch()
	defer rec.Release()
	data, err := record.EncodeIPC(rec)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestAppendIPC(t *testing.T) {
	feed := parseFeed(t, ipcSpec, "test.ipc")
	at := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	ts := &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}
	data := ipcStream(t, []arrow.Field{
		{Name: "station", Type: arrow.BinaryTypes.String},
		{Name: "value", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "at", Type: ts},
	}, func(b *array.RecordBuilder) {
		b.Field(0).(*array.StringBuilder).AppendValues([]string{"A", "B", "C"}, nil)
		b.Field(1).(*array.Float64Builder).AppendValues([]float64{1.5, 150, 0}, []bool{true, true, false})
		for i := 0; i < 3; i++ {
			b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(at.Unix() + int64(i)))
		}
	})
	dec := record.NewDecoder(feed)
	defer dec.Release()
	n, rejects, err := dec.AppendIPC(data)
	if err != nil || n != 2 || len(rejects) != 1 {
		t.Fatalf("AppendIPC = %d, %v, %v; want 2 rows and 1 reject", n, rejects, err)
	}
	if rejects[0].Row != 1 || rejects[0].Err.Error() != "field value: above the maximum 100" ||
		string(rejects[0].JSON) != `{"at":"2026-11-26T08:00:01Z","station":"B","value":150}` {
		t.Errorf("reject = row %d %q %s", rejects[0].Row, rejects[0].Err, rejects[0].JSON)
	}
	rec := dec.NewRecordBatch()
	defer rec.Release()
	if rec.NumRows() != 2 || rec.Column(0).(*array.String).Value(1) != "C" || !rec.Column(1).IsNull(1) ||
		rec.Column(2).(*array.Timestamp).Value(1) != arrow.Timestamp(at.UnixMilli()+2000) {
		t.Errorf("batch = %v", rec)
	}

	bad := ipcStream(t, []arrow.Field{{Name: "colour", Type: arrow.BinaryTypes.String}}, func(b *array.RecordBuilder) {
		b.Field(0).(*array.StringBuilder).Append("red")
	})
	if _, _, err := dec.AppendIPC(bad); !errors.Is(err, record.ErrRejected) || !strings.Contains(err.Error(), "field colour: unknown field") {
		t.Errorf("unknown column: %v", err)
	}
	wrong := ipcStream(t, []arrow.Field{{Name: "value", Type: arrow.BinaryTypes.String}}, func(b *array.RecordBuilder) {
		b.Field(0).(*array.StringBuilder).Append("fast")
	})
	if _, _, err := dec.AppendIPC(wrong); err == nil || !strings.Contains(err.Error(), "cannot hold float64 values") {
		t.Errorf("wrong type: %v", err)
	}
	if _, _, err := dec.AppendIPC([]byte("not arrow")); !errors.Is(err, record.ErrRejected) {
		t.Errorf("garbage: %v", err)
	}
}

// TestAppendIPCAfterJSONLeavesTheMessageAlone: an Arrow message decoded
// after a JSON record checks its strings' UTF-8 (the slot's "plain ASCII"
// flag left by the JSON record once skipped the check) and leaves that
// record's message alone (its strings were views of it).
func TestAppendIPCAfterJSONLeavesTheMessageAlone(t *testing.T) {
	feed := parseFeed(t, ipcSpec, "test.ipc")
	dec := record.NewDecoder(feed)
	defer dec.Release()
	msg := []byte(`{"station":"JSON-STATION-WITH-A-LONG-NAME","value":1,"at":"2026-11-26T08:00:00Z"}`)
	kept := string(msg)
	if err := dec.Append(msg); err != nil {
		t.Fatal(err)
	}
	at := arrow.Timestamp(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC).Unix())
	ts := &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}
	data := ipcStream(t, []arrow.Field{{Name: "station", Type: arrow.BinaryTypes.String}, {Name: "at", Type: ts}}, func(b *array.RecordBuilder) {
		b.Field(0).(*array.StringBuilder).AppendValues([]string{"ARROW", "bad \xff"}, nil)
		b.Field(1).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{at, at}, nil)
	})
	n, rejects, err := dec.AppendIPC(data)
	if err != nil || n != 1 || len(rejects) != 1 || !strings.Contains(rejects[0].Err.Error(), "not valid UTF-8") {
		t.Fatalf("AppendIPC = %d, %v, %v; want 1 row and the invalid UTF-8 rejected", n, rejects, err)
	}
	if string(msg) != kept {
		t.Fatalf("the JSON message now reads %q", msg)
	}
	rec := dec.NewRecordBatch()
	defer rec.Release()
	if got := rec.Column(0).(*array.String); got.Value(0) != "JSON-STATION-WITH-A-LONG-NAME" || got.Value(1) != "ARROW" {
		t.Errorf("stations = %v", got)
	}
}
