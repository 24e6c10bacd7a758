package catalog

import (
	"fmt"
	"testing"
)

func TestScratch(t *testing.T) {
	for _, s := range []string{
		"kind: feed\nname: a.b\n  bad: x\n",
		"kind: feed\nname: [a.b\n",
		"kind: feed\n---\nname: x: y\n",
		"a: b\n\tc: d\n",
		"kind: feed\nname: \"abc\n",
		"- a\nb: c\n",
		"kind: feed\nname: a.b\n---\nkind: feed\n  x: 1\n",
		"kind: *x\n",
		"version: 0\n",
		"{",
		"kind: feed\nname: a.b\nkind: x\n",
		"\"\\xZZ\"",
		"a: !!int x\n",
	} {
		_, err := Parse("f.yaml", []byte(s))
		fmt.Printf("%q\n  %v\n", s, err)
	}
}
