package ruletest

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/tools/txtar"

	"github.com/intercom-actions/intercom-actions/engine/action"
)

// OptionsFile is the optional section of a case that sets how its events
// are sent (see caseOptions).
const OptionsFile = "options"

// caseOptions are the settings of a case's `-- options --` section, one
// `name: value` a line (blank lines and lines starting with # are
// ignored):
//
//	presets: classic-company            embedded presets added to the case's rules
//	                                    (or to the defaults)
//	custom-attributes: create           send (default), create or existing: see action.AttributeMode
//	workspace-attributes: plan, seats   the simulated workspace's custom attributes;
//	                                    others are refused as Intercom refuses them
//	                                    (without the option any name is accepted)
//	intercom-version: 2.15              the Intercom-Version sent (default the newest)
//	spread-same-second-events: true     the delivery option of that name
type caseOptions struct {
	presets    []string
	attributes string   // the custom-attributes option; "": send
	workspace  []string // nil: the simulator accepts any custom attribute
	version    string   // the intercom-version option; "": the default
	spread     bool     // the spread-same-second-events option
}

var optionNames = []string{"presets", "custom-attributes", "workspace-attributes", "intercom-version", "spread-same-second-events"}

// list splits a comma-separated option value.
func list(value string) []string {
	out := []string{}
	for _, n := range strings.Split(value, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// readOptions reads the case's options section, if any.
func readOptions(ar *txtar.Archive) (caseOptions, error) {
	var o caseOptions
	data, ok := section(ar, OptionsFile)
	if !ok {
		return o, nil
	}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, found := strings.Cut(line, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !found || !slices.Contains(optionNames, name) {
			return o, fmt.Errorf("%s line %d: %q is not an option (known: %s)", OptionsFile, i+1, line, strings.Join(optionNames, ", "))
		}
		switch name {
		case "custom-attributes":
			if _, err := action.ParseAttributeMode(value); err != nil {
				return o, fmt.Errorf("%s line %d: %w", OptionsFile, i+1, err)
			}
			o.attributes = value
		case "presets":
			o.presets = list(value)
		case "workspace-attributes":
			o.workspace = list(value)
		case "intercom-version":
			o.version = value
		case "spread-same-second-events":
			o.spread = value == "true"
		}
	}
	return o, nil
}
