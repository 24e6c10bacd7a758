package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Catalog is a validated set of specs. It is immutable once loaded and safe
// for concurrent use.
type Catalog struct {
	feeds []*Feed
	byKey map[string]*Feed
}

// Feeds returns every feed, sorted by name.
func (c *Catalog) Feeds() []*Feed { return c.feeds }

// Feed returns the feed called name, or nil.
func (c *Catalog) Feed(name string) *Feed { return c.byKey[name] }

// Select returns the named feeds, or all of them when names is empty; an
// unknown name is an error that lists the known ones.
func (c *Catalog) Select(names ...string) ([]*Feed, error) {
	if len(names) == 0 {
		return c.feeds, nil
	}
	var out []*Feed
	for _, n := range names {
		f := c.Feed(n)
		if f == nil {
			known := make([]string, len(c.feeds))
			for i, f := range c.feeds {
				known[i] = f.Name
			}
			return nil, fmt.Errorf("no feed called %q; known feeds: %s", n, strings.Join(known, ", "))
		}
		out = append(out, f)
	}
	return out, nil
}

// Load reads every spec in the given files and folders (folders are walked
// for *.yaml and *.yml) on top of base, which may be nil. It returns every
// problem at once as an ErrorList; I/O errors are returned as they are.
func Load(base *Catalog, paths ...string) (*Catalog, error) {
	var files []source
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("reading specs: %w", err)
		}
		if !info.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("reading specs: %w", err)
			}
			files = append(files, source{name: p, data: data})
			continue
		}
		err = filepath.WalkDir(p, func(name string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !isYAML(name) {
				return err
			}
			data, err := os.ReadFile(name)
			files = append(files, source{name: name, data: data})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("reading specs in %s: %w", p, err)
		}
	}
	return build(base, files)
}

// LoadFS reads every *.yaml and *.yml file under dir in fsys, as Load does.
func LoadFS(base *Catalog, fsys fs.FS, dir string) (*Catalog, error) {
	var files []source
	err := fs.WalkDir(fsys, dir, func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !isYAML(name) {
			return err
		}
		data, err := fs.ReadFile(fsys, name)
		files = append(files, source{name: name, data: data})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading specs: %w", err)
	}
	return build(base, files)
}

// Parse reads the specs in one file's content; name is used in messages.
func Parse(name string, data []byte) (*Catalog, error) {
	return build(nil, []source{{name: name, data: data}})
}

type source struct {
	name string
	data []byte
}

func isYAML(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".yaml" || ext == ".yml"
}

func build(base *Catalog, files []source) (*Catalog, error) {
	c := &Catalog{byKey: map[string]*Feed{}}
	if base != nil {
		for _, f := range base.feeds {
			c.add(f)
		}
	}
	var all ErrorList
	for _, src := range files {
		p := &problems{file: src.name}
		for _, f := range parseFile(p, src.data) {
			if f.Name == "" {
				continue // reported as missing
			}
			if prev := c.Feed(f.Name); prev != nil {
				p.add(f.Line, "name", "feed %q is already declared at %s:%d", f.Name, prev.File, prev.Line)
				continue
			}
			c.add(f)
		}
		all = append(all, p.list...)
	}
	if len(all) > 0 {
		sort.SliceStable(all, func(i, j int) bool {
			if all[i].File != all[j].File {
				return all[i].File < all[j].File
			}
			return all[i].Line < all[j].Line
		})
		return nil, all
	}
	sort.Slice(c.feeds, func(i, j int) bool { return c.feeds[i].Name < c.feeds[j].Name })
	return c, nil
}

func (c *Catalog) add(f *Feed) {
	c.feeds = append(c.feeds, f)
	c.byKey[f.Name] = f
}

// parseFile decodes every YAML document in data. Documents whose structure is
// broken are reported and skipped; the others are returned even when they
// have problems, so that duplicate names are still found.
func parseFile(p *problems, data []byte) []*Feed {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var feeds []*Feed
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return feeds
		}
		if err != nil {
			p.add(yamlErrorLine(err), "", "not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
			return feeds
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" && root.Value == "" {
			continue // an empty document, as after a trailing "---"
		}
		if f := parseDocument(p, root); f != nil {
			feeds = append(feeds, f)
		}
	}
}

var lineInYAMLError = regexp.MustCompile(`line (\d+)`)

func yamlErrorLine(err error) int {
	m := lineInYAMLError.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	var n int
	fmt.Sscanf(m[1], "%d", &n)
	return n
}

// parseDocument dispatches on the document's kind.
func parseDocument(p *problems, root *yaml.Node) *Feed {
	if root.Kind != yaml.MappingNode {
		p.add(root.Line, "", "a spec must be a mapping with a kind (feed), not %s", kindName(root))
		return nil
	}
	kind := ""
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "kind" {
			kind = root.Content[i+1].Value
		}
	}
	switch kind {
	case "feed":
		f := &Feed{File: p.file, Line: root.Line, Version: 1}
		decodeFeed(&decoder{p}, root, f)
		validateFeed(p, f)
		return f
	case "":
		p.add(root.Line, "kind", "missing; say what this document declares, e.g. \"kind: feed\"")
	default:
		p.add(root.Line, "kind", "unknown kind %q; valid kinds are feed", kind)
	}
	return nil
}
