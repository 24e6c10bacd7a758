package catalog_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cityhighway/highway/highway/catalog"
)

// FuzzParse checks that Parse never panics and that it returns either a
// catalogue or an ErrorList of located, non-empty messages. It is seeded with
// the built-in specs and broken variations of them.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("builtin", "*.yaml"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no builtin specs to seed with: %v", err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, seed := range []string{
		validFeed,
		validFeed + "---\n" + validFeed,
		validFeed + "colour: red\nversion: 0\naccess: public\nretention: 106752d\n",
		"kind: feed\nname: Bad\nfields: [{name: x, type: text, min: 2, max: 1, enum: [a]}]\nkey: [x, y, x]\nevent_time: x\ninterval: 0s\n",
		"kind: feed\nname: [unclosed\n",
		"kind: feed\nname: &a x.y\ndepartment: *a\n<<: {key: z}\n",
		"kind: feeds\n---\n~\n---\n- a\n",
		"kind: feed\nname: a.b\n\tdepartment: x\n",
		"{kind: feed, name: a.b, fields: [], key: [], event_time: '', interval: 1h}",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := catalog.Parse("fuzz.yaml", data)
		if err == nil {
			if c == nil {
				t.Fatal("Parse returned neither a catalogue nor an error")
			}
			for _, feed := range c.Feeds() {
				if feed.Name == "" || len(feed.Fields) == 0 || feed.Interval <= 0 || feed.Version < 1 {
					t.Fatalf("Parse accepted an invalid feed: %+v", feed)
				}
				if c.Feed(feed.Name) != feed {
					t.Fatalf("Feed(%q) does not return the feed", feed.Name)
				}
			}
			return
		}
		if c != nil {
			t.Fatal("Parse returned a catalogue with its errors")
		}
		var list catalog.ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("error is not a non-empty ErrorList: %T %v", err, err)
		}
		if !errors.Is(err, catalog.ErrInvalidSpec) {
			t.Fatalf("error does not match ErrInvalidSpec: %v", err)
		}
		for i, e := range list {
			if e == nil || e.File != "fuzz.yaml" || e.Msg == "" || e.Line < 0 {
				t.Fatalf("entry %d of the ErrorList is not located or empty: %#v", i, e)
			}
			if i > 0 && e.Line < list[i-1].Line {
				t.Fatalf("errors are not in line order: %v", err)
			}
		}
	})
}
