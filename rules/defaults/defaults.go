// Package defaults holds the embedded default rule set: the same three
// mappings as Segment's Intercom Cloud Mode (Actions) presets.
package defaults

import (
	"embed"

	"github.com/intercom-actions/intercom-actions/rules"
)

// FS holds the default rule files.
//
//go:embed *.yaml
var FS embed.FS

// Name is how the defaults are named in messages and --rules flags.
const Name = "defaults"

// Load reads the default rules. It fails only if the embedded files are
// broken, which the package's tests rule out.
func Load() (*rules.Set, error) {
	return rules.LoadFS(FS, ".")
}
