package connector

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// walk returns the events of w as lines ("+name", "-name text"), and the
// error that ended them (nil at the end of the root element).
func walk(w *XMLWalker) ([]string, error) {
	var out []string
	for {
		ev, err := w.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if ev.End {
			out = append(out, fmt.Sprintf("-%s %d %q", ev.Name, ev.Depth, ev.Text))
		} else {
			out = append(out, fmt.Sprintf("+%s %d", ev.Name, ev.Depth))
		}
	}
}

// stdWalk returns the same events read with encoding/xml, stopping at the
// end of the root element as XMLWalker does.
func stdWalk(src []byte) ([]string, error) {
	d := xml.NewDecoder(bytes.NewReader(TrimPayload(src)))
	var (
		out  []string
		text []byte
		path []string
	)
	for {
		tok, err := d.Token()
		if err != nil {
			return out, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			path = append(path, t.Name.Local)
			out = append(out, fmt.Sprintf("+%s %d", t.Name.Local, len(path)))
			text = text[:0]
		case xml.EndElement:
			out = append(out, fmt.Sprintf("-%s %d %q", t.Name.Local, len(path), bytes.TrimSpace(text)))
			path = path[:len(path)-1]
			text = text[:0]
			if len(path) == 0 {
				return out, nil
			}
		case xml.CharData:
			text = append(text, t...)
		}
	}
}

func TestXMLWalker(t *testing.T) {
	tests := []struct {
		name, src string
		events    []string
		err       string
	}{
		{
			name: "declaration, namespaces, attributes, entities, CDATA, comments, self-closing",
			src: "\ufeff \n<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<?xml-stylesheet href='style.xsl' type='text/xsl'?>\n<!DOCTYPE list [<!ELEMENT list ANY>]>\n" +
				`<list xmlns="http://data.one.gov.hk/td" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" a='1 > 0'>` +
				`<x:item><name>Central &amp; Western&#32;&#x41;</name><!-- a - b --><d><![CDATA[A <b> & c]]> tail</d><e/><f a="&quot;"></f></x:item></list>trailing <junk>`,
			events: []string{
				"+list 1", "+item 2", "+name 3", `-name 3 "Central & Western A"`, "+d 3", `-d 3 "A <b> & c tail"`,
				"+e 3", `-e 3 ""`, "+f 3", `-f 3 ""`, `-item 2 ""`, `-list 1 ""`,
			},
		},
		{name: "empty", src: "", err: "p: no XML element in the payload at byte 0 (line 1, column 1)"},
		{name: "truncated in text", src: "<a>\n<b>12", events: []string{"+a 1", "+b 2"}, err: "p: truncated: the document ends before its elements are closed at byte 9 (line 2, column 6, inside <a/b>)"},
		{name: "truncated in a tag", src: "<a><b attr=\"x", events: []string{"+a 1"}, err: "p: truncated: the document ends before its elements are closed at byte 13 (line 1, column 14, inside <a>)"},
		{name: "truncated in an entity", src: "<a>x &am", events: []string{"+a 1"}, err: "p: truncated: the document ends before its elements are closed at byte 8 (line 1, column 9, inside <a>)"},
		{name: "truncated in a character", src: "<a>\xe4\xb8", events: []string{"+a 1"}, err: "p: truncated: the document ends before its elements are closed at byte 5 (line 1, column 6, inside <a>)"},
		{name: "mismatched end", src: "<a><b></a>", events: []string{"+a 1", "+b 2"}, err: "p: not well-formed XML: element <b> closed by </a> at byte 6 (line 1, column 7, inside <a/b>)"},
		{name: "HTML entity", src: "<a>&nbsp;</a>", events: []string{"+a 1"}, err: "p: not well-formed XML: invalid character entity &nbsp; at byte 3 (line 1, column 4, inside <a>)"},
		{name: "control character", src: "<a>\x01</a>", events: []string{"+a 1"}, err: "p: not well-formed XML: illegal character code U+0001 at byte 3 (line 1, column 4, inside <a>)"},
		{name: "bad UTF-8", src: "<a>\xff</a>", events: []string{"+a 1"}, err: "p: not well-formed XML: invalid UTF-8 at byte 3 (line 1, column 4, inside <a>)"},
		{name: "other encoding", src: `<?xml version="1.0" encoding="big5"?><a/>`, err: "p: the document is in big5; only UTF-8 is read at byte 0 (line 1, column 1)"},
		{name: "bad name", src: "<1a></1a>", err: `p: not well-formed XML: invalid XML name "1a" at byte 1 (line 1, column 2)`},
		{name: "attribute without value", src: "<a b></a>", err: "p: not well-formed XML: attribute without a value at byte 4 (line 1, column 5)"},
		{name: "double hyphen in a comment", src: "<a><!-- x -- y --></a>", events: []string{"+a 1"}, err: `p: not well-formed XML: invalid sequence "--" not allowed in comments at byte 10 (line 1, column 11, inside <a>)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, err := walk(NewXMLWalker("p", []byte(tt.src)))
			if strings.Join(events, "\n") != strings.Join(tt.events, "\n") {
				t.Errorf("events\n got %q\nwant %q", events, tt.events)
			}
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.err {
				t.Errorf("error\n got %s\nwant %s", got, tt.err)
			}
			if err != nil && !errors.Is(err, ErrPayload) {
				t.Errorf("error %v is not a payload error", err)
			}
		})
	}
}

// FuzzXMLWalker holds XMLWalker to encoding/xml: wherever encoding/xml
// reads a document, the walker reads the same events, and the walker reads
// nothing encoding/xml refuses.
func FuzzXMLWalker(f *testing.F) {
	for _, s := range []string{
		`<?xml version="1.0" encoding="utf-8"?><raw_speed_volume_list><date>2024-04-06</date><periods><period><period_from>21:27:00</period_from><detectors><detector><detector_id>AID01101</detector_id><lanes><lane><lane_id>Fast Lane</lane_id><s.d.>7.5</s.d.><valid>Y</valid></lane></lanes></detector></detectors></period></periods></raw_speed_volume_list>`,
		`<jtis_journey_list xmlns="http://data.one.gov.hk/td" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><jtis_journey_time><LOCATION_ID>H11</LOCATION_ID><JOURNEY_DESC></JOURNEY_DESC></jtis_journey_time></jtis_journey_list>`,
		"<rss version=\"2.0\"><channel><item><title>Central/Western : 10+ : Serious</title><description>\n<![CDATA[Central/Western - General Stations: 10+ Serious - Tue, 17 Jun 2025 19:30]]>\n</description></item></channel></rss>",
		`<a b='1' c="&lt;&#65;&#x42;"><!-- c --><?pi x?><d/>t&amp;u</a>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		mine, mineErr := walk(NewXMLWalker("p", src))
		std, stdErr := stdWalk(src)
		if mineErr != nil && !errors.Is(mineErr, ErrPayload) {
			t.Fatalf("error %v is not a payload error", mineErr)
		}
		switch {
		case stdErr == nil && mineErr == nil:
			if strings.Join(mine, "\n") != strings.Join(std, "\n") {
				t.Fatalf("events differ\nwalker %q\nstd    %q", mine, std)
			}
		case mineErr == nil && stdErr != nil:
			t.Fatalf("the walker reads what encoding/xml refuses (%v): %q", stdErr, mine)
		case mineErr != nil:
			// The walker may be stricter; up to its error it must agree.
			if len(mine) > len(std) && stdErr == nil {
				t.Fatalf("more events before the error %v: %q vs %q", mineErr, mine, std)
			}
			for i := range min(len(mine), len(std)) {
				if mine[i] != std[i] {
					t.Fatalf("event %d differs before the error %v: %q vs %q", i, mineErr, mine[i], std[i])
				}
			}
		}
	})
}
