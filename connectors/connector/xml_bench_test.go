package connector

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"testing"
)

// detectorFile is a document of the shape and size of TD's
// rawSpeedVol-all.xml: detectors × 3 lanes × 2 periods (760: ~0.8 MB).
func detectorFile(detectors int) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><raw_speed_volume_list><date>2024-04-06</date><periods>`)
	for p := range 2 {
		fmt.Fprintf(&b, "<period><period_from>21:2%d:00</period_from><period_to>21:2%d:30</period_to><detectors>", p, p)
		for d := range detectors {
			fmt.Fprintf(&b, "<detector><detector_id>AID%05d</detector_id><direction>South East</direction><lanes>", d)
			for _, lane := range []string{"Fast Lane", "Middle Lane", "Slow Lane"} {
				fmt.Fprintf(&b, "<lane><lane_id>%s</lane_id><speed>%d</speed><occupancy>%d</occupancy><volume>%d</volume><s.d.>%d.5</s.d.><valid>Y</valid></lane>",
					lane, 40+d%50, d%30, d%12, d%9)
			}
			b.WriteString("</lanes></detector>")
		}
		b.WriteString("</detectors></period>")
	}
	b.WriteString("</periods></raw_speed_volume_list>")
	return b.Bytes()
}

// BenchmarkXMLDetectorFile walks a full-size detector file, element by
// element with each leaf's text, with XMLWalker and with encoding/xml's
// Decoder.Token (what the walker would be replaced by), and reports the
// time and allocations per file. Figures: docs/BENCHMARKS.md.
func BenchmarkXMLDetectorFile(b *testing.B) {
	src := detectorFile(760)
	b.Run("walker", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		b.ReportAllocs()
		for b.Loop() {
			w := NewXMLWalker("rawSpeedVol-all.xml", src)
			for {
				_, err := w.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("encoding_xml", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		b.ReportAllocs()
		var text []byte
		for b.Loop() {
			d := xml.NewDecoder(bytes.NewReader(src))
			depth := 0
			for {
				tok, err := d.Token()
				if err != nil {
					b.Fatal(err)
				}
				switch t := tok.(type) {
				case xml.StartElement:
					depth++
					text = text[:0]
				case xml.EndElement:
					depth--
					text = bytes.TrimSpace(text)
					text = text[:0]
				case xml.CharData:
					text = append(text, t...)
				}
				if depth == 0 && tok != nil {
					if _, ok := tok.(xml.EndElement); ok {
						break
					}
				}
			}
		}
	})
}
