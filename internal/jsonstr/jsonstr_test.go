package jsonstr

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppend(t *testing.T) {
	for _, tc := range []struct{ in, plain, html string }{
		{"plain", `"plain"`, `"plain"`},
		{`a "q" \ b`, `"a \"q\" \\ b"`, `"a \"q\" \\ b"`},
		{"line\nbreak\r\t\x01\x7f", `"line\nbreak\r\t\u0001` + "\x7f\"", `"line\nbreak\r\t\u0001` + "\x7f\""},
		{"<&>", `"<&>"`, `"\u003c\u0026\u003e"`},
		{"bad \xff\xfe utf8", `"bad \ufffd\ufffd utf8"`, `"bad \ufffd\ufffd utf8"`},
		{"é 中 \u2028\u2029", "\"é 中 \u2028\u2029\"", `"é 中 \u2028\u2029"`},
		{"", `""`, `""`},
	} {
		if got := string(Append(nil, tc.in)); got != tc.plain {
			t.Errorf("Append(%q) = %s, want %s", tc.in, got, tc.plain)
		}
		if got := string(Append(nil, []byte(tc.in))); got != tc.plain {
			t.Errorf("Append([]byte %q) = %s, want %s", tc.in, got, tc.plain)
		}
		if got := string(AppendHTMLSafe(nil, tc.in)); got != tc.html {
			t.Errorf("AppendHTMLSafe(%q) = %s, want %s", tc.in, got, tc.html)
		}
		if got := string(AppendHTMLSafe(nil, []byte(tc.in))); got != tc.html {
			t.Errorf("AppendHTMLSafe([]byte %q) = %s, want %s", tc.in, got, tc.html)
		}
	}
	if got := string(Append([]byte("x:"), "y")); got != `x:"y"` {
		t.Errorf("Append does not append: %s", got)
	}
}

// FuzzAppend checks both forms against encoding/json: AppendHTMLSafe writes
// exactly what json.Marshal writes for valid UTF-8 (but for \b and \f, which
// it spells \u0008 and \u000c), and both read back as the string
// encoding/json reads.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b\\c\n\x00", "<&>", "\xff", "é\u2028中", strings.Repeat("x", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		html := AppendHTMLSafe(nil, s)
		if utf8.ValidString(s) && !strings.ContainsAny(s, "\b\f") && !bytes.Equal(html, want) {
			t.Errorf("AppendHTMLSafe(%q) = %s, json.Marshal %s", s, html, want)
		}
		var fromJSON string
		if err := json.Unmarshal(want, &fromJSON); err != nil {
			t.Fatal(err)
		}
		for _, out := range [][]byte{html, Append(nil, s)} {
			var got string
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%s is not JSON: %v", out, err)
			}
			if got != fromJSON {
				t.Errorf("%s reads back as %q, want %q", out, got, fromJSON)
			}
		}
	})
}
