package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

func init() {
	register(&command{name: "version", summary: "print the version, commit and Go version of this binary", run: runVersion})
}

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// without it the module version from the build information is used.
var version string

const versionUsage = `
Usage: intercom-actions version

Prints the version of this binary, the commit it was built from (when the
build recorded it) and the Go version and platform, e.g.
  intercom-actions v1.2.0 (commit 4d9fc48, 2024-03-01T12:00:00Z) go1.26.0 linux/amd64
'intercom-actions --version' prints the same.
`

func runVersion(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("version", versionUsage, stderr, stdout)
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "version: takes no arguments\n")
		return 2
	}
	fmt.Fprintln(stdout, versionLine(debug.ReadBuildInfo))
	return 0
}

// versionLine describes the binary from its build information.
func versionLine(read func() (*debug.BuildInfo, bool)) string {
	v, commit, when, modified := version, "", "", false
	info, ok := read()
	if ok {
		if v == "" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "(unknown)"
	}
	var b strings.Builder
	b.WriteString("intercom-actions " + v)
	if commit != "" {
		if len(commit) > 12 {
			commit = commit[:12]
		}
		details := []string{"commit " + commit}
		if when != "" {
			details = append(details, when)
		}
		if modified {
			details = append(details, "with local changes")
		}
		b.WriteString(" (" + strings.Join(details, ", ") + ")")
	}
	fmt.Fprintf(&b, " %s %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return b.String()
}
