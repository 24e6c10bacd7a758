package record_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/cityhighway/highway/highway/record"
)

// TestBatchColumnsAcrossBitmapBytes decodes batches whose nulls and false
// booleans start, stop and alternate around the bytes of Arrow's bitmaps
// (rows 0, 7, 8, 9, 16, ...), and checks every value of every row, the null
// counts and that the next batch starts afresh.
func TestBatchColumnsAcrossBitmapBytes(t *testing.T) {
	at := time.Date(2026, 11, 26, 0, 30, 0, 0, time.UTC)
	tests := []struct {
		name string
		rows int
		null func(i int) bool // whether row i leaves the optional fields null
	}{
		{"no nulls", 20, func(int) bool { return false }},
		{"all null", 20, func(int) bool { return true }},
		{"first null at row 0", 17, func(i int) bool { return i == 0 }},
		{"first null at row 7", 17, func(i int) bool { return i == 7 }},
		{"first null at row 8", 17, func(i int) bool { return i == 8 }},
		{"first null at row 9", 25, func(i int) bool { return i >= 9 && i%3 == 0 }},
		{"last row null", 16, func(i int) bool { return i == 15 }},
		{"every other row", 33, func(i int) bool { return i%2 == 1 }},
		{"one row", 1, func(int) bool { return true }},
	}
	d := newDecoder(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for batch := range 2 { // the second batch checks the reset
				if batch == 1 {
					d.Reserve(tt.rows)
				}
				var want [][]any
				for i := range tt.rows {
					station := fmt.Sprintf("S%d-%s", i, strings.Repeat("x", i%5))
					when := at.Add(time.Duration(i+batch) * time.Second)
					row := []any{station, nil, nil, nil, nil, nil, when}
					rec := fmt.Sprintf(`{"station":%q,"at":%d`, station, when.UnixMilli())
					if !tt.null(i) {
						count, level, open := int64(i*7+batch), float64(i)/4-1, i%3 == 0
						note := strings.Repeat("é", i%4)
						row = []any{station, count, level, open, "low", note, when}
						rec += fmt.Sprintf(`,"count":%d,"level":%v,"open":%v,"risk":"low","note":%q`, count, level, open, note)
					} else if i%2 == 0 {
						rec += `,"count":null,"open":null,"note":null`
					}
					if err := d.Append([]byte(rec + "}")); err != nil {
						t.Fatalf("batch %d row %d %s: %v", batch, i, rec, err)
					}
					want = append(want, row)
				}
				if d.Len() != tt.rows {
					t.Fatalf("Len = %d, want %d", d.Len(), tt.rows)
				}
				b := d.NewRecordBatch()
				for col, a := range b.Columns() {
					if s, ok := a.(*array.String); ok {
						if err := s.ValidateFull(); err != nil {
							t.Fatalf("batch %d column %d does not validate: %v", batch, col, err)
						}
					}
				}
				got := rows(t, b)
				for i := range want {
					if !equalRow(got[i], want[i]) {
						t.Errorf("batch %d row %d = %v, want %v", batch, i, got[i], want[i])
					}
				}
				nulls := 0
				for i := range tt.rows {
					if tt.null(i) {
						nulls++
					}
				}
				for col := colCount; col <= colNote; col++ {
					if n := b.Column(col).NullN(); n != nulls {
						t.Errorf("batch %d column %d has %d nulls, want %d", batch, col, n, nulls)
					}
				}
				if n := b.Column(colStation).NullN(); n != 0 {
					t.Errorf("batch %d: station has %d nulls", batch, n)
				}
				checkIPCRoundTrip(t, b)
				b.Release()
				if d.Len() != 0 {
					t.Fatalf("Len after NewRecordBatch = %d", d.Len())
				}
			}
		})
	}
}

// checkIPCRoundTrip checks that b survives an Arrow IPC stream unchanged
// (the writer reads every buffer, bitmaps included).
func checkIPCRoundTrip(t *testing.T, b arrow.RecordBatch) {
	t.Helper()
	data, err := record.EncodeIPC(b)
	if err != nil {
		t.Fatalf("EncodeIPC: %v", err)
	}
	r, err := ipc.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("reading the IPC stream: %v", err)
	}
	defer r.Release()
	if !r.Next() {
		t.Fatalf("the IPC stream holds no batch: %v", r.Err())
	}
	if !array.RecordEqual(b, r.RecordBatch()) {
		t.Errorf("the batch read back from IPC differs:\n%v\nwant\n%v", r.RecordBatch(), b)
	}
}
