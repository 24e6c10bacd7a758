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

// Catalog is a validated set of specs of every kind (feeds, and the kinds
// registered with registerKind). It is immutable once loaded and safe for concurrent
// use.
type Catalog struct {
	feeds []*Feed
	byKey map[string]*Feed
	// others holds the specs of the other kinds: kind → name → spec.
	others map[string]map[string]Spec
}

// Spec is a document of any kind; each kind's type implements it.
type Spec interface {
	// SpecName is the spec's name, unique within its kind.
	SpecName() string
	// SpecLocation is the file and line where the spec starts.
	SpecLocation() (file string, line int)
}

// SpecName returns the feed's name.
func (f *Feed) SpecName() string { return f.Name }

// SpecLocation returns where the feed is declared.
func (f *Feed) SpecLocation() (string, int) { return f.File, f.Line }

// kind describes one kind of spec besides feeds (pipelines, jobs). Each is
// declared in its own spec_<kind>.go file of this package, which registers
// it from init with registerKind.
type kind struct {
	// name is the value of the document's "kind" key.
	name string
	// decode decodes and validates one document, reporting problems to p,
	// and returns nil if the document is unusable.
	decode func(p *problems, root *yaml.Node) Spec
	// check validates references to other specs once every file is loaded
	// (a pipeline's source feed, a job's upstream jobs). It may be nil.
	check func(c *Catalog, s Spec, r *crossProblems)
}

// kinds is the registry of spec kinds, filled at init.
var kinds = map[string]kind{}

func registerKind(k kind) {
	if _, dup := kinds[k.name]; dup || k.name == "feed" {
		panic("catalog: kind " + k.name + " registered twice")
	}
	kinds[k.name] = k
}

// Feeds returns every feed, sorted by name.
func (c *Catalog) Feeds() []*Feed { return c.feeds }

// Feed returns the feed called name, or nil.
func (c *Catalog) Feed(name string) *Feed { return c.byKey[name] }

// Specs returns the specs of a kind other than feed, sorted by name.
func (c *Catalog) Specs(kind string) []Spec {
	out := make([]Spec, 0, len(c.others[kind]))
	for _, s := range c.others[kind] {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SpecName() < out[j].SpecName() })
	return out
}

// Spec returns the spec of kind called name, or nil.
func (c *Catalog) Spec(kind, name string) Spec { return c.others[kind][name] }

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
	c := &Catalog{byKey: map[string]*Feed{}, others: map[string]map[string]Spec{}}
	if base != nil {
		for _, f := range base.feeds {
			c.add(f)
		}
		for kind, specs := range base.others {
			for _, s := range specs {
				c.addOther(kind, s)
			}
		}
	}
	var all ErrorList
	var added []kindSpec
	for _, src := range files {
		p := &problems{file: src.name}
		for _, ks := range parseFile(p, src.data) {
			name := ks.spec.SpecName()
			if name == "" {
				continue // reported as missing
			}
			var prev Spec
			if f := c.Feed(name); ks.kind == "feed" && f != nil {
				prev = f
			} else if ks.kind != "feed" {
				prev = c.Spec(ks.kind, name)
			}
			if prev != nil {
				_, line := ks.spec.SpecLocation()
				pf, pl := prev.SpecLocation()
				p.add(line, "name", "%s %q is already declared at %s:%d", ks.kind, name, pf, pl)
				continue
			}
			if f, ok := ks.spec.(*Feed); ok {
				c.add(f)
			} else {
				c.addOther(ks.kind, ks.spec)
			}
			added = append(added, ks)
		}
		all = append(all, p.list...)
	}
	// Cross-references are checked once everything is loaded.
	r := &crossProblems{}
	for _, ks := range added {
		if k, ok := kinds[ks.kind]; ok && k.check != nil {
			k.check(c, ks.spec, r)
		}
	}
	all = append(all, r.list...)
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

func (c *Catalog) addOther(kind string, s Spec) {
	if c.others[kind] == nil {
		c.others[kind] = map[string]Spec{}
	}
	c.others[kind][s.SpecName()] = s
}

// kindSpec is a decoded document with its kind.
type kindSpec struct {
	kind string
	spec Spec
}

// crossProblems collects problems of cross-reference checks, which may
// concern any file.
type crossProblems struct{ list ErrorList }

func (m *crossProblems) add(file string, line int, path, format string, args ...any) {
	m.list = append(m.list, &SpecError{File: file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// parseFile decodes every YAML document in data. Documents whose structure is
// broken are reported and skipped; the others are returned even when they
// have problems, so that duplicate names are still found.
func parseFile(p *problems, data []byte) []kindSpec {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var specs []kindSpec
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return specs
		}
		if err != nil {
			p.add(yamlErrorLine(err), "", "not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
			return specs
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" && root.Value == "" {
			continue // an empty document, as after a trailing "---"
		}
		if ks, ok := parseDocument(p, root); ok {
			specs = append(specs, ks)
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
func parseDocument(p *problems, root *yaml.Node) (kindSpec, bool) {
	if root.Kind != yaml.MappingNode {
		p.add(root.Line, "", "a spec must be a mapping with a kind (%s), not %s", kindList(), kindName(root))
		return kindSpec{}, false
	}
	kind := ""
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "kind" {
			kind = root.Content[i+1].Value
		}
	}
	if kind == "feed" {
		f := &Feed{File: p.file, Line: root.Line, Version: 1}
		decodeFeed(&decoder{p}, root, f)
		validateFeed(p, f)
		return kindSpec{"feed", f}, true
	}
	if k, ok := kinds[kind]; ok {
		s := k.decode(p, root)
		return kindSpec{kind, s}, s != nil
	}
	if kind == "" {
		p.add(root.Line, "kind", "missing; say what this document declares, e.g. \"kind: feed\"")
	} else {
		p.add(root.Line, "kind", "unknown kind %q; valid kinds are %s", kind, kindList())
	}
	return kindSpec{}, false
}

// kindList names every kind, for messages.
func kindList() string {
	names := []string{"feed"}
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names[1:])
	return strings.Join(names, ", ")
}

// Counts returns how many specs of each kind the catalogue holds.
func (c *Catalog) Counts() map[string]int {
	out := map[string]int{"feed": len(c.feeds)}
	for kind, specs := range c.others {
		out[kind] = len(specs)
	}
	return out
}
