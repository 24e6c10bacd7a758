package td

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/cityhighway/highway/connectors/connector"
)

// ParseSegments parses TD's segment speeds (irnAvgSpeed-all.xml, about every
// 2 minutes, ~4,400 segments) into td.traffic.segments: one record per
// segment, keyed by segment_id, at the file's date and time (Hong Kong time,
// written without an offset). With valid N the published speed is a
// placeholder (such as 80): the record keeps valid false and speed null.
//
// A segment that cannot be read becomes a reject ("segment 104324"), the
// others still come out; a segment given twice keeps the first. A truncated
// file gives the segments before the cut and an error wrapping
// connector.ErrTruncated. A file that is not irnAvgSpeed XML, or has no
// readable date and time, is an error wrapping connector.ErrMalformed.
func ParseSegments(payload []byte) (connector.Result, error) {
	const source = "irnAvgSpeed-all.xml"
	w := connector.NewXMLWalker(source, payload)
	if err := w.Root("segment_speed_list"); err != nil {
		return connector.Result{}, err
	}
	var (
		res              connector.Result
		o                connector.Object
		date, clock      string
		at               time.Time
		n                int
		id, speed, valid []byte
		seen             = map[string]int{}
	)
	for {
		ev, err := w.Next()
		if errors.Is(err, io.EOF) {
			return res, nil
		}
		if err != nil {
			return res, err
		}
		switch {
		case !ev.End && ev.Name == "segments":
			// The header is complete: every segment needs its time.
			if at, err = captureTime(date, clock); err != nil {
				return res, &connector.PayloadError{Source: source, Offset: ev.Start, Reason: err.Error(), Err: connector.ErrMalformed}
			}
		case !ev.End && ev.Name == "segment":
			n++
			id, speed, valid = id[:0], speed[:0], valid[:0]
		case ev.End && ev.Depth == 2 && ev.Name == "date":
			date = string(ev.Text)
		case ev.End && ev.Depth == 2 && ev.Name == "time":
			clock = string(ev.Text)
		case ev.End && ev.Name == "segment_id":
			id = append(id, ev.Text...)
		case ev.End && ev.Name == "speed":
			speed = append(speed, ev.Text...)
		case ev.End && ev.Name == "valid":
			valid = append(valid, ev.Text...)
		case ev.End && ev.Name == "segment":
			where := "segment " + string(id)
			if len(id) == 0 {
				where = "segment #" + strconv.Itoa(n)
			}
			if at.IsZero() {
				res.Reject(FeedSegments, where, "the segment comes before the file's <segments>, without a time", w.Raw(ev))
				continue
			}
			if reason := segment(&res, &o, id, speed, valid, at, where, seen, n); reason != "" {
				res.Reject(FeedSegments, where, reason, w.Raw(ev))
			}
		}
	}
}

// captureTime reads the file's <date> and <time>.
func captureTime(date, clock string) (time.Time, error) {
	if date == "" || clock == "" {
		return time.Time{}, errors.New("the file's <date> or <time> is missing before <segments>")
	}
	t, err := connector.LocalTime("2006-01-02 15:04:05", date+" "+clock)
	if err != nil {
		return time.Time{}, fmt.Errorf("<date> %q and <time> %q are not a time like 2024-04-06 21:27:00", date, clock)
	}
	return t, nil
}

// segment adds the record of one segment, or returns why it cannot.
func segment(res *connector.Result, o *connector.Object, id, speed, valid []byte, at time.Time, where string, seen map[string]int, n int) string {
	if len(id) == 0 {
		return "segment_id is missing"
	}
	if first, dup := seen[string(id)]; dup {
		return fmt.Sprintf("segment %s is given again; the first, segment #%d, is kept", id, first)
	}
	var ok bool
	switch string(valid) {
	case "Y":
		ok = true
	case "N":
	case "":
		return "valid is missing"
	default:
		return fmt.Sprintf("valid %q is not Y or N", valid)
	}
	v, speedOK := 0.0, len(speed) > 0
	if speedOK {
		if v, speedOK = connector.Number(speed); !speedOK {
			return fmt.Sprintf("speed %q is not a number", speed)
		}
	}
	key := string(id)
	seen[key] = n
	o.Begin()
	o.String("segment_id", key)
	o.Opt("speed", v, speedOK && ok) // with valid N the speed is a placeholder
	o.Bool("valid", ok)
	o.Time("capture_time", at)
	res.Add(connector.Record{Feed: FeedSegments, Key: key, Value: o.End(), Where: where})
	return ""
}
