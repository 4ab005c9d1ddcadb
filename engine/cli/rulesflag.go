package cli

import (
	"flag"
	"strings"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/engine/processor"
)

// ruleOptions choose the rules a command uses: the embedded defaults, the
// --rules files instead of them, or (--with-defaults) the --rules files
// layered on them; and any embedded --preset added to whichever it is.
var ruleOptions = []string{"rules", "with-defaults", "preset"}

// addRulesFlags defines --rules, --with-defaults and --preset on fs,
// choosing the rules of cfg.
func addRulesFlags(fs *flag.FlagSet, cfg *processor.Config) {
	addOptions(fs, cfg, ruleOptions...)
}

// chosen reports whether the rules asked for are anything but the defaults.
func chosen(r processor.Rules) bool {
	return len(r.Files) > 0 || len(r.Presets) > 0
}

// compileRules reads and compiles the rule files and folders given (the
// embedded defaults when there are none) with the presets named added to
// them; withDefaults layers the files and presets on the defaults, and
// replaced names the default rules they replace. A rules.ErrorList holds
// every problem, of syntax and of meaning, across all of them (a rule name
// used twice included). It is processor.Rules, as the library gives it.
func compileRules(paths []string, withDefaults bool, presetNames []string) (eng *engine.Engine, replaced []string, err error) {
	r := processor.Rules{Files: paths, WithDefaults: withDefaults, Presets: presetNames}
	if eng, err = r.Compile(); err != nil {
		return nil, nil, err
	}
	replaced, err = r.Replaced()
	return eng, replaced, err
}

func rulesLabel(paths []string) string {
	if len(paths) == 0 {
		return "embedded defaults"
	}
	return strings.Join(paths, ",")
}
