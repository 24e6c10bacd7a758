package catalog

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// key describes one key of a YAML mapping: its name, whether it must be
// present, a line of documentation, and how to decode its value.
type key struct {
	name     string
	required bool
	doc      string
	decode   func(n *yaml.Node, path string)
}

// decoder walks yaml.Nodes strictly, recording every problem with its line
// instead of stopping at the first one.
type decoder struct {
	*problems
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// mapping decodes n as a mapping with exactly the given keys: unknown keys,
// duplicate keys and missing required keys are reported. It returns the keys
// that were present.
func (d *decoder) mapping(n *yaml.Node, path string, keys []key) map[string]bool {
	if n.Kind != yaml.MappingNode {
		d.add(n.Line, path, "must be a mapping of keys to values, not %s", kindName(n))
		return nil
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var spec *key
		for j := range keys {
			if keys[j].name == k.Value {
				spec = &keys[j]
				break
			}
		}
		if spec == nil {
			d.add(k.Line, join(path, k.Value), "unknown key; valid keys are %s", keyNames(keys))
			continue
		}
		if seen[k.Value] {
			d.add(k.Line, join(path, k.Value), "key appears twice")
			continue
		}
		seen[k.Value] = true
		spec.decode(v, join(path, k.Value))
	}
	for _, k := range keys {
		if k.required && !seen[k.name] {
			d.add(n.Line, join(path, k.name), "missing (%s)", k.doc)
		}
	}
	return seen
}

func keyNames(keys []key) string {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.name
	}
	return strings.Join(names, ", ")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "unknown"
}

func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.add(n.Line, path, "must be %s, not %s", want, kindName(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) str(dst *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if v, ok := d.scalar(n, path, "a string"); ok {
			*dst = v
		}
	}
}

func (d *decoder) integer(dst *int) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		v, ok := d.scalar(n, path, "a whole number")
		if !ok {
			return
		}
		i, err := strconv.Atoi(v)
		if err != nil {
			d.add(n.Line, path, "must be a whole number, not %q", v)
			return
		}
		*dst = i
	}
}

func (d *decoder) number(dst **float64) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		v, ok := d.scalar(n, path, "a number")
		if !ok {
			return
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			d.add(n.Line, path, "must be a number, not %q", v)
			return
		}
		*dst = &f
	}
}

func (d *decoder) boolean(dst *bool) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		v, ok := d.scalar(n, path, "true or false")
		if !ok {
			return
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			d.add(n.Line, path, "must be true or false, not %q", v)
			return
		}
		*dst = b
	}
}

// duration decodes a duration; with positive, zero and negative ones are refused.
func (d *decoder) duration(dst *time.Duration, positive bool) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		v, ok := d.scalar(n, path, "a duration")
		if !ok {
			return
		}
		dur, err := ParseDuration(v)
		if err != nil {
			d.add(n.Line, path, "%v", err)
			return
		}
		if positive && dur <= 0 {
			d.add(n.Line, path, "must be more than zero, not %q", v)
			return
		}
		*dst = dur
	}
}

// strings decodes a list of strings; a single string is accepted as a list of one.
func (d *decoder) strings(dst *[]string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
			*dst = []string{n.Value}
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.add(n.Line, path, "must be a list of strings, not %s", kindName(n))
			return
		}
		for i, item := range n.Content {
			if v, ok := d.scalar(item, fmt.Sprintf("%s[%d]", path, i), "a string"); ok {
				*dst = append(*dst, v)
			}
		}
	}
}

// list decodes a sequence, calling each for every item with its path.
func (d *decoder) list(each func(n *yaml.Node, path string)) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if n.Kind != yaml.SequenceNode {
			d.add(n.Line, path, "must be a list, not %s", kindName(n))
			return
		}
		for i, item := range n.Content {
			each(item, fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

// size decodes a byte size such as "16MB".
func (d *decoder) size(dst *int64) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		v, ok := d.scalar(n, path, "a size")
		if !ok {
			return
		}
		b, err := ParseSize(v)
		if err != nil {
			d.add(n.Line, path, "%v", err)
			return
		}
		*dst = b
	}
}

// stringMap decodes a mapping of strings to strings.
func (d *decoder) stringMap(dst *map[string]string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if n.Kind != yaml.MappingNode {
			d.add(n.Line, path, "must be a mapping of strings to strings, not %s", kindName(n))
			return
		}
		*dst = map[string]string{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if val, ok := d.scalar(v, join(path, k.Value), "a string"); ok {
				(*dst)[k.Value] = val
			}
		}
	}
}
