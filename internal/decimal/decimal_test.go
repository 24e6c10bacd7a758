package decimal

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"66", 66, true}, {"-1", -1, true}, {"26.8", 26.8, true}, {"1e3", 1000, true},
		{"+5", 5, true}, {"0.0", 0, true}, {"1E-2", 0.01, true}, {"1" + strings.Repeat("0", 70), 1e70, true},
		{"", 0, false}, {"NaN", 0, false}, {"Inf", 0, false}, {"-Inf", 0, false}, {"0x10", 0, false},
		{"1_000", 0, false}, {"1e999", 0, false}, {" 1", 0, false}, {"1 ", 0, false}, {"1,5", 0, false},
		{"abc", 0, false}, {"1.2.3", 0, false}, {"-", 0, false},
	} {
		if v, ok := Parse(tc.in); v != tc.want || ok != tc.ok {
			t.Errorf("Parse(%q) = %v, %v; want %v, %v", tc.in, v, ok, tc.want, tc.ok)
		}
		if v, ok := Parse([]byte(tc.in)); v != tc.want || ok != tc.ok {
			t.Errorf("Parse([]byte %q) = %v, %v; want %v, %v", tc.in, v, ok, tc.want, tc.ok)
		}
	}
}
