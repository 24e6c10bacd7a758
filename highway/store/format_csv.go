package store

import (
	"io"
)

// csvWriter writes FormatCSV.
type csvWriter struct {
	w   io.Writer
	res *resultSet
	buf []byte
}

func (c *csvWriter) begin(res *resultSet) error {
	c.res = res
	b := c.buf[:0]
	for i, name := range res.names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCSVField(b, name)
	}
	c.buf = append(b, '\r', '\n')
	return nil
}

func (c *csvWriter) block() error {
	b := c.buf
	cols := c.res.cols
	for i := range c.res.rows {
		for j, col := range cols {
			if j > 0 {
				b = append(b, ',')
			}
			b = col.appendCSV(b, i)
		}
		b = append(b, '\r', '\n')
		if len(b) >= flushAt {
			if _, err := c.w.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	c.buf = b
	return nil
}

func (c *csvWriter) end() error {
	_, err := c.w.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}

// fail writes the rows so far; CSV has no place for an error, so the
// caller must make the failure visible (the API aborts the response).
func (c *csvWriter) fail(error) error { return c.end() }

// appendCSVField quotes s if it needs it (RFC 4180).
func appendCSVField[S string | []byte](b []byte, s S) []byte {
	quote := len(s) > 0 && (s[0] == ' ' || s[0] == '\t')
	for i := 0; i < len(s) && !quote; i++ {
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n'
	}
	if !quote {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}
