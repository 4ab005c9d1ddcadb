package engine

import (
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/internal/event"
)

// TestTemplateDropsMissingParts: a placeholder without a value goes with
// the text that joins it to the others; with no value at all the result is
// missing, and the field is left out.
func TestTemplateDropsMissingParts(t *testing.T) {
	doc, err := event.Parse([]byte(`{"type":"identify","traits":{"a":"A","b":"B","c":"C","zero":0,"no":false,"empty":"","null":null}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ tmpl, want string }{
		{"{{traits.a}} {{traits.b}}", "A B"},
		{"{{traits.a}} {{traits.x}}", "A"},
		{"{{traits.x}} {{traits.b}}", "B"},
		{"{{traits.x}} {{traits.y}}", "<missing>"},
		{"{{traits.a}}-{{traits.x}}-{{traits.c}}", "A-C"},
		{"({{traits.a}}) {{traits.x}}", "(A)"},
		{"Hi {{traits.x}}!", "<missing>"},
		{"Hi {{traits.a}}!", "Hi A!"},
		{"{{traits.empty}}{{traits.null}}{{traits.zero}}", "0"},
		{"{{traits.no}}", "false"},
		{"just text", "just text"},
		{"{{traits.a}} ({{traits.x}})", "A"},
		{"{{traits.x}} ({{traits.b}})", "(B)"},
		{"[{{traits.x}}] {{traits.b}}", "B"},
		{"+{{traits.a}}-{{traits.x}}-{{traits.c}}", "+A-C"},
		{"{{traits.a}}{{traits.b}}", "AB"},
	} {
		tmpl, err := compileTemplate(tc.tmpl)
		if err != nil {
			t.Fatalf("%s: %v", tc.tmpl, err)
		}
		r := tmpl.eval(doc)
		got := r.Str
		if !r.Exists() {
			got = "<missing>"
		}
		if got != tc.want {
			t.Errorf("%s = %q, want %q", tc.tmpl, got, tc.want)
		}
	}
}
