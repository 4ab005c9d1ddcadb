package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/intercom-actions/intercom-actions/engine/processor"
	"github.com/intercom-actions/intercom-actions/rules"
)

func init() {
	register(&command{name: "check", summary: "validate rule files; print every error with file:line:col", run: runCheck})
}

const checkUsage = `
Usage: intercom-actions check [--with-defaults] [--preset NAME]... [RULES...]

Loads and compiles rule files (YAML) and folders of them, and prints every
problem found, each as  file:line:col: rule "name": field "f": message.
Without arguments it checks the embedded defaults. With --with-defaults it
checks the files layered on the defaults, as plan, test and send use them
with --with-defaults: a rule named like a default rule replaces it, the
others are added. --preset adds an embedded opt-in preset (e.g.
classic-company).

Warnings (a metadata mapping that can give Intercom more than the 10 keys
it keeps, without keep:) go to standard error too, and do not fail.

Exit status: 0 when the rules are valid, 1 when any has an error.

Examples:
  intercom-actions check rules/defaults
  intercom-actions check my-rules/ extra.yaml
  intercom-actions check --with-defaults extra.yaml
  intercom-actions check --preset classic-company
`

func runCheck(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("check", checkUsage, stderr, stdout)
	var cfg processor.Config
	addOptions(fs, &cfg, "with-defaults", "preset")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	eng, replaced, err := compileRules(fs.Args(), cfg.Rules.WithDefaults, cfg.Rules.Presets)
	var list rules.ErrorList
	switch {
	case errors.As(err, &list):
		for _, e := range list {
			fmt.Fprintln(stderr, e)
		}
		fmt.Fprintf(stderr, "%d error(s)\n", len(list))
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "check: %v\n", err)
		return 1
	}
	all := eng.Rules()
	enabled := 0
	for _, r := range all {
		if r.Enabled {
			enabled++
		}
	}
	for _, w := range eng.Warnings() {
		fmt.Fprintln(stderr, w)
	}
	fmt.Fprintf(stdout, "ok: %d rules (%d enabled)\n", len(all), enabled)
	if cfg.Rules.WithDefaults && len(fs.Args()) > 0 {
		fmt.Fprintf(stdout, "layered on the defaults; replaced: %s\n", orNone(replaced))
	}
	for _, r := range all {
		state := ""
		if !r.Enabled {
			state = " (disabled)"
		}
		fmt.Fprintf(stdout, "  %-28s %-17s when %s%s\n", r.Name, r.Action, r.Trigger, state)
	}
	return 0
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
