package rules

import (
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary text to the loader: it must answer with rules
// or with positioned errors, never panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"rules:\n  - name: a\n    action: track_event\n",
		"rules:\n  - name: a\n    action: identify_contact\n    fields:\n      role: {value: user}\n      name: {template: \"{{traits.a}} x\"}\n",
		"rules:\n  - name: a\n    action: identify_company\n    trigger: traits.size > 3 && type == \"group\"\n    fields:\n      size: {path: traits.n, default: 3}\n",
		"rules:\n  - name: a\n    action: identify_contact\n    fields:\n      custom_attributes: {path: traits, except: [email], flatten: _, map: {x: {template: \"{{a}}\"}, y: {value: 1}}}\n",
		"rules: [",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		set, err := Parse("f.yaml", []byte(src))
		if err == nil && set == nil {
			t.Fatal("no rules and no error")
		}
		if list, ok := err.(ErrorList); ok {
			for _, e := range list {
				if !strings.HasPrefix(e.Error(), "f.yaml") {
					t.Fatalf("error without its file: %v", e)
				}
				if lines := len(splitLines(src)) + 1; e.Pos.Line > lines || e.Pos.Line < 0 || e.Pos.Column < 0 {
					t.Fatalf("error outside the file (%d lines): %v", lines, e)
				}
			}
		}
	})
}
