// Package presets holds the embedded opt-in rule presets: rule files that
// are not part of the defaults, added to the active rules on request
// (`--preset NAME`). Each is one YAML file named after the preset.
package presets

import (
	"embed"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/intercom-actions/intercom-actions/rules"
)

// FS holds the preset rule files.
//
//go:embed *.yaml
var FS embed.FS

// Names lists the presets, sorted.
func Names() []string {
	entries, _ := FS.ReadDir(".")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), path.Ext(e.Name())))
	}
	slices.Sort(names)
	return names
}

// Source returns the preset called name as a rule file, named
// "presets/<name>.yaml" in messages.
func Source(name string) (rules.Source, error) {
	data, err := FS.ReadFile(name + ".yaml")
	if err != nil || strings.ContainsAny(name, "/.") {
		return rules.Source{}, fmt.Errorf("unknown preset %q%s", name, rules.Suggest(name, Names()))
	}
	return rules.Source{Name: "presets/" + name + ".yaml", Data: data}, nil
}

// Sources returns the presets called names, in order.
func Sources(names ...string) ([]rules.Source, error) {
	var out []rules.Source
	for _, n := range names {
		s, err := Source(n)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
