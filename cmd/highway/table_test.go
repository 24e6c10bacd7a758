package main

import (
	"bytes"
	"testing"
	"time"
)

// TestTable: the header, aligned columns, times in RFC 3339 in their own
// zone, "-" for a nil time, other cells as fmt.Sprint writes them.
func TestTable(t *testing.T) {
	hk := time.FixedZone("HKT", 8*3600)
	at := time.Date(2026, 12, 2, 20, 0, 0, 0, hk)
	var none *time.Time
	var b bytes.Buffer
	tb := newTable(&b, "NAME", "AT", "UNTIL", "N", "ON")
	tb.row("a", at, &at, 7, true)
	tb.row("longer", at.UTC(), none, int64(-1), false)
	if err := tb.flush(); err != nil {
		t.Fatal(err)
	}
	want := "NAME    AT                         UNTIL                      N   ON\n" +
		"a       2026-12-02T20:00:00+08:00  2026-12-02T20:00:00+08:00  7   true\n" +
		"longer  2026-12-02T12:00:00Z       -                          -1  false\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
