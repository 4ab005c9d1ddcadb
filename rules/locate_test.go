package rules

import (
	"fmt"
	"testing"
)

// TestTriggerAt checks where an offset into a trigger is reported, for
// the ways YAML writes a value: the rune at the offset is the one written
// at the line and column At gives (or the value's start when unknown).
func TestTriggerAt(t *testing.T) {
	for _, tc := range []struct {
		name, trigger string
		offset        int
		want          string // line:column
	}{
		{"plain", `type == "x"`, 5, "4:19"},
		{"double quoted", `"type == 'x'"`, 5, "4:20"},
		{"escape", `"caf\u00e9 == \x41 && b"`, 13, "4:36"},
		{"escaped line break", "\"type ==\\\n      'x' && b\"", 13, "5:13"},
		{"single quoted", `'a == ''x'' && b'`, 12, "4:29"},
		{"plain over lines", "type == 'x'\n      && b", 15, "5:10"},
		{"blank line between", "\"a ==\n\n      'x'\"", 6, "6:8"},
		{"literal block", "|\n      type == 'x'\n\n        && b", 17, "7:11"},
		{"folded block", ">-\n      type == 'x'\n      && b", 15, "6:10"},
		{"past the end", "type ==", 7, "4:21"},
		{"explicit indentation", "|2\n        type == 'x'\n        && b", 15, "4:14"},
		{"tagged", "!!str type == 'x'", 5, "4:14"},
		{"whole trigger", `type == "x"`, -1, "4:14"},
	} {
		src := "rules:\n  - name: x\n    action: track_event\n    trigger: " + tc.trigger + "\n"
		for _, eol := range []string{"\n", "\r\n"} {
			set, err := Parse("r.yaml", []byte(replaceEOL(src, eol)))
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			p := set.Rules[0].Trigger.At(tc.offset)
			if got := fmt.Sprintf("%d:%d", p.Line, p.Column); got != tc.want {
				t.Errorf("%s (%q line breaks): offset %d of %q at %s; want %s", tc.name, eol, tc.offset, set.Rules[0].Trigger.Source, got, tc.want)
			}
		}
	}
}

func replaceEOL(s, eol string) string {
	out := ""
	for _, r := range s {
		if r == '\n' {
			out += eol
		} else {
			out += string(r)
		}
	}
	return out
}
