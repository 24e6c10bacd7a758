package catalog_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/cityhighway/highway/highway/catalog"
)

func TestTextInSpecs(t *testing.T) {
	spec := func(title, desc, fieldDesc string) string {
		return "kind: feed\nname: city.test.feed\ndepartment: TEST\n" + title + desc +
			"fields:\n  - {name: id, type: string, required: true" + fieldDesc + "}\n  - {name: at, type: time, required: true}\n" +
			"key: [id]\nevent_time: at\ninterval: 1m\n"
	}
	tests := []struct {
		name      string
		yaml      string
		title     catalog.Text
		desc      string
		descs     catalog.Text
		fieldDesc catalog.Text
		err       string
	}{
		{name: "none", yaml: spec("", "", "")},
		{name: "plain strings are English", yaml: spec("title: Test\n", "description: A test feed\n", ", description: The id"),
			title: catalog.Text{"en": "Test"}, desc: "A test feed", descs: catalog.Text{"en": "A test feed"}, fieldDesc: catalog.Text{"en": "The id"}},
		{name: "both languages", yaml: spec("title: {en: Test, zh-Hant: 測試}\n", "description: {en: A test feed, zh-Hant: 測試數據}\n", ", description: {en: The id, zh-Hant: 編號}"),
			title: catalog.Text{"en": "Test", "zh-Hant": "測試"}, desc: "A test feed", descs: catalog.Text{"en": "A test feed", "zh-Hant": "測試數據"},
			fieldDesc: catalog.Text{"en": "The id", "zh-Hant": "編號"}},
		{name: "unknown language", yaml: spec("title: {en: Test, fr: Essai}\n", "", ""), err: "f.yaml:4: title.fr: unknown language; write the text in en or zh-Hant"},
		{name: "English missing", yaml: spec("title: {zh-Hant: 測試}\n", "", ""), err: "f.yaml:4: title: missing the English text (en:)"},
		{name: "a list", yaml: spec("title: [a, b]\n", "", ""), err: "f.yaml:4: title: must be a string or a mapping of language to text, not a list"},
		{name: "a list as a language's text", yaml: spec("", "description: {en: [a]}\n", ""), err: "f.yaml:4: description.en: must be a string, not a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := catalog.Parse("f.yaml", []byte(tt.yaml))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f := c.Feeds()[0]
			if !maps.Equal(f.Title, tt.title) || f.Description != tt.desc || !maps.Equal(f.Descriptions, tt.descs) || !maps.Equal(f.Fields[0].Descriptions, tt.fieldDesc) {
				t.Errorf("title %v, description %q %v, field description %v; want %v, %q %v, %v",
					f.Title, f.Description, f.Descriptions, f.Fields[0].Descriptions, tt.title, tt.desc, tt.descs, tt.fieldDesc)
			}
			if tt.fieldDesc != nil && f.Fields[0].Description != tt.fieldDesc["en"] {
				t.Errorf("field description %q, want the English text", f.Fields[0].Description)
			}
		})
	}
}

func TestTextIn(t *testing.T) {
	tx := catalog.Text{"en": "Rainfall", "zh-Hant": "雨量"}
	for lang, want := range map[string]string{"en": "Rainfall", "zh-Hant": "雨量", "fr": "Rainfall"} {
		if got := tx.In(lang); got != want {
			t.Errorf("In(%q) = %q, want %q", lang, got, want)
		}
	}
	if got := (catalog.Text{}).In("en"); got != "" {
		t.Errorf("empty text In = %q", got)
	}
}

// Every built-in feed has a title and a description in every language, and
// so does every field that has a description.
func TestBuiltinFeedsInEveryLanguage(t *testing.T) {
	c, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range c.Feeds() {
		for _, lang := range catalog.Languages {
			if f.Title[lang] == "" || f.Descriptions[lang] == "" {
				t.Errorf("%s: no title or description in %s", f.Name, lang)
			}
			for _, fld := range f.Fields {
				if len(fld.Descriptions) > 0 && fld.Descriptions[lang] == "" {
					t.Errorf("%s.%s: no description in %s", f.Name, fld.Name, lang)
				}
			}
		}
	}
}
