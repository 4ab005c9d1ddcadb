package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/rules"
)

// compileSource reads and compiles rule files given as text.
func compileSource(srcs ...rules.Source) (*Engine, error) {
	set, err := rules.ParseAll(srcs...)
	if set == nil {
		return nil, err
	}
	return Compile(set)
}

func TestCompileReportsEveryMistakeWithPosition(t *testing.T) {
	f := filepath.Join("..", "testdata", "rules", "three-mistakes.yaml")
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.Parse(f, data)
	if err != nil {
		t.Fatalf("the file's syntax is fine, but: %v", err)
	}
	_, err = Compile(set)
	want := strings.Join([]string{
		f + `:5:34: rule "Identify Contact": trigger: the trigger ends after "&&": something must follow it`,
		f + `:13:7: rule "Track Event": field "event_nme": track_event has no such field (did you mean "event_name"?)`,
		f + `:19:21: rule "Identify Company": field "size": expected a whole number, got the string "lots"`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("errors:\n%v\nwant:\n%s", err, want)
	}
}

// TestCompileErrors asserts the errors of meaning, each with its file,
// line, column, rule and field.
func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"unknown action", "rules:\n  - name: x\n    action: track_events\n", `r.yaml:3:13: rule "x": unknown action "track_events" (did you mean "track_event"?)`},
		{"role missing", "rules:\n  - name: x\n    action: identify_contact\n", `r.yaml:2:5: rule "x": field "role": required by identify_contact but not mapped (e.g. ` + "`role: {value: user}`)"},
		{"trigger not boolean", "rules:\n  - name: x\n    action: track_event\n    trigger: '\"abc\"'\n", `r.yaml:4:14: rule "x": trigger: must be a condition (true or false), but it gives text`},
		{"unknown variable function", "rules:\n  - name: x\n    action: track_event\n    trigger: nope(event) == 'a'\n", `r.yaml:4:14: rule "x": trigger: unknown function nope() (did you mean "none"?)`},
		{"bad path", "rules:\n  - name: x\n    action: track_event\n    fields:\n      user_id: 'properties.#(id==1'\n", `r.yaml:5:16: rule "x": field "user_id": bad path "properties.#(id==1": unclosed '('`},
		{"unknown modifier", "rules:\n  - name: x\n    action: track_event\n    fields:\n      user_id: '@nope'\n", `r.yaml:5:16: rule "x": field "user_id": bad path "@nope": unknown modifier @nope`},
		{"template unclosed", "rules:\n  - name: x\n    action: track_event\n    fields:\n      event_name: {template: 'Hi {{name'}\n", `r.yaml:5:34: rule "x": field "event_name": template: this {{ is never closed with }}`},
		{"template for object", "rules:\n  - name: x\n    action: track_event\n    fields:\n      metadata: {template: 'x'}\n", `r.yaml:5:28: rule "x": field "metadata": a template makes text; metadata needs an object (use a path or {value: {...}})`},
		{"literal nested attributes", "rules:\n  - name: x\n    action: identify_contact\n    fields:\n      role: {value: user}\n      custom_attributes: {value: {a: {b: 1}}}\n", `r.yaml:6:34: rule "x": field "custom_attributes": custom_attributes: dropped "a" (nested object; Intercom takes only flat values)`},
		{"bad enum literal", "rules:\n  - name: x\n    action: identify_contact\n    fields:\n      role: {value: admin}\n", `r.yaml:5:21: rule "x": field "role": expected one of user, lead, got the string "admin"`},
		{"convert_lead needs trigger", "rules:\n  - name: x\n    action: convert_lead\n", "r.yaml:2:5: rule \"x\": missing `trigger:` (convert_lead has no preset trigger)"},
		// Every registered action is listed: adding one changes no test here.
		{"missing action", "rules:\n  - name: x\n", "r.yaml:2:5: rule \"x\": missing `action:` (one of " + strings.Join(action.Names(), ", ") + ")"},
		{"empty trigger", "rules:\n  - name: x\n    action: track_event\n    trigger: ''\n", `r.yaml:4:14: rule "x": trigger: empty trigger`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := compileSource(rules.Source{Name: "r.yaml", Data: []byte(tc.src)})
			if err == nil {
				t.Fatalf("no error, want %s", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", err, tc.want)
			}
		})
	}
}

// TestUnknownActionHidesNothing: a rule whose action is unknown still gets
// the errors of its trigger, paths and templates, in one report.
func TestUnknownActionHidesNothing(t *testing.T) {
	src := "rules:\n  - name: x\n    action: track_evnt\n    trigger: type = \"track\"\n    fields:\n      user_id: 'properties.#(id==1'\n      event_name: {template: 'Hi {{name'}\n"
	_, err := compileSource(rules.Source{Name: "r.yaml", Data: []byte(src)})
	want := `r.yaml:3:13: rule "x": unknown action "track_evnt" (did you mean "track_event"?)
r.yaml:4:19: rule "x": trigger: unexpected "=": compare with ==, not =
r.yaml:6:16: rule "x": field "user_id": bad path "properties.#(id==1": unclosed '('
r.yaml:7:34: rule "x": field "event_name": template: this {{ is never closed with }}`
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
}

// TestCompileReportsSyntaxAndMeaningTogether: a file with a YAML-level
// mistake in one rule and a mistake of meaning in another gets both, in
// position order.
func TestCompileReportsSyntaxAndMeaningTogether(t *testing.T) {
	src := "rules:\n  - name: a\n    action: track_event\n    enabled: maybe\n  - name: b\n    action: track_evnt\n"
	_, err := compileSource(rules.Source{Name: "r.yaml", Data: []byte(src)})
	want := "r.yaml:4:14: rule \"a\": `enabled:` must be true or false, got \"maybe\"\n" +
		`r.yaml:6:13: rule "b": unknown action "track_evnt" (did you mean "track_event"?)`
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
}
