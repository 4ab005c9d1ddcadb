package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/rules"
	"github.com/intercom-actions/intercom-actions/rules/defaults"
)

// rulesFlags choose the rules a command uses: the embedded defaults, the
// --rules files instead of them, or (--with-defaults) the --rules files
// layered on them, replacing default rules by name and adding the others.
type rulesFlags struct {
	paths        listFlag
	withDefaults bool
}

// addRulesFlags defines --rules and --with-defaults on fs.
func addRulesFlags(fs *flag.FlagSet) *rulesFlags {
	r := &rulesFlags{}
	fs.Var(&r.paths, "rules", "rule file or folder (repeatable; default: the embedded defaults)")
	fs.BoolVar(&r.withDefaults, "with-defaults", false,
		"layer the --rules files on the embedded defaults: a rule named like a default rule replaces it, others are added")
	return r
}

// engine compiles the chosen rules for command cmd, reporting every
// problem on stderr; ok is false when there were any.
func (r *rulesFlags) engine(cmd string, stderr io.Writer) (*engine.Engine, bool) {
	eng, _, err := compileRules(r.paths, r.withDefaults)
	if err != nil {
		fmt.Fprintf(stderr, "%s: rules failed to load:\n%v\n", cmd, err)
		return nil, false
	}
	return eng, true
}

// compileRules reads and compiles the rule files and folders given, the
// embedded defaults when none are, or both (withDefaults: the files
// layered on the defaults; replaced names the default rules they replace).
// A rules.ErrorList holds every problem, of syntax and of meaning.
func compileRules(paths []string, withDefaults bool) (eng *engine.Engine, replaced []string, err error) {
	var set *rules.Set
	switch {
	case len(paths) == 0:
		set, err = defaults.Load()
	default:
		set, err = rules.Load(paths...)
	}
	if set == nil {
		return nil, nil, err
	}
	if withDefaults && len(paths) > 0 {
		base, err := defaults.Load()
		if base == nil {
			return nil, nil, err
		}
		set, replaced = rules.Overlay(base, set)
	}
	eng, err = engine.Compile(set)
	return eng, replaced, err
}

// loadEngine compiles the rule files at paths (the defaults when there
// are none) for command cmd, reporting every problem on stderr; ok is false
// when there were any. Commands with flags use addRulesFlags instead.
func loadEngine(cmd string, paths []string, stderr io.Writer) (*engine.Engine, bool) {
	r := rulesFlags{paths: paths}
	return r.engine(cmd, stderr)
}
