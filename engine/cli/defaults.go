package cli

import (
	"fmt"
	"io"

	"github.com/intercom-actions/intercom-actions/rules"
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
	srcs := rules.Defaults()
	if len(srcs) == 0 {
		fmt.Fprintf(stderr, "defaults: no embedded rule files\n")
		return 1
	}
	for i, src := range srcs {
		if len(srcs) > 1 {
			if i > 0 {
				fmt.Fprintln(stdout)
			}
			fmt.Fprintf(stdout, "# --- %s ---\n", src.Name)
		}
		stdout.Write(src.Data)
	}
	return 0
}
