package store

import (
	"bufio"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// arrowBatchRows is how many rows go in one Arrow record batch.
const arrowBatchRows = 8192

// arrowWriter writes FormatArrow: the result's schema, then record batches
// of up to arrowBatchRows rows, appended to the builders a column at a
// time. ClickHouse types map to Arrow as column's doc says: DateTime is a
// millisecond timestamp in UTC, as in the feed schemas (record.ArrowType).
type arrowWriter struct {
	w       *bufio.Writer
	res     *resultSet
	builder *array.RecordBuilder
	ipc     *ipc.Writer
	n       int
}

// ArrowMetaType is the field metadata key that carries a column's
// ClickHouse type in Arrow results.
const ArrowMetaType = "clickhouse.type"

func (a *arrowWriter) begin(res *resultSet) error {
	a.res = res
	fields := make([]arrow.Field, len(res.cols))
	for i, c := range res.cols {
		md := arrow.NewMetadata([]string{ArrowMetaType}, []string{res.types[i]})
		fields[i] = arrow.Field{Name: res.names[i], Type: c.arrowType(), Nullable: true, Metadata: md}
	}
	schema := arrow.NewSchema(fields, nil)
	mem := memory.NewGoAllocator()
	a.builder = array.NewRecordBuilder(mem, schema)
	a.ipc = ipc.NewWriter(a.w, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	return nil
}

func (a *arrowWriter) block() error {
	rows := a.res.rows
	for lo := 0; lo < rows; {
		hi := min(rows, lo+arrowBatchRows-a.n)
		for i, c := range a.res.cols {
			c.appendArrow(a.builder.Field(i), lo, hi, nil)
		}
		a.n += hi - lo
		lo = hi
		if a.n >= arrowBatchRows {
			if err := a.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *arrowWriter) flush() error {
	rec := a.builder.NewRecordBatch()
	defer rec.Release()
	a.n = 0
	if rec.NumRows() == 0 {
		return nil
	}
	if err := a.ipc.Write(rec); err != nil {
		return fmt.Errorf("writing Arrow batch: %w", err)
	}
	return nil
}

func (a *arrowWriter) end() error {
	defer a.builder.Release()
	if err := a.flush(); err != nil {
		return err
	}
	if err := a.ipc.Close(); err != nil {
		return fmt.Errorf("closing Arrow stream: %w", err)
	}
	return a.w.Flush()
}

// fail writes the batches so far without the end-of-stream marker, so that
// a reader of the whole stream cannot take it for a complete result; the
// caller must still make the failure visible (the API aborts the
// response, as a reader that stops at a batch boundary sees a clean end).
func (a *arrowWriter) fail(error) error {
	a.builder.Release()
	return a.w.Flush()
}
