package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/cityhighway/highway/highway/catalog"
)

// ContentTypeArrow is the content type of a message that carries an Arrow
// IPC stream of records; ContentTypeJSON, of one JSON record (the default).
const (
	ContentTypeArrow = "application/vnd.apache.arrow.stream"
	ContentTypeJSON  = "application/json"
)

// RowReject is a row of an Arrow message that does not fit the feed: its
// position in the message, the row rendered as a JSON record, and why.
type RowReject struct {
	Row  int
	JSON []byte
	Err  error
}

// AppendIPC decodes an Arrow IPC stream of records of the feed and appends
// every row that fits, as Append does for JSON. Columns are matched to
// fields by name; a column whose type cannot hold the field's values, or
// that the feed does not have, makes the whole message an error (nothing is
// appended). Rows that break the spec come back as RowRejects.
func (d *Decoder) AppendIPC(data []byte) (accepted int, rejects []RowReject, err error) {
	// The IPC reader trusts the lengths in its input; a crafted message can
	// make it panic. A message is data from outside: reject it instead.
	defer func() {
		if p := recover(); p != nil {
			err = &Reject{Reason: fmt.Sprintf("malformed Arrow IPC stream: %v", p)}
		}
	}()
	if err := checkIPCFraming(data); err != nil {
		return 0, nil, &Reject{Reason: "malformed Arrow IPC stream: " + err.Error()}
	}
	// Lengths in the stream are the sender's word: bound what reading it may
	// allocate, so a crafted message cannot exhaust memory.
	mem := &boundedAllocator{Allocator: memory.NewGoAllocator(), left: int64(len(data))*8 + 1<<20}
	r, err := ipc.NewReader(bytes.NewReader(data), ipc.WithAllocator(mem),
		ipc.WithMetadataSizeLimit(int64(len(data))), ipc.WithBodySizeLimit(int64(len(data))))
	if err != nil {
		return 0, nil, &Reject{Reason: "not an Arrow IPC stream: " + err.Error()}
	}
	defer r.Release()
	row := 0
	for r.Next() {
		rec := r.RecordBatch()
		cols, err := d.matchColumns(rec.Schema())
		if err != nil {
			return accepted, rejects, err
		}
		for i := 0; i < int(rec.NumRows()); i, row = i+1, row+1 {
			d.resetSlots()
			d.fillFromArrow(rec, cols, i)
			if err := d.finish(); err != nil {
				if errors.Is(err, ErrDuplicate) {
					continue
				}
				rejects = append(rejects, RowReject{Row: row, JSON: d.slotsJSON(), Err: err})
				continue
			}
			accepted++
		}
	}
	if err := r.Err(); err != nil && !errors.Is(err, io.EOF) {
		return accepted, rejects, &Reject{Reason: fmt.Sprintf("Arrow IPC stream broken after row %d: %v", row, err)}
	}
	return accepted, rejects, nil
}

// boundedAllocator fails (by panicking, which AppendIPC turns into a
// reject) once more than its budget is allocated.
type boundedAllocator struct {
	memory.Allocator
	left int64
}

func (a *boundedAllocator) Allocate(size int) []byte {
	if a.left -= int64(size); a.left < 0 {
		panic(fmt.Sprintf("the stream asks for more memory than its %d-byte size can justify", size))
	}
	return a.Allocator.Allocate(size)
}

func (a *boundedAllocator) Reallocate(size int, b []byte) []byte {
	if a.left -= int64(size - len(b)); a.left < 0 {
		panic(fmt.Sprintf("the stream asks for more memory than its %d-byte size can justify", size))
	}
	return a.Allocator.Reallocate(size, b)
}

// matchColumns maps each column of schema to a field index, checking types.
func (d *Decoder) matchColumns(schema *arrow.Schema) ([]int, error) {
	cols := make([]int, schema.NumFields())
	for i, f := range schema.Fields() {
		idx, ok := d.index[f.Name]
		if !ok {
			return nil, &Reject{Field: f.Name, Reason: "unknown field; the feed " + d.feed.Name + " has " + d.fieldList()}
		}
		if !arrowTypeFits(f.Type, d.feed.Fields[idx].Type) {
			return nil, &Reject{Field: f.Name, Reason: fmt.Sprintf("Arrow column of type %s cannot hold %s values", f.Type, d.feed.Fields[idx].Type)}
		}
		cols[i] = idx
	}
	return cols, nil
}

func arrowTypeFits(t arrow.DataType, ft catalog.FieldType) bool {
	switch ft {
	case catalog.String:
		return t.ID() == arrow.STRING || t.ID() == arrow.LARGE_STRING
	case catalog.Int64:
		return t.ID() == arrow.INT64 || t.ID() == arrow.INT32
	case catalog.Float64:
		return t.ID() == arrow.FLOAT64 || t.ID() == arrow.FLOAT32 || t.ID() == arrow.INT64
	case catalog.Bool:
		return t.ID() == arrow.BOOL
	case catalog.Time:
		return t.ID() == arrow.TIMESTAMP
	}
	return false
}

func (d *Decoder) fillFromArrow(rec arrow.RecordBatch, cols []int, i int) {
	for c, idx := range cols {
		s := &d.slots[idx]
		s.set = true
		col := rec.Column(c)
		if col.IsNull(i) {
			s.null = true
			continue
		}
		switch a := col.(type) {
		case *array.String:
			// The slot's own storage, and not "plain ASCII": the UTF-8
			// check must run.
			s.buf = append(s.buf[:0], a.Value(i)...)
			s.str, s.ascii = s.buf, false
		case *array.LargeString:
			s.buf = append(s.buf[:0], a.Value(i)...)
			s.str, s.ascii = s.buf, false
		case *array.Int64:
			s.i, s.num = a.Value(i), float64(a.Value(i))
		case *array.Int32:
			s.i, s.num = int64(a.Value(i)), float64(a.Value(i))
		case *array.Float64:
			s.num = a.Value(i)
		case *array.Float32:
			s.num = float64(a.Value(i))
		case *array.Boolean:
			s.b = a.Value(i)
		case *array.Timestamp:
			unit := a.DataType().(*arrow.TimestampType).Unit
			s.i = a.Value(i).ToTime(unit).UnixMilli()
		}
		s.raw = nil
	}
}

// slotsJSON renders the current record as a JSON object, for the DLQ.
func (d *Decoder) slotsJSON() []byte {
	obj := map[string]any{}
	for i, f := range d.feed.Fields {
		s := &d.slots[i]
		if !s.set {
			continue
		}
		if s.null {
			obj[f.Name] = nil
			continue
		}
		switch f.Type {
		case catalog.String:
			obj[f.Name] = string(s.str)
		case catalog.Int64:
			obj[f.Name] = s.i
		case catalog.Float64:
			obj[f.Name] = s.num
		case catalog.Bool:
			obj[f.Name] = s.b
		case catalog.Time:
			obj[f.Name] = time.UnixMilli(s.i).UTC().Format(time.RFC3339Nano)
		}
	}
	out, _ := json.Marshal(obj)
	return out
}

// EncodeIPC writes rec as an Arrow IPC stream, the payload of a message
// with content type ContentTypeArrow.
func EncodeIPC(rec arrow.RecordBatch) ([]byte, error) {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()))
	if err := w.Write(rec); err != nil {
		return nil, fmt.Errorf("encoding Arrow IPC: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encoding Arrow IPC: %w", err)
	}
	return buf.Bytes(), nil
}
