package dispatch

import "flag"

// -update rewrites golden files; it is declared in every test package so
// that `go test ./... -update` runs, though this one has none to rewrite.
var _ = flag.Bool("update", false, "rewrite golden files (none in this package)")
