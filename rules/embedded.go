package rules

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// embedded holds the default rule files (defaults/) and the opt-in
// presets (presets/), one YAML file per preset.
//
//go:embed defaults/*.yaml presets/*.yaml
var embedded embed.FS

// DefaultsName is how the default rules are named in messages and
// --rules flags.
const DefaultsName = "defaults"

// sub is the embedded folder dir as a file system of its own.
func sub(dir string) fs.FS {
	f, err := fs.Sub(embedded, dir)
	if err != nil {
		panic(err) // dir is a constant of this package
	}
	return f
}

// Defaults returns the embedded default rule files: the same three
// mappings as Segment's Intercom Cloud Mode (Actions) presets. They are
// named as in their folder ("segment.yaml"). Each call returns fresh
// copies; the package's tests check that they parse and compile.
func Defaults() []Source {
	srcs, err := ReadFS(sub("defaults"), ".")
	if err != nil {
		panic(err) // the files are embedded; the package's tests read them
	}
	return srcs
}

// PresetNames lists the embedded opt-in presets, sorted: rule files that
// are not part of the defaults, added to the active rules on request
// (`--preset NAME`). Each is one YAML file named after the preset.
func PresetNames() []string {
	entries, _ := fs.ReadDir(sub("presets"), ".")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), path.Ext(e.Name())))
	}
	slices.Sort(names)
	return names
}

// Presets returns the presets called names, in order, each named
// "presets/<name>.yaml" in messages.
func Presets(names ...string) ([]Source, error) {
	var out []Source
	for _, n := range names {
		s, err := preset(n)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// preset returns the preset called name as a rule file.
func preset(name string) (Source, error) {
	data, err := fs.ReadFile(sub("presets"), name+".yaml")
	if err != nil || strings.ContainsAny(name, "/.") {
		return Source{}, fmt.Errorf("unknown preset %q%s", name, Suggest(name, PresetNames()))
	}
	return Source{Name: "presets/" + name + ".yaml", Data: data}, nil
}
