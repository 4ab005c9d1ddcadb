package engine

import (
	"bufio"
	"fmt"
	"go/build"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// purePackages do no I/O: rule syntax, compiling and evaluating rules,
// action declarations (whose executor does I/O only through the
// intercom.API it is given), and the Intercom API's types. Paths are
// relative to the module.
var purePackages = []string{
	"rules",
	"engine",
	"engine/action",
	"engine/intercom",
	"engine/internal/event",
	"engine/internal/swar",
}

// ioImport reports whether a pure package may not import the standard
// library package path: it reaches the file system, the network, the
// process or the global logger (log/slog, given a handler, is fine).
func ioImport(path string) bool {
	under := func(root string) bool { return path == root || strings.HasPrefix(path, root+"/") }
	return under("os") || under("net") || under("syscall") || under("database/sql") ||
		path == "io/ioutil" || path == "path/filepath" || path == "crypto/tls" ||
		path == "log" || path == "plugin"
}

// purityPlatforms are the systems the check is made for: a file built
// only on one of them (foo_windows.go) counts there.
var purityPlatforms = [][2]string{{"linux", "amd64"}, {"darwin", "arm64"}, {"windows", "amd64"}, {"js", "wasm"}}

// TestPurePackagesDoNoIO: no pure package, and no package of this module
// it depends on, directly imports a package that does I/O. (The standard
// library's own imports do not count: fmt imports os.) Test files are not
// checked. A failure names the package, the import and the chain of
// imports from the pure package to it.
func TestPurePackagesDoNoIO(t *testing.T) {
	root, module := moduleRoot(t)
	var problems []string       // in the order found
	on := map[string][]string{} // problem → the platforms it is found on
	for _, platform := range purityPlatforms {
		ctx := build.Default
		ctx.GOOS, ctx.GOARCH = platform[0], platform[1]
		ctx.CgoEnabled = false
		imports := map[string][]string{} // module package → its imports, read once
		importsOf := func(pkg string) []string {
			if imps, ok := imports[pkg]; ok {
				return imps
			}
			dir := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")))
			p, err := ctx.ImportDir(dir, 0)
			if err != nil {
				t.Fatalf("%s/%s: reading %s: %v", ctx.GOOS, ctx.GOARCH, pkg, err)
			}
			imports[pkg] = p.Imports
			return p.Imports
		}
		for _, rel := range purePackages {
			start := module + "/" + rel
			// Breadth first, so that each chain reported is a shortest one.
			from := map[string]string{start: ""}
			queue := []string{start}
			for len(queue) > 0 {
				pkg := queue[0]
				queue = queue[1:]
				for _, imp := range importsOf(pkg) {
					switch {
					case ioImport(imp):
						p := fmt.Sprintf("pure package %s does I/O: %s imports %q (chain: %s)",
							short(start, module), short(pkg, module), imp, chain(from, pkg, imp, module))
						if on[p] == nil {
							problems = append(problems, p)
						}
						on[p] = append(on[p], ctx.GOOS+"/"+ctx.GOARCH)
					case imp == module || strings.HasPrefix(imp, module+"/"):
						if _, seen := from[imp]; !seen {
							from[imp] = pkg
							queue = append(queue, imp)
						}
					}
				}
			}
		}
	}
	for _, p := range problems {
		if len(on[p]) < len(purityPlatforms) {
			p += " on " + strings.Join(on[p], ", ")
		}
		t.Error(p)
	}
}

// chain is the imports from a pure package to pkg, and then to imp.
func chain(from map[string]string, pkg, imp, module string) string {
	links := []string{imp}
	for p := pkg; p != ""; p = from[p] {
		links = append(links, short(p, module))
	}
	slices.Reverse(links)
	return strings.Join(links, " → ")
}

// short is pkg's path within the module ("engine/action").
func short(pkg, module string) string {
	if pkg == module {
		return "."
	}
	return strings.TrimPrefix(pkg, module+"/")
}

// moduleRoot finds go.mod above the test's folder and the module's path.
func moduleRoot(t *testing.T) (dir, module string) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		f, err := os.Open(filepath.Join(dir, "go.mod"))
		if err == nil {
			defer f.Close()
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
					return dir, strings.Trim(strings.TrimSpace(rest), `"`)
				}
			}
			t.Fatalf("%s: no module line", filepath.Join(dir, "go.mod"))
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}
