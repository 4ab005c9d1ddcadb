package rules

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
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
		{"invalid yaml", "rules:\n  - name: x\n    action: a: b\n", `r.yaml:3:14: invalid YAML: ": " inside a value: put the whole value in quotes`},
		{"empty file", "", "r.yaml:1:1: empty rule file (expected a `rules:` list)"},
		{"missing name", "rules:\n  - action: track_event\n", "r.yaml:2:5: missing `name:`"},
		{"key typo", "rules:\n  - name: x\n    action: track_event\n    trigerr: 'true'\n", `r.yaml:4:5: rule "x": unknown key "trigerr" (did you mean "trigger"?)`},
		{"bare number", "rules:\n  - name: x\n    action: track_event\n    fields:\n      revenue: 12\n", `r.yaml:5:16: rule "x": field "revenue": 12 is not a path: write {value: 12} for a constant`},
		{"list as value", "rules:\n  - name: x\n    action: track_event\n    fields:\n      user_id: [a]\n", `r.yaml:5:16: rule "x": field "user_id": expected a path, {path: ..., default: ...}, {value: ...}, {template: ...}, {md5: ...} or {map: {...}}, got a list`},
		{"list as map entry", "rules:\n  - name: x\n    action: identify_contact\n    fields:\n      custom_attributes: {map: {a: [b]}}\n", `r.yaml:5:36: rule "x": field "custom_attributes.a": expected a path, {path: ..., default: ...}, {value: ...}, {template: ...} or {md5: ...}, got a list`},
		{"two forms", "rules:\n  - name: x\n    action: track_event\n    fields:\n      user_id: {path: userId, value: x}\n", `r.yaml:5:16: rule "x": field "user_id": give exactly one of path, value, template, md5 or map (or path with map)`},
		{"keys without map", "rules:\n  - name: x\n    action: identify_contact\n    fields:\n      custom_attributes: {company_name: traits.company.name}\n", `r.yaml:5:27: rule "x": field "custom_attributes": unknown key "company_name": for one value per key write {map: {company_name: ...}} (a field value is a path, {path}, {value}, {template}, {md5} or {map})`},
		{"value key typo", "rules:\n  - name: x\n    action: identify_contact\n    fields:\n      email: {pth: traits.email}\n", `r.yaml:5:15: rule "x": field "email": unknown key "pth" (did you mean "path"?)`},
		{"map not a mapping", "rules:\n  - name: x\n    action: identify_contact\n    fields:\n      custom_attributes: {map: traits}\n", `r.yaml:5:32: rule "x": field "custom_attributes": map must be a mapping of keys to values, e.g. map: {company_name: traits.company.name}, got "traits"`},
		{"map entry null", "rules:\n  - name: x\n    action: identify_contact\n    fields:\n      custom_attributes: {map: {a: ~}}\n", `r.yaml:5:36: rule "x": field "custom_attributes.a": a key of map needs a value (leave the key out to leave it out)`},
		{"map entry with except", "rules:\n  - name: x\n    action: identify_contact\n    fields:\n      custom_attributes: {map: {a: {path: traits, except: [b]}}}\n", `r.yaml:5:51: rule "x": field "custom_attributes.a": except goes with the whole field, not with one key of its map`},
		{"map entry two forms", "rules:\n  - name: x\n    action: identify_contact\n    fields:\n      custom_attributes: {map: {a: {path: traits.a, value: 1}}}\n", `r.yaml:5:36: rule "x": field "custom_attributes.a": give exactly one of path, value, template or md5`},
		{"except without path", "rules:\n  - name: x\n    action: identify_contact\n    fields:\n      custom_attributes: {value: {a: 1}, except: [a]}\n", `r.yaml:5:42: rule "x": field "custom_attributes": except goes with path, e.g. {path: traits, except: [email, name]}`},
		{"except not a list", "rules:\n  - name: x\n    action: identify_contact\n    fields:\n      custom_attributes: {path: traits, except: email}\n", `r.yaml:5:49: rule "x": field "custom_attributes": except must be a list of keys, e.g. except: [email, name]`},
		{"flatten with template", "rules:\n  - name: x\n    action: identify_contact\n    fields:\n      name: {template: \"{{a}}\", flatten: _}\n", `r.yaml:5:33: rule "x": field "name": flatten goes with path or map, e.g. {path: properties, flatten: "_"}`},
		{"flatten not text", "rules:\n  - name: x\n    action: identify_contact\n    fields:\n      custom_attributes: {path: traits, flatten: [_]}\n", `r.yaml:5:50: rule "x": field "custom_attributes": flatten must be the text that joins the keys, e.g. flatten: "_"`},
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

// TestYAMLErrors: YAML syntax errors are reported at the line and column
// of the mistake (yaml.v3 names the line where the enclosing block starts),
// with what to do about the usual slips.
func TestYAMLErrors(t *testing.T) {
	const lineUp = ": the keys of one mapping, and the items of one list, must line up"
	for _, tc := range []struct {
		name, src, want string
	}{
		{"rule key indented less", "rules:\n  - name: x\n    action: track_event\n   trigger: type == \"track\"\n",
			"r.yaml:4:4: invalid YAML: indented 3 spaces, but line 3 is indented 4" + lineUp},
		{"rule key indented more", "rules:\n  - name: x\n    action: track_event\n     trigger: type == \"track\"\n",
			"r.yaml:4:6: invalid YAML: indented 5 spaces, but line 3 is indented 4" + lineUp},
		{"field indented less", "rules:\n  - name: x\n    action: identify_contact\n    fields:\n      role: {value: user}\n     email: traits.email\n",
			"r.yaml:6:6: invalid YAML: indented 5 spaces, but line 5 is indented 6" + lineUp},
		{"field indented more", "rules:\n  - name: x\n    action: identify_contact\n    fields:\n      role: {value: user}\n        email: traits.email\n",
			"r.yaml:6:9: invalid YAML: indented 8 spaces, but line 5 is indented 6" + lineUp},
		{"list item out of line", "rules:\n  - name: x\n    action: track_event\n - name: y\n   action: track_event\n",
			"r.yaml:4:2: invalid YAML: indented 1 space, but line 2 is indented 2" + lineUp},
		{"second rule's key", "rules:\n  - name: x\n    action: track_event\n    fields:\n      metadata: properties\n  - name: y\n     action: track_event\n",
			"r.yaml:7:6: invalid YAML: indented 5 spaces, but line 6 is indented 4" + lineUp},
		{"tab", "rules:\n  - name: x\n    action: track_event\n\ttrigger: type == \"track\"\n",
			"r.yaml:4:1: invalid YAML: a tab in the indentation: YAML indents with spaces only (use spaces)"},
		{"trigger starting with a quote", "rules:\n  - name: x\n    action: track_event\n    trigger: \"track\" == type\n",
			`r.yaml:4:22: invalid YAML: text after the closing quote: a value that starts with a quote ends with it; write '"track" == type'`},
		{"single quotes inside single quotes", "rules:\n  - name: x\n    action: track_event\n    trigger: 'type == 'track''\n",
			`r.yaml:4:24: invalid YAML: text after the closing quote: a value that starts with a quote ends with it; write "type == 'track'"`},
		{"quote never closed", "rules:\n  - name: x\n    action: track_event\n    trigger: \"type == 'track'\n  - name: y\n",
			`r.yaml:4:14: invalid YAML: this quote is never closed`},
		{"flow mapping never closed", "rules:\n  - name: x\n    action: track_event\n    fields:\n      event_name: {template: \"{{event}}\"\n      user_id: userId\n",
			`r.yaml:5:19: invalid YAML: this "{" is never closed with "}" (or a "," is missing between its entries)`},
		{"colon in a plain value", "rules:\n  - name: x\n    action: track_event\n    trigger: type == \"track\": x\n",
			`r.yaml:4:29: invalid YAML: ": " inside a value: put the whole value in quotes`},
		{"value starting with @", "rules:\n  - name: x\n    action: track_event\n    trigger: @type\n",
			`r.yaml:4:14: invalid YAML: a value cannot start with "@": put the whole value in quotes`},
		{"field at the rule's level", "rules:\n  - name: x\n    action: track_event\n    fields:\n      user_id: userId\n    email: properties.email\n",
			"r.yaml:6:5: rule \"x\": unknown key \"email\" (a field? indent it under `fields:`)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("r.yaml", []byte(tc.src))
			if err == nil || err.Error() != tc.want {
				t.Errorf("got:\n%v\nwant:\n%s", err, tc.want)
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
	fsys := fstest.MapFS{
		"dir/b.yml":     {Data: []byte("rules:\n  - name: B\n    action: track_event\n")},
		"dir/a.yaml":    {Data: []byte("rules:\n  - name: A\n    action: identify_company\n    enabled: false\n")},
		"dir/notes.txt": {Data: []byte("not rules")},
		"empty/x.txt":   {Data: []byte("not rules")},
	}
	set, err := LoadFS(fsys, "dir")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range set.Rules {
		names = append(names, r.Name+"@"+r.Pos.File)
	}
	if strings.Join(names, ",") != "A@dir/a.yaml,B@dir/b.yml" {
		t.Errorf("rules %v, want A,B in file-name order", names)
	}
	if set.Rules[0].Enabled || !set.Rules[1].Enabled {
		t.Errorf("enabled: A %v, B %v; want false, true", set.Rules[0].Enabled, set.Rules[1].Enabled)
	}
	if _, err := LoadFS(fsys, "empty"); err == nil || err.Error() != "empty: no *.yaml or *.yml rule files in this folder" {
		t.Errorf("empty folder: got %v", err)
	}
	if _, err := LoadFS(fsys, "absent.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("absent file: got %v", err)
	}
	if _, err := LoadFS(fsys); err == nil || err.Error() != "no rule files given" {
		t.Errorf("no paths: got %v", err)
	}
}

// TestOverlay: a rule of the top set replaces the base's rule of its name,
// in its place; the top's other rules follow; errors of both are kept.
func TestOverlay(t *testing.T) {
	base, _ := Parse("base.yaml", []byte("rules:\n  - name: A\n    action: a\n  - name: B\n    action: b\n  - name: C\n    action: c\n"))
	top, _ := Parse("top.yaml", []byte("rules:\n  - name: D\n    action: d\n  - name: B\n    action: b2\n    enabled: false\n  - name: x\n    oops: 1\n"))
	set, replaced := Overlay(base, top)
	var got []string
	for _, r := range set.Rules {
		action := ""
		if r.Action != nil {
			action = r.Action.Value
		}
		got = append(got, r.Name+"="+action)
	}
	if strings.Join(got, ",") != "A=a,B=b2,C=c,D=d,x=" {
		t.Errorf("rules %v", got)
	}
	if strings.Join(replaced, ",") != "B" {
		t.Errorf("replaced %v, want B", replaced)
	}
	if set.Rules[1].Enabled {
		t.Error("B keeps the top's enabled: false")
	}
	if len(set.Errors) != 1 || set.Errors[0].Error() != `top.yaml:8:5: rule "x": unknown key "oops" (known: name, description, action, trigger, enabled, default_fields, fields)` {
		t.Errorf("errors %v", set.Errors)
	}
}
