package main

import (
	"fmt"
	"io"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/rules"
	"github.com/intercom-actions/intercom-actions/rules/defaults"
)

// compileRules reads and compiles the rule files and folders given, or the
// embedded defaults when none are. A rules.ErrorList holds every problem,
// of syntax and of meaning.
func compileRules(paths []string) (*engine.Engine, error) {
	var set *rules.Set
	var err error
	if len(paths) == 0 {
		set, err = defaults.Load()
	} else {
		set, err = rules.Load(paths...)
	}
	if set == nil {
		return nil, err
	}
	return engine.Compile(set)
}

// loadEngine compiles the rules for command cmd, reporting every problem
// on stderr; ok is false when there were any.
func loadEngine(cmd string, paths []string, stderr io.Writer) (eng *engine.Engine, ok bool) {
	eng, err := compileRules(paths)
	if err != nil {
		fmt.Fprintf(stderr, "%s: rules failed to load:\n%v\n", cmd, err)
		return nil, false
	}
	return eng, true
}
