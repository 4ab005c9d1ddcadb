package main

import (
	"fmt"
	"io"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/rules"
	"github.com/intercom-actions/intercom-actions/rules/defaults"
)

// loadRules loads the rule files and folders given, or the embedded
// defaults when none are.
func loadRules(paths []string) (*rules.RuleSet, error) {
	if len(paths) == 0 {
		return defaults.Load()
	}
	return rules.Load(paths...)
}

// loadEngine loads and compiles the rules for command cmd, reporting
// every problem on stderr; ok is false when there were any.
func loadEngine(cmd string, paths []string, stderr io.Writer) (eng *engine.Engine, ok bool) {
	set, err := loadRules(paths)
	if err != nil {
		fmt.Fprintf(stderr, "%s: rules failed to load:\n%v\n", cmd, err)
		return nil, false
	}
	if eng, err = engine.Compile(set); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return nil, false
	}
	return eng, true
}
