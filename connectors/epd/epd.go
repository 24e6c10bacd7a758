// Package epd parses the Environmental Protection Department's air-quality
// feeds (https://www.aqhi.gov.hk/epd/ddata/html/out/, host www.) into the
// built-in epd.* feeds:
//
//	aqhi_ind_rss_Eng.xml → epd.aqhi.stations (ParseAQHI)
//	24pc_Eng.xml         → epd.air.pollutants (ParsePollutants)
//
// The parsers are pure functions of the payload, safe for concurrent use.
package epd

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cityhighway/highway/connectors/connector"
)

// The feeds this package produces.
const (
	FeedAQHI       = "epd.aqhi.stations"
	FeedPollutants = "epd.air.pollutants"
)

// epdTime reads EPD's RFC 1123 times with a numeric offset ("Tue, 17 Jun
// 2025 19:30:00 +0800"), the day with or without a leading zero. Zone names
// are refused: Go would read an unknown one such as HKT as UTC.
func epdTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"Mon, 2 Jan 2006 15:04:05 -0700", "2 Jan 2006 15:04:05 -0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time like \"Tue, 17 Jun 2025 19:30:00 +0800\"", s)
}

// noDuplicates remembers the keys of the records given, to reject repeats.
type noDuplicates map[string]string

func (n noDuplicates) repeat(key, what string) string {
	if prev, dup := n[key]; dup {
		return fmt.Sprintf("%s is given again; the first is %s", what, prev)
	}
	return ""
}

// walkBlocks reads w to the end, gathering the texts of the elements inside
// each element named block into a map by name, and calls done at the block's
// end with its number (from 1), the map (reused: done must not keep it) and
// the block's end event, for w.Raw. Every other end event outside a block
// goes to outside, when it is not nil. It returns nil at the end of the
// document, else the walker's error (the blocks before it were done).
func walkBlocks(w *connector.XMLWalker, block string, outside func(connector.XMLEvent), done func(n int, fields map[string]string, end connector.XMLEvent)) error {
	var (
		n       int
		inBlock bool
		fields  = map[string]string{}
	)
	for {
		ev, err := w.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case !ev.End && ev.Name == block:
			n++
			inBlock = true
			clear(fields)
		case ev.End && ev.Name == block:
			inBlock = false
			done(n, fields, ev)
		case ev.End && inBlock:
			fields[ev.Name] = string(ev.Text)
		case ev.End && outside != nil:
			outside(ev)
		}
	}
}
