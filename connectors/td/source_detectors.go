package td

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/cityhighway/highway/connectors/connector"
)

// ParseDetectors parses TD's detector readings (rawSpeedVol-all.xml, every
// minute, two 30-second periods) into td.traffic.detectors: one record per
// detector, lane and period, keyed by detector_id and lane_id, with the
// detector's district (and, when the file has none, its direction) from
// locs, which may be nil. fetched is when the payload was fetched, or the
// archive time of an archived copy; it may be zero.
//
// The quirks of the file are handled so:
//   - the 00:00 period carries the previous day's date: a period in the
//     first hour of the day that follows one in the last hour in the same
//     file is on the next day, and one that would lie 12 to 36 hours before
//     fetched is moved one day on (so an archived copy read long after keeps
//     its date, and so does a 00:00 period TD has dated right);
//   - with volume 0 the speed is a placeholder (the speed limit) and s.d. is
//     0: both are null;
//   - occupancy -1 means not measured: null;
//   - a lane_id repeated within a detector: a repeat with the same readings
//     is dropped with a reject; one with other readings is a second lane of
//     that name and gets " #2" (" #3", ...) appended to its lane_id;
//   - a missing direction is taken from locs; a trailing space is trimmed;
//   - a missing <s.d.> (files before November 2021) is null;
//   - speeds up to 300 are kept (the spec's range says what is accepted);
//   - valid N (detector offline) is kept with valid false and the values as
//     published.
//
// A lane that cannot be read becomes a reject ("period 21:27:00, detector
// AID01101, lane 2"); a period or detector without its ID or time becomes
// one reject for all its lanes. A truncated file gives every lane completed
// before the cut together with an error wrapping connector.ErrTruncated that
// says where the cut is. A file that is not rawSpeedVol XML, or has no
// readable date, is an error wrapping connector.ErrMalformed.
func ParseDetectors(payload []byte, fetched time.Time, locs Locations) (connector.Result, error) {
	p := detectorParser{
		w:         connector.NewXMLWalker("rawSpeedVol-all.xml", payload),
		fetched:   fetched,
		locs:      locs,
		intern:    map[string]string{},
		detectors: map[string]int{},
	}
	err := p.run()
	return p.res, err
}

// detectorParser holds the state of one ParseDetectors call.
type detectorParser struct {
	w       *connector.XMLWalker
	fetched time.Time
	locs    Locations
	res     connector.Result
	obj     connector.Object
	intern  map[string]string // detector IDs, directions and lane IDs seen

	date     time.Time // midnight of <date>, Hong Kong time
	haveDate bool

	// The current period.
	inPeriod    bool
	periodN     int
	from, to    time.Time
	fromText    string
	fromReason  string // why from is unusable, "" when it is fine
	prevTOD     int    // time of day of the previous period, seconds; -1 before the first
	periodLanes int    // lanes skipped because the period is unusable
	detectors   map[string]int

	// The current detector, and the last one completed.
	detectorID   string
	lastDetector string
	direction    string
	laneN        int
	lanes        []laneSeen
	dropped      int // lanes skipped because the detector is unusable

	// The current lane, as written.
	lane laneText
}

// laneText is one <lane> as written, copied out of the decoder's buffer.
type laneText struct {
	id, speed, occupancy, volume, sd, valid []byte
	hasSD                                   bool
}

func (l *laneText) reset() {
	*l = laneText{id: l.id[:0], speed: l.speed[:0], occupancy: l.occupancy[:0], volume: l.volume[:0], sd: l.sd[:0], valid: l.valid[:0]}
}

// same reports whether two lanes have the same readings.
func (l *laneText) same(o *laneText) bool {
	return bytes.Equal(l.speed, o.speed) && bytes.Equal(l.occupancy, o.occupancy) && bytes.Equal(l.volume, o.volume) &&
		bytes.Equal(l.sd, o.sd) && l.hasSD == o.hasSD && bytes.Equal(l.valid, o.valid)
}

// laneSeen remembers a lane of the current detector, to spot repeats.
type laneSeen struct {
	id   string
	n    int // its position in the detector, 1-based
	text laneText
}

func (p *detectorParser) run() error {
	if err := p.w.Root("raw_speed_volume_list"); err != nil {
		return err
	}
	p.prevTOD = -1
	for {
		ev, err := p.w.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return p.context(err)
		}
		if err := p.event(ev); err != nil {
			return err
		}
	}
}

func (p *detectorParser) event(ev connector.XMLEvent) error {
	if !ev.End {
		switch ev.Name {
		case "period":
			if !p.haveDate {
				return &connector.PayloadError{Source: p.w.Source, Offset: ev.Start, Reason: "a period comes before the file's <date>", Err: connector.ErrMalformed}
			}
			p.periodN++
			p.inPeriod = true
			p.fromText, p.fromReason, p.periodLanes, p.lastDetector = "", "period_from is missing", 0, ""
			p.from, p.to = time.Time{}, time.Time{}
			clear(p.detectors)
		case "detector":
			p.detectorID, p.direction = "", ""
			p.laneN, p.lanes, p.dropped = 0, p.lanes[:0], 0
		case "lane":
			p.laneN++
			p.lane.reset()
		}
		return nil
	}
	switch ev.Name {
	case "date":
		if ev.Depth != 2 {
			return nil
		}
		d, err := time.ParseInLocation(time.DateOnly, string(ev.Text), connector.HKT)
		if err != nil {
			return &connector.PayloadError{Source: p.w.Source, Offset: ev.Start, Reason: fmt.Sprintf("<date> %q is not a date like 2024-04-06", ev.Text), Err: connector.ErrMalformed}
		}
		p.date, p.haveDate = d, true
	case "period_from":
		p.periodFrom(ev.Text)
	case "period_to":
		p.periodTo(ev.Text)
	case "detector_id":
		p.detectorID = p.str(ev.Text)
	case "direction":
		p.direction = p.str(ev.Text)
	case "lane_id":
		p.lane.id = append(p.lane.id, ev.Text...)
	case "speed":
		p.lane.speed = append(p.lane.speed, ev.Text...)
	case "occupancy":
		p.lane.occupancy = append(p.lane.occupancy, ev.Text...)
	case "volume":
		p.lane.volume = append(p.lane.volume, ev.Text...)
	case "s.d.":
		p.lane.sd, p.lane.hasSD = append(p.lane.sd, ev.Text...), true
	case "valid":
		p.lane.valid = append(p.lane.valid, ev.Text...)
	case "lane":
		p.endLane(ev)
	case "detector":
		p.endDetector(ev)
	case "period":
		p.endPeriod(ev)
	}
	return nil
}

// str returns text as a string, interned: the same IDs and lane names come
// back in every period.
func (p *detectorParser) str(text []byte) string {
	if s, ok := p.intern[string(text)]; ok {
		return s
	}
	s := string(text)
	p.intern[s] = s
	return s
}

// timeOfDay reads "HH:MM:SS" into seconds since midnight.
func timeOfDay(b []byte) (int, bool) {
	if len(b) != 8 || b[2] != ':' || b[5] != ':' {
		return 0, false
	}
	h, ok1 := twoDigits(b[0:2])
	m, ok2 := twoDigits(b[3:5])
	s, ok3 := twoDigits(b[6:8])
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || s > 59 {
		return 0, false
	}
	return h*3600 + m*60 + s, true
}

func twoDigits(b []byte) (int, bool) {
	if b[0] < '0' || b[0] > '9' || b[1] < '0' || b[1] > '9' {
		return 0, false
	}
	return int(b[0]-'0')*10 + int(b[1]-'0'), true
}

func (p *detectorParser) periodFrom(text []byte) {
	p.fromText = string(text)
	tod, ok := timeOfDay(text)
	if !ok {
		p.fromReason = fmt.Sprintf("period_from %q is not a time like 21:27:00", text)
		return
	}
	p.fromReason = ""
	t := p.date.Add(time.Duration(tod) * time.Second)
	switch {
	case p.prevTOD >= 23*3600 && tod < 3600:
		// The file runs past midnight: this period is on the next day.
		t = t.AddDate(0, 0, 1)
	case !p.fetched.IsZero() && tod < 3600:
		// The 00:00 period carries the previous day's date.
		if ago := p.fetched.Sub(t); ago > 12*time.Hour && ago < 36*time.Hour {
			t = t.AddDate(0, 0, 1)
		}
	}
	p.prevTOD = tod
	p.from = t
	if !p.to.IsZero() { // period_to came first: read it again against from
		p.periodToFrom(p.to)
	}
}

func (p *detectorParser) periodTo(text []byte) {
	tod, ok := timeOfDay(text)
	if !ok {
		p.to = time.Time{} // optional in the spec: the records go without it
		return
	}
	p.periodToFrom(p.date.Add(time.Duration(tod) * time.Second))
}

// periodToFrom places the end of the period on the day of its start.
func (p *detectorParser) periodToFrom(to time.Time) {
	p.to = to
	if p.from.IsZero() {
		return
	}
	fromTOD := p.from.Sub(time.Date(p.from.Year(), p.from.Month(), p.from.Day(), 0, 0, 0, 0, connector.HKT))
	toTOD := to.Sub(time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, connector.HKT))
	d := toTOD - fromTOD
	if d < 0 {
		d += 24 * time.Hour // 23:59:30 to 00:00:00
	}
	p.to = p.from.Add(d)
}

func (p *detectorParser) where() string {
	// Concatenation, one allocation: this runs for every record.
	return "period " + p.periodLabel() + ", detector " + p.detectorLabel() + ", lane " + strconv.Itoa(p.laneN)
}

// periodLabel names the current period by its period_from as written, or by
// its position when it has none.
func (p *detectorParser) periodLabel() string {
	if p.fromText == "" {
		return "#" + strconv.Itoa(p.periodN)
	}
	return p.fromText
}

func (p *detectorParser) detectorLabel() string {
	if p.detectorID == "" {
		return "(no detector_id)"
	}
	return p.detectorID
}

func (p *detectorParser) endLane(ev connector.XMLEvent) {
	if !p.inPeriod {
		p.dropped++
		return
	}
	if p.fromReason != "" {
		p.periodLanes++
		return
	}
	if p.detectorID == "" || p.detectors[p.detectorID] > 0 {
		p.dropped++
		return
	}
	where := p.where()
	raw := p.w.Raw(ev)
	reason := p.lane1(where)
	if reason != "" {
		p.res.Reject(FeedDetectors, where, reason, raw)
	}
}

// lane1 emits the current lane, or returns why it cannot.
func (p *detectorParser) lane1(where string) string {
	l := &p.lane
	if len(l.id) == 0 {
		return "lane_id is missing"
	}
	laneID := p.str(l.id)
	// A lane_id given again in the same detector.
	repeat := 1
	for i := range p.lanes {
		s := &p.lanes[i]
		if s.id != laneID {
			continue
		}
		if s.text.same(l) {
			return fmt.Sprintf("lane %q is given again with the same readings as lane %d; the repeat is dropped", laneID, s.n)
		}
		repeat++
	}
	var reasons []string
	speed, speedOK := optNumber(l.speed, "speed", &reasons)
	occ, occOK := optNumber(l.occupancy, "occupancy", &reasons)
	sd, sdOK := optNumber(l.sd, "s.d.", &reasons)
	var vol int64
	volOK := len(l.volume) > 0
	if volOK {
		if vol, volOK = connector.Whole(l.volume); !volOK {
			reasons = append(reasons, fmt.Sprintf("volume %q is not a whole number", l.volume))
		}
	}
	var valid bool
	switch string(l.valid) {
	case "Y":
		valid = true
	case "N":
	case "":
		reasons = append(reasons, "valid is missing")
	default:
		reasons = append(reasons, fmt.Sprintf("valid %q is not Y or N", l.valid))
	}
	if len(reasons) > 0 {
		return strings.Join(reasons, "; ")
	}
	// Remember the lane before renaming it, so a third copy compares with both.
	if len(p.lanes) < cap(p.lanes) {
		p.lanes = p.lanes[:len(p.lanes)+1] // reuse the buffers of an earlier detector
	} else {
		p.lanes = append(p.lanes, laneSeen{})
	}
	s := &p.lanes[len(p.lanes)-1]
	s.id, s.n = laneID, p.laneN
	s.text.id = append(s.text.id[:0], l.id...)
	s.text.speed = append(s.text.speed[:0], l.speed...)
	s.text.occupancy = append(s.text.occupancy[:0], l.occupancy...)
	s.text.volume = append(s.text.volume[:0], l.volume...)
	s.text.sd = append(s.text.sd[:0], l.sd...)
	s.text.valid = append(s.text.valid[:0], l.valid...)
	s.text.hasSD = l.hasSD
	if repeat > 1 {
		laneID = laneID + " #" + strconv.Itoa(repeat)
	}
	if volOK && vol == 0 {
		speedOK, sdOK = false, false // placeholders when no vehicle passed
	}
	if occOK && occ == -1 {
		occOK = false // not measured
	}
	direction := p.direction
	loc := p.locs[p.detectorID]
	if direction == "" {
		direction = loc.Direction
	}

	o := &p.obj
	o.Begin()
	o.String("detector_id", p.detectorID)
	o.String("lane_id", laneID)
	o.StringOrNull("direction", direction)
	o.StringOrNull("district", loc.District)
	o.Opt("speed", speed, speedOK)
	o.Opt("occupancy", occ, occOK)
	o.OptInt("volume", vol, volOK)
	o.Opt("speed_sd", sd, sdOK)
	o.Bool("valid", valid)
	o.Time("period_from", p.from)
	o.OptTime("period_to", p.to)
	p.res.Add(connector.Record{Feed: FeedDetectors, Key: p.detectorID + connector.KeySep + laneID, Value: o.End(), Where: where})
	return ""
}

// optNumber reads a number that may be absent; a bad one adds a reason.
func optNumber(text []byte, name string, reasons *[]string) (float64, bool) {
	if len(text) == 0 {
		return 0, false
	}
	v, ok := connector.Number(text)
	if !ok {
		*reasons = append(*reasons, fmt.Sprintf("%s %q is not a number", name, text))
	}
	return v, ok
}

func (p *detectorParser) endDetector(ev connector.XMLEvent) {
	if !p.inPeriod {
		p.res.Reject(FeedDetectors, "detector "+p.detectorLabel(), fmt.Sprintf("the detector is outside any <period>; its %d lanes are dropped", p.dropped), p.w.Raw(ev))
		p.lastDetector, p.detectorID = p.detectorID, ""
		return
	}
	if p.fromReason != "" {
		p.lastDetector, p.detectorID = p.detectorID, ""
		return // counted for the period
	}
	where := func() string { return "period " + p.periodLabel() + ", detector " + p.detectorLabel() }
	switch {
	case p.detectorID == "":
		p.res.Reject(FeedDetectors, where(), fmt.Sprintf("detector_id is missing; its %d lanes are dropped", p.dropped), p.w.Raw(ev))
	case p.detectors[p.detectorID] > 0:
		p.res.Reject(FeedDetectors, where(), fmt.Sprintf("detector %s is given again in this period (first as detector %d); its %d lanes are dropped", p.detectorID, p.detectors[p.detectorID], p.dropped), p.w.Raw(ev))
	default:
		p.detectors[p.detectorID] = len(p.detectors) + 1
	}
	p.lastDetector, p.detectorID = p.detectorID, ""
}

func (p *detectorParser) endPeriod(ev connector.XMLEvent) {
	p.inPeriod = false
	if p.fromReason != "" {
		p.res.Reject(FeedDetectors, "period "+p.periodLabel(), fmt.Sprintf("%s; its %d lanes are dropped", p.fromReason, p.periodLanes), p.w.Raw(ev))
	}
}

// context adds the period and detector being read to a truncation or
// syntax error.
func (p *detectorParser) context(err error) error {
	var pe *connector.PayloadError
	if !errors.As(err, &pe) || p.periodN == 0 {
		return err
	}
	where := "in period " + p.periodLabel()
	switch {
	case p.detectorID != "":
		where += ", detector " + p.detectorID
	case p.lastDetector != "":
		where += ", after detector " + p.lastDetector
	}
	pe.Where += ", " + where + fmt.Sprintf("; %d records before it are kept", len(p.res.Records))
	return pe
}
