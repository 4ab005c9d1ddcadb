package cli

import "flag"

// -update rewrites golden files: here the command reference
// (engine/cli/README.md) and the README's options table.
var _ = flag.Bool("update", false, "rewrite the generated references")
