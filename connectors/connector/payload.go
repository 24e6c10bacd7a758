package connector

import (
	"bytes"
)

// TrimPayload strips what some sources put before the document: a UTF-8
// byte-order mark and leading white space (EPD's AQHI RSS has both).
func TrimPayload(p []byte) []byte {
	for {
		switch {
		case bytes.HasPrefix(p, []byte("\xef\xbb\xbf")):
			p = p[3:]
		case len(p) > 0 && (p[0] == ' ' || p[0] == '\t' || p[0] == '\r' || p[0] == '\n'):
			p = p[1:]
		default:
			return p
		}
	}
}
