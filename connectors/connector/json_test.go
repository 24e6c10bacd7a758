package connector

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func TestObject(t *testing.T) {
	var o Object
	o.Begin()
	o.String("s", "a \"quoted\" \\ back\nslash\t\x01 é 中 \u2028")
	o.String("bad", "\xff\xfeok")
	o.StringOrNull("empty", "")
	o.Float("f", 26.8)
	o.Float("whole", 70)
	o.Float("tiny", 1e-9)
	o.Float("huge", 1e300)
	o.Float("nan", math.NaN())
	o.Int("i", -1)
	o.Bool("b", true)
	o.Time("t", time.Date(2024, 4, 6, 13, 27, 0, 0, time.UTC))
	o.Time("ms", time.Date(2024, 4, 6, 13, 27, 0, 5e8, time.UTC))
	o.Opt("opt", 1, false)
	o.OptInt("opti", 2, true)
	o.OptBool("optb", false, true)
	o.OptTime("optt", time.Time{})
	got := string(o.End())
	const want = `{"s":"a \"quoted\" \\ back\nslash\t\u0001 é 中 ` + "\u2028" + `","bad":"\ufffd\ufffdok","empty":null,"f":26.8,"whole":70,"tiny":1e-09,"huge":1e+300,"nan":null,"i":-1,"b":true,"t":"2024-04-06T21:27:00+08:00","ms":"2024-04-06T21:27:00.5+08:00","opt":null,"opti":2,"optb":false,"optt":null}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatal(err)
	}
	o.Begin()
	if got := string(o.End()); got != "{}" {
		t.Errorf("empty object: %s", got)
	}
}

// The values End returns stay as they were while later objects are built,
// across chunk boundaries and for objects larger than a chunk.
func TestObjectValuesStay(t *testing.T) {
	var o Object
	var values [][]byte
	for i := range 5000 {
		o.Begin()
		o.Int("i", int64(i))
		if i%1000 == 999 {
			o.String("big", strings.Repeat("x", chunkSize+10))
		}
		values = append(values, o.End())
	}
	for i, v := range values {
		want := fmt.Sprintf(`{"i":%d`, i)
		if !strings.HasPrefix(string(v), want) || !strings.HasSuffix(string(v), "}") {
			t.Fatalf("value %d changed: %.40s", i, v)
		}
		if cap(v) != len(v) {
			t.Fatalf("value %d can be appended to in place", i)
		}
	}
}

func TestNumber(t *testing.T) {
	for in, want := range map[string]float64{"66": 66, "-1": -1, "26.8": 26.8, "1e3": 1000, "+5": 5, "0.0": 0} {
		if v, ok := Number([]byte(in)); !ok || v != want {
			t.Errorf("Number(%q) = %v, %v", in, v, ok)
		}
	}
	for _, in := range []string{"", "NaN", "Inf", "-Inf", "0x10", "1_000", "1e999", " 1", "1,5", "abc", strings.Repeat("1", 65)} {
		if v, ok := Number([]byte(in)); ok {
			t.Errorf("Number(%q) = %v; want not a number", in, v)
		}
	}
	for in, want := range map[string]int64{"3": 3, "-1": -1, "+2": 2} {
		if v, ok := Whole([]byte(in)); !ok || v != want {
			t.Errorf("Whole(%q) = %v, %v", in, v, ok)
		}
	}
	for _, in := range []string{"", "1.5", "1e3", "0x1", "99999999999999999999"} {
		if v, ok := Whole([]byte(in)); ok {
			t.Errorf("Whole(%q) = %v", in, v)
		}
	}
}

func TestLocalTime(t *testing.T) {
	got, err := LocalTime("2006-01-02T15:04:05", " 2017-09-16T14:16:35 ")
	if err != nil || !got.Equal(time.Date(2017, 9, 16, 6, 16, 35, 0, time.UTC)) {
		t.Errorf("got %v, %v", got, err)
	}
	if _, err := LocalTime("2006-01-02", "16/09/2017"); err == nil || err.Error() != `"16/09/2017" is not a time like "2006-01-02"` {
		t.Errorf("got %v", err)
	}
}

func TestPayloadError(t *testing.T) {
	e := Malformed("fnd", "updateTime is missing")
	if e.Error() != "fnd: updateTime is missing" {
		t.Errorf("got %q", e)
	}
	e = &PayloadError{Source: "x.xml", Offset: 12, Where: "line 1, column 13", Reason: "cut", Err: ErrTruncated}
	if e.Error() != "x.xml: truncated: cut at byte 12 (line 1, column 13)" {
		t.Errorf("got %q", e)
	}
}

func TestTrimPayload(t *testing.T) {
	if got := string(TrimPayload([]byte("\ufeff\r\n \t\ufeff<a/>"))); got != "<a/>" {
		t.Errorf("got %q", got)
	}
}
