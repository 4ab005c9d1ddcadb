package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadReportsEveryMistakeWithPosition(t *testing.T) {
	_, err := Load(filepath.Join("..", "testdata", "rules", "three-mistakes.yaml"))
	if err == nil {
		t.Fatal("expected errors")
	}
	f := filepath.Join("..", "testdata", "rules", "three-mistakes.yaml")
	want := strings.Join([]string{
		f + `:5:34: rule "Identify Contact": trigger: unexpected token EOF`,
		f + `:13:7: rule "Track Event": field "event_nme": track_event has no such field (did you mean "event_name"?)`,
		f + `:19:21: rule "Identify Company": field "size": expected a whole number, got the string "lots"`,
	}, "\n")
	if err.Error() != want {
		t.Errorf("errors:\n%s\nwant:\n%s", err, want)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"unknown top-level key", "rule:\n  - name: x\n", `r.yaml:1:1: unknown key "rule" (did you mean "rules"?)` + "\n" + `r.yaml:1:1: missing ` + "`rules:`" + ` list`},
		{"rules not a list", "rules: {}\n", "r.yaml:1:8: `rules:` must be a list of rules, got a mapping"},
		{"invalid yaml", "rules:\n  - name: x\n    action: a: b\n", `r.yaml:3: invalid YAML: mapping values are not allowed in this context`},
		{"empty file", "", "r.yaml:1:1: empty rule file (expected a `rules:` list)"},
		{"unknown action", "rules:\n  - name: x\n    action: track_events\n", `r.yaml:3:13: rule "x": unknown action "track_events" (did you mean "track_event"?)`},
		{"missing name", "rules:\n  - action: track_event\n", "r.yaml:2:5: missing `name:`"},
		{"key typo", "rules:\n  - name: x\n    action: track_event\n    trigerr: 'true'\n", `r.yaml:4:5: rule "x": unknown key "trigerr" (did you mean "trigger"?)`},
		{"role missing", "rules:\n  - name: x\n    action: identify_contact\n", `r.yaml:2:5: rule "x": field "role": required by identify_contact but not mapped (e.g. ` + "`role: {value: user}`)"},
		{"trigger not boolean", "rules:\n  - name: x\n    action: track_event\n    trigger: '\"abc\"'\n", `r.yaml:4:14: rule "x": trigger: must be a condition (true or false), but its result is of type string`},
		{"unknown variable function", "rules:\n  - name: x\n    action: track_event\n    trigger: nope(event) == 'a'\n", `r.yaml:4:14: rule "x": trigger: unknown name nope`},
		{"bad path", "rules:\n  - name: x\n    action: track_event\n    fields:\n      user_id: 'properties.#(id==1'\n", `r.yaml:5:16: rule "x": field "user_id": bad path "properties.#(id==1": unclosed '('`},
		{"unknown modifier", "rules:\n  - name: x\n    action: track_event\n    fields:\n      user_id: '@nope'\n", `r.yaml:5:16: rule "x": field "user_id": bad path "@nope": unknown modifier @nope`},
		{"bare number", "rules:\n  - name: x\n    action: track_event\n    fields:\n      revenue: 12\n", `r.yaml:5:16: rule "x": field "revenue": 12 is not a path: write {value: 12} for a constant`},
		{"two forms", "rules:\n  - name: x\n    action: track_event\n    fields:\n      user_id: {path: userId, value: x}\n", `r.yaml:5:16: rule "x": field "user_id": give exactly one of path, value or template`},
		{"default without path", "rules:\n  - name: x\n    action: track_event\n    fields:\n      user_id: {value: a, default: b}\n", `r.yaml:5:36: rule "x": field "user_id": default goes with path, e.g. {path: traits.plan, default: free}`},
		{"template unclosed", "rules:\n  - name: x\n    action: track_event\n    fields:\n      event_name: {template: 'Hi {{name'}\n", `r.yaml:5:30: rule "x": field "event_name": template: unclosed {{ at offset 3`},
		{"template for object", "rules:\n  - name: x\n    action: track_event\n    fields:\n      metadata: {template: 'x'}\n", `r.yaml:5:28: rule "x": field "metadata": a template makes text; metadata needs an object (use a path or {value: {...}})`},
		{"literal nested attributes", "rules:\n  - name: x\n    action: identify_contact\n    fields:\n      role: {value: user}\n      custom_attributes: {value: {a: {b: 1}}}\n", `r.yaml:6:34: rule "x": field "custom_attributes": custom_attributes: dropped "a" (nested object; Intercom takes only flat values)`},
		{"bad enum literal", "rules:\n  - name: x\n    action: identify_contact\n    fields:\n      role: {value: admin}\n", `r.yaml:5:21: rule "x": field "role": expected one of user, lead, got the string "admin"`},
		{"enabled not bool", "rules:\n  - name: x\n    action: track_event\n    enabled: yes please\n", "r.yaml:4:14: rule \"x\": `enabled:` must be true or false, got \"yes please\""},
		{"convert_lead needs trigger", "rules:\n  - name: x\n    action: convert_lead\n", "r.yaml:2:5: rule \"x\": missing `trigger:` (convert_lead has no preset trigger)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("r.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("no error, want %s", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", err, tc.want)
			}
		})
	}
}

func TestDuplicateNamesAcrossFiles(t *testing.T) {
	a := Source{Name: "a.yaml", Data: []byte("rules:\n  - name: Same\n    action: track_event\n")}
	b := Source{Name: "b.yaml", Data: []byte("rules:\n  - name: Same\n    action: track_event\n")}
	_, err := ParseAll(a, b)
	want := `b.yaml:2:11: rule "Same": duplicate rule name (first defined at a.yaml:2:11)`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestLoadFolder(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("b.yml", "rules:\n  - name: B\n    action: track_event\n")
	write("a.yaml", "rules:\n  - name: A\n    action: identify_company\n    enabled: false\n")
	write("notes.txt", "not rules")
	set, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range set.Rules {
		names = append(names, r.Name)
	}
	if strings.Join(names, ",") != "A,B" {
		t.Errorf("rules %v, want A,B in file-name order", names)
	}
	if en := set.Enabled(); len(en) != 1 || en[0].Name != "B" {
		t.Errorf("enabled rules %v, want only B", en)
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no *.yaml or *.yml rule files in this folder") {
		t.Errorf("empty folder: got %v", err)
	}
}
