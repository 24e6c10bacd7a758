package store

import (
	"fmt"
	"io"
	"unicode/utf8"
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
		j.keys[i] = append(appendJSONBytes(nil, name), ':')
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
		b = appendJSONBytes(b, res.names[i])
		b = append(b, `,"type":`...)
		b = appendJSONBytes(b, res.types[i])
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
			b = appendJSONBytes(b, qerr.Error())
			b = append(b, "}\n"...)
		}
	} else {
		b = fmt.Appendf(b, "\n],\n\"rows\":%d", j.n)
		if qerr != nil {
			b = append(b, `,"error":`...)
			b = appendJSONBytes(b, qerr.Error())
		}
		b = append(b, "}\n"...)
	}
	j.buf = b[:0]
	_, err := j.w.Write(b)
	return err
}

// appendJSONBytes appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONBytes[S string | []byte](b []byte, s S) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0 // s[start:i] is still to be copied
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		var r rune
		var size int
		switch v := any(s[i:]).(type) {
		case string:
			r, size = utf8.DecodeRuneInString(v)
		case []byte:
			r, size = utf8.DecodeRune(v)
		}
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jsonSafe marks the ASCII bytes that JSON strings carry as they are (not
// quotes, backslashes, controls, or <, >, & which HTML would read).
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()
