package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseErrors asserts the syntax errors the reader reports itself; what
// rules mean (actions, fields, triggers, paths, literals) is checked by
// engine.Compile and tested there.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"unknown top-level key", "rule:\n  - name: x\n", `r.yaml:1:1: unknown key "rule" (did you mean "rules"?)` + "\n" + `r.yaml:1:1: missing ` + "`rules:`" + ` list`},
		{"rules not a list", "rules: {}\n", "r.yaml:1:8: `rules:` must be a list of rules, got a mapping"},
		{"invalid yaml", "rules:\n  - name: x\n    action: a: b\n", `r.yaml:3: invalid YAML: mapping values are not allowed in this context`},
		{"empty file", "", "r.yaml:1:1: empty rule file (expected a `rules:` list)"},
		{"missing name", "rules:\n  - action: track_event\n", "r.yaml:2:5: missing `name:`"},
		{"key typo", "rules:\n  - name: x\n    action: track_event\n    trigerr: 'true'\n", `r.yaml:4:5: rule "x": unknown key "trigerr" (did you mean "trigger"?)`},
		{"bare number", "rules:\n  - name: x\n    action: track_event\n    fields:\n      revenue: 12\n", `r.yaml:5:16: rule "x": field "revenue": 12 is not a path: write {value: 12} for a constant`},
		{"two forms", "rules:\n  - name: x\n    action: track_event\n    fields:\n      user_id: {path: userId, value: x}\n", `r.yaml:5:16: rule "x": field "user_id": give exactly one of path, value or template`},
		{"default without path", "rules:\n  - name: x\n    action: track_event\n    fields:\n      user_id: {value: a, default: b}\n", `r.yaml:5:36: rule "x": field "user_id": default goes with path, e.g. {path: traits.plan, default: free}`},
		{"enabled not bool", "rules:\n  - name: x\n    action: track_event\n    enabled: yes please\n", "r.yaml:4:14: rule \"x\": `enabled:` must be true or false, got \"yes please\""},
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
	if set.Rules[0].Enabled || !set.Rules[1].Enabled {
		t.Errorf("enabled: A %v, B %v; want false, true", set.Rules[0].Enabled, set.Rules[1].Enabled)
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no *.yaml or *.yml rule files in this folder") {
		t.Errorf("empty folder: got %v", err)
	}
}
