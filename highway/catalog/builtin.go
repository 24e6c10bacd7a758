package catalog

import "embed"

//go:embed builtin/*.yaml
var builtinSpecs embed.FS

// Builtin returns the catalogue of feeds the binary ships with. The specs are
// embedded, so it fails only if they are broken, which a test rules out.
func Builtin() (*Catalog, error) {
	return LoadFS(nil, builtinSpecs, "builtin")
}
