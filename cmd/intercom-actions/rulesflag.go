package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/rules"
	"github.com/intercom-actions/intercom-actions/rules/defaults"
	"github.com/intercom-actions/intercom-actions/rules/presets"
)

// addPresetFlag adds --preset, repeatable, to a command that loads rules.
func addPresetFlag(fs *flag.FlagSet) *listFlag {
	var l listFlag
	fs.Var(&l, "preset", "add an embedded rule preset to the rules (repeatable): "+strings.Join(presets.Names(), ", "))
	return &l
}

// compileRules reads and compiles the rule files and folders given, or the
// embedded defaults when none are, with the presets named added to them.
// A rules.ErrorList holds every problem, of syntax and of meaning, across
// all of them (a rule name used twice included).
func compileRules(paths, presetNames []string) (*engine.Engine, error) {
	var srcs []rules.Source
	var err error
	if len(paths) == 0 {
		srcs, err = rules.ReadFS(defaults.FS, ".")
	} else {
		srcs, err = rules.Read(paths...)
	}
	if err != nil {
		return nil, err
	}
	extra, err := presets.Sources(presetNames...)
	if err != nil {
		return nil, err
	}
	set, err := rules.ParseAll(append(srcs, extra...)...)
	if set == nil {
		return nil, err
	}
	return engine.Compile(set)
}

// loadEngine compiles the rules for command cmd, reporting every problem
// on stderr; ok is false when there were any.
func loadEngine(cmd string, paths, presetNames []string, stderr io.Writer) (eng *engine.Engine, ok bool) {
	eng, err := compileRules(paths, presetNames)
	if err != nil {
		fmt.Fprintf(stderr, "%s: rules failed to load:\n%v\n", cmd, err)
		return nil, false
	}
	return eng, true
}
