package record_test

import (
	"errors"
	"testing"

	"github.com/cityhighway/highway/highway/record"
)

// FuzzAppendIPC: whatever bytes arrive as an Arrow message, the decoder
// accepts rows or rejects them with a reason; it never panics, and the batch
// holds exactly the accepted rows.
func FuzzAppendIPC(f *testing.F) {
	feed := parseFeed(f, ipcSpec, "test.ipc")
	src := record.NewDecoder(feed)
	for _, v := range []string{
		`{"station":"A","value":1,"at":"2026-11-26T09:00:00Z"}`,
		`{"station":"B","at":1795651200000}`,
	} {
		if err := src.Append([]byte(v)); err != nil {
			f.Fatal(err)
		}
	}
	rec := src.NewRecordBatch()
	seed, err := record.EncodeIPC(rec)
	rec.Release()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Add([]byte{})
	f.Add([]byte("\xff\xff\xff\xff\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := record.NewDecoder(feed)
		defer dec.Release()
		n, rejects, err := dec.AppendIPC(data)
		if err != nil && !errors.Is(err, record.ErrRejected) {
			t.Fatalf("error that is not a reject: %v", err)
		}
		for _, r := range rejects {
			if r.Err == nil || len(r.JSON) == 0 {
				t.Fatalf("reject without reason or record: %+v", r)
			}
		}
		out := dec.NewRecordBatch()
		defer out.Release()
		if int(out.NumRows()) != n {
			t.Fatalf("batch has %d rows, %d accepted", out.NumRows(), n)
		}
	})
}
