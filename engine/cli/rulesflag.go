package cli

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/processor"
	"github.com/intercom-actions/intercom-actions/rules"
)

// rulesFlags choose the rules a command uses: the embedded defaults, the
// --rules files instead of them, or (--with-defaults) the --rules files
// layered on them, replacing default rules by name and adding the others;
// and any embedded --preset added to whichever it is.
type rulesFlags struct {
	paths        listFlag
	withDefaults bool
	presets      *listFlag
}

// addRulesFlags defines --rules, --with-defaults and --preset on fs.
func addRulesFlags(fs *flag.FlagSet) *rulesFlags {
	r := &rulesFlags{}
	fs.Var(&r.paths, "rules", "rule file or folder (repeatable; default: the embedded defaults)")
	fs.BoolVar(&r.withDefaults, "with-defaults", false,
		"layer the --rules files on the embedded defaults: a rule named like a default rule replaces it, others are added")
	r.presets = addPresetFlag(fs)
	return r
}

// chosen reports whether the flags ask for anything but the defaults.
func (r *rulesFlags) chosen() bool {
	return len(r.paths) > 0 || r.presets != nil && len(*r.presets) > 0
}

// engine compiles the chosen rules for command cmd, reporting every
// problem on stderr; ok is false when there were any.
func (r *rulesFlags) engine(cmd string, stderr io.Writer) (*engine.Engine, bool) {
	var names []string
	if r.presets != nil {
		names = *r.presets
	}
	eng, _, err := compileRules(r.paths, r.withDefaults, names)
	if err != nil {
		fmt.Fprintf(stderr, "%s: rules failed to load:\n%v\n", cmd, err)
		return nil, false
	}
	return eng, true
}

// compileRules reads and compiles the rule files and folders given (the
// embedded defaults when there are none) with the presets named added to
// them; withDefaults layers the files and presets on the defaults, and
// replaced names the default rules they replace. A rules.ErrorList holds
// every problem, of syntax and of meaning, across all of them (a rule name
// used twice included). It is processor.Rules, as the library gives it.
func compileRules(paths []string, withDefaults bool, presetNames []string) (eng *engine.Engine, replaced []string, err error) {
	return processor.Rules{Files: paths, WithDefaults: withDefaults, Presets: presetNames}.CompileReplacing()
}

// addPresetFlag defines --preset alone, for a command that takes rule
// files as arguments (check).
func addPresetFlag(fs *flag.FlagSet) *listFlag {
	var l listFlag
	fs.Var(&l, "preset", "add an embedded rule preset to the rules (repeatable): "+strings.Join(rules.PresetNames(), ", "))
	return &l
}
