package cli

import (
	"fmt"
	"io"
	"io/fs"
	"sort"

	"github.com/intercom-actions/intercom-actions/rules/defaults"
)

func init() {
	register(&command{name: "defaults", summary: "print the embedded default rules (a starting point for your own)", run: runDefaults})
}

const defaultsUsage = `
Usage: intercom-actions defaults

Prints the rule file built into this binary: the rules commands use when
no --rules is given (Segment's presets). Save it to start your own rules,
or to see what --with-defaults layers yours on.

Examples:
  intercom-actions defaults > rules.yaml
  intercom-actions check rules.yaml
`

func runDefaults(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	flags := newFlags("defaults", defaultsUsage, stderr, stdout)
	if code, ok := parse(flags, args, stdout); !ok {
		return code
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "defaults: takes no arguments (see defaults --help)\n")
		return 2
	}
	names, err := fs.Glob(defaults.FS, "*.y*ml")
	if err != nil || len(names) == 0 {
		fmt.Fprintf(stderr, "defaults: no embedded rule files (%v)\n", err)
		return 1
	}
	sort.Strings(names)
	for i, name := range names {
		data, err := fs.ReadFile(defaults.FS, name)
		if err != nil {
			fmt.Fprintf(stderr, "defaults: %v\n", err)
			return 1
		}
		if len(names) > 1 {
			if i > 0 {
				fmt.Fprintln(stdout)
			}
			fmt.Fprintf(stdout, "# --- %s ---\n", name)
		}
		stdout.Write(data)
	}
	return 0
}
