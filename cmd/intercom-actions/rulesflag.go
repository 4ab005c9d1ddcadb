package main

import (
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
