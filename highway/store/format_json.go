package store

import (
	"fmt"
	"io"

	"github.com/cityhighway/highway/internal/jsonstr"
)

// jsonWriter writes FormatJSON, or FormatNDJSON when lines is set.
type jsonWriter struct {
	w     io.Writer
	lines bool
	res   *resultSet
	keys  [][]byte
	buf   []byte
	n     uint64
}

func (j *jsonWriter) begin(res *resultSet) error {
	j.res = res
	j.keys = make([][]byte, len(res.names))
	for i, name := range res.names {
		j.keys[i] = append(jsonstr.AppendHTMLSafe(nil, name), ':')
	}
	if j.lines {
		return nil
	}
	b := append(j.buf[:0], `{"meta":[`...)
	for i := range res.names {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = jsonstr.AppendHTMLSafe(b, res.names[i])
		b = append(b, `,"type":`...)
		b = jsonstr.AppendHTMLSafe(b, res.types[i])
		b = append(b, '}')
	}
	j.buf = append(b, "],\n\"data\":["...)
	return nil
}

func (j *jsonWriter) block() error {
	b := j.buf
	cols := j.res.cols
	for i := range j.res.rows {
		if !j.lines {
			if j.n > 0 {
				b = append(b, ',')
			}
			b = append(b, '\n')
		}
		b = append(b, '{')
		for c, col := range cols {
			if c > 0 {
				b = append(b, ',')
			}
			b = append(b, j.keys[c]...)
			b = col.appendJSON(b, i)
		}
		b = append(b, '}')
		if j.lines {
			b = append(b, '\n')
		}
		j.n++
		if len(b) >= flushAt {
			if _, err := j.w.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	j.buf = b
	return nil
}

func (j *jsonWriter) end() error { return j.finish(nil) }

func (j *jsonWriter) fail(qerr error) error { return j.finish(qerr) }

func (j *jsonWriter) finish(qerr error) error {
	b := j.buf
	if j.lines {
		if qerr != nil {
			b = append(b, `{"error":`...)
			b = jsonstr.AppendHTMLSafe(b, qerr.Error())
			b = append(b, "}\n"...)
		}
	} else {
		b = fmt.Appendf(b, "\n],\n\"rows\":%d", j.n)
		if qerr != nil {
			b = append(b, `,"error":`...)
			b = jsonstr.AppendHTMLSafe(b, qerr.Error())
		}
		b = append(b, "}\n"...)
	}
	j.buf = b[:0]
	_, err := j.w.Write(b)
	return err
}
