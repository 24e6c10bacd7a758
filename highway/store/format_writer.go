package store

import (
	"bufio"
	"io"
)

// resultWriter writes a result in one format, a block at a time.
type resultWriter interface {
	// begin starts the result of res's columns.
	begin(res *resultSet) error
	// block writes the rows of res's current block.
	block() error
	// end finishes a complete result.
	end() error
	// fail ends a result whose query failed after begin, as the format
	// can (see Format).
	fail(err error) error
}

// flushAt is the size at which the text formats hand their buffer to the
// writer.
const flushAt = 64 << 10

func newResultWriter(f Format, w io.Writer) resultWriter {
	switch f {
	case FormatCSV:
		return &csvWriter{w: w}
	case FormatNDJSON:
		return &jsonWriter{w: w, lines: true}
	case FormatArrow:
		return &arrowWriter{w: bufio.NewWriterSize(w, flushAt)}
	}
	return &jsonWriter{w: w}
}
