package catalog

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// The languages that specs may write their titles and descriptions in, as
// BCP 47 tags: English, the default, and Traditional Chinese.
const (
	English            = "en"
	TraditionalChinese = "zh-Hant"
)

// Languages lists the languages of Text in the order pages offer them;
// English first.
var Languages = []string{English, TraditionalChinese}

// Text is a title or description in one or more languages, keyed by the
// tags of Languages. A spec writes it as a plain string (English) or as a
// mapping of language to text:
//
//	title: {en: Air temperature, zh-Hant: 氣溫}
//
// A Text that is not empty always has its English entry.
type Text map[string]string

// In returns the text in lang, or the English text when there is none in
// lang; "" if the Text is empty.
func (t Text) In(lang string) string {
	if s := t[lang]; s != "" {
		return s
	}
	return t[English]
}

// text decodes a Text: a string (English) or a mapping of language tags to
// strings, which must include English. If plain is not nil it receives the
// English text, so that callers that show one language keep working.
func (d *decoder) text(dst *Text, plain *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		t := Text{}
		switch n.Kind {
		case yaml.ScalarNode:
			v, ok := d.scalar(n, path, "a string or a mapping of language to text")
			if !ok {
				return
			}
			t[English] = v
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if !slices.Contains(Languages, k.Value) {
					d.add(k.Line, join(path, k.Value), "unknown language; write the text in %s", strings.Join(Languages, " or "))
					continue
				}
				if _, dup := t[k.Value]; dup {
					d.add(k.Line, join(path, k.Value), "language appears twice")
					continue
				}
				if s, ok := d.scalar(v, join(path, k.Value), "a string"); ok {
					t[k.Value] = s
				}
			}
			if _, ok := t[English]; !ok && len(t) > 0 {
				d.add(n.Line, path, "missing the English text (%s:); other languages are optional", English)
			}
		default:
			d.add(n.Line, path, "must be a string or a mapping of language to text, not %s", kindName(n))
			return
		}
		*dst = t
		if plain != nil {
			*plain = t[English]
		}
	}
}
