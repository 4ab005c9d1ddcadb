package rules

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// LoadFS reads rule files and folders of fsys (every *.yaml and *.yml in
// a folder, in name order). The syntax problems of all files are returned
// together as an ErrorList, with the Set of what could be read (see
// Set.Errors); a problem reading fsys is returned as it is, with no Set.
//
// The package reads only through the fs.FS it is given: rule files on
// disk are the caller's to open (processor.Rules does, for its Files).
func LoadFS(fsys fs.FS, paths ...string) (*Set, error) {
	srcs, err := ReadFS(fsys, paths...)
	if err != nil {
		return nil, err
	}
	return ParseAll(srcs...)
}

// ReadFS reads the rule files and folders LoadFS would, without parsing
// them, so that more files (such as embedded presets) can join them in one
// ParseAll, which checks rule names across all of them. Each Source is
// named by its path in fsys (a folder's files as path.Join(folder, name)).
func ReadFS(fsys fs.FS, paths ...string) ([]Source, error) {
	if len(paths) == 0 {
		return nil, errors.New("no rule files given")
	}
	var files []string
	for _, p := range paths {
		info, err := fs.Stat(fsys, p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := fs.ReadDir(fsys, p)
		if err != nil {
			return nil, err
		}
		n := len(files)
		for _, e := range entries {
			if ext := path.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
				files = append(files, path.Join(p, e.Name()))
			}
		}
		if len(files) == n {
			return nil, fmt.Errorf("%s: no *.yaml or *.yml rule files in this folder", p)
		}
	}
	srcs := make([]Source, 0, len(files))
	for _, f := range files {
		src, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, Source{Name: f, Data: src})
	}
	return srcs, nil
}

// Parse reads the rules in src as LoadFS does; name is used in errors.
func Parse(name string, src []byte) (*Set, error) {
	return ParseAll(Source{Name: name, Data: src})
}

// Source is one rule file held in memory.
type Source struct {
	Name string
	Data []byte
}

// ParseAll is Parse over several files that make one rule set.
func ParseAll(srcs ...Source) (*Set, error) {
	l := newLoader()
	for _, s := range srcs {
		l.file(s.Name, s.Data)
	}
	return l.result()
}

type loader struct {
	set      Set
	names    map[string]Pos
	fileName string
	lines    [][]rune // the file's lines, without their line breaks
	rule     string
}

func newLoader() *loader { return &loader{names: map[string]Pos{}} }

// result returns the set, and its errors when there are any.
func (l *loader) result() (*Set, error) {
	if len(l.set.Errors) > 0 {
		l.set.Errors.Sort()
		return &l.set, l.set.Errors
	}
	return &l.set, nil
}

func (l *loader) pos(n *yaml.Node) Pos {
	return Pos{File: l.fileName, Line: n.Line, Column: n.Column}
}

func (l *loader) errorf(n *yaml.Node, field, format string, args ...any) {
	l.set.Errors = append(l.set.Errors, &Error{Pos: l.pos(n), Rule: l.rule, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (l *loader) file(name string, src []byte) {
	l.fileName, l.rule, l.lines = name, "", runeLines(src)
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		l.set.Errors = append(l.set.Errors, yamlError(name, src, err))
		return
	}
	if len(doc.Content) == 0 {
		l.set.Errors = append(l.set.Errors, &Error{Pos: Pos{File: name, Line: 1, Column: 1}, Msg: "empty rule file (expected a `rules:` list)"})
		return
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		l.errorf(root, "", "expected a mapping with a `rules:` list, got %s", kindOf(root))
		return
	}
	var list *yaml.Node
	l.eachKey(root, []string{"rules"}, func(key, val *yaml.Node) {
		list = val
	})
	if list == nil {
		l.errorf(root, "", "missing `rules:` list")
		return
	}
	if list.Kind != yaml.SequenceNode {
		l.errorf(list, "", "`rules:` must be a list of rules, got %s", kindOf(list))
		return
	}
	for _, n := range list.Content {
		l.ruleNode(n)
	}
}

// eachKey calls fn for every key of m, reporting unknown and repeated keys.
func (l *loader) eachKey(m *yaml.Node, known []string, fn func(key, val *yaml.Node)) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		switch {
		case !slices.Contains(known, k.Value):
			hint := Suggest(k.Value, known)
			if seen["fields"] && slices.Equal(known, ruleKeys) && !strings.HasPrefix(hint, " (did you mean") {
				hint = " (a field? indent it under `fields:`)"
			}
			l.errorf(k, "", "unknown key %q%s", k.Value, hint)
		case seen[k.Value]:
			l.errorf(k, "", "key %q given twice", k.Value)
		default:
			seen[k.Value] = true
			fn(k, v)
		}
	}
}

var ruleKeys = []string{"name", "description", "action", "trigger", "enabled", "default_fields", "fields"}

// ruleNode reads one rule. A rule with syntax errors is still added to the
// set, as far as it could be read, so that a compiler can report the
// problems of its meaning too.
func (l *loader) ruleNode(n *yaml.Node) {
	l.rule = ""
	if n.Kind != yaml.MappingNode {
		l.errorf(n, "", "a rule must be a mapping with name, action, trigger and fields, got %s", kindOf(n))
		return
	}
	r := &Rule{Enabled: true, DefaultFields: true, Pos: l.pos(n), NamePos: l.pos(n), FieldsPos: l.pos(n)}
	nodes := map[string]*yaml.Node{}
	keys := map[string]*yaml.Node{}
	// Read the name first so every later error can name the rule.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "name" && n.Content[i+1].Kind == yaml.ScalarNode {
			l.rule = n.Content[i+1].Value
		}
	}
	l.eachKey(n, ruleKeys, func(k, v *yaml.Node) { nodes[k.Value], keys[k.Value] = v, k })

	if v := nodes["name"]; v == nil {
		l.errorf(n, "", "missing `name:`")
	} else if s, good := l.str(v, "name"); good {
		r.NamePos = l.pos(v)
		if strings.TrimSpace(s) == "" {
			l.errorf(v, "", "empty name")
		} else if first, dup := l.names[s]; dup {
			l.errorf(v, "", "duplicate rule name (first defined at %s)", first)
		} else {
			l.names[s] = l.pos(v)
		}
		r.Name = s
	}
	if v := nodes["description"]; v != nil {
		r.Description, _ = l.str(v, "description")
	}
	if v := nodes["enabled"]; v != nil {
		r.Enabled, _ = l.boolean(v, "enabled")
	}
	if v := nodes["default_fields"]; v != nil {
		r.DefaultFields, _ = l.boolean(v, "default_fields")
	}
	if v := nodes["action"]; v != nil {
		s, _ := l.str(v, "action")
		r.Action = &Text{Value: s, Pos: l.pos(v)}
	}
	if v := nodes["trigger"]; v != nil {
		s, _ := l.str(v, "trigger")
		r.Trigger = l.expr(v, s)
	}
	if k := keys["fields"]; k != nil {
		r.FieldsPos = l.pos(k)
		l.fields(r, nodes["fields"])
	}
	l.set.Rules = append(l.set.Rules, r)
}

// text records a scalar, where it is written and where each of its runes
// is (see locate).
func (l *loader) text(n *yaml.Node) *Text {
	return &Text{Value: n.Value, Pos: l.pos(n), spots: locate(l.lines, n)}
}

// expr records a trigger and where it is written.
func (l *loader) expr(n *yaml.Node, src string) *Expr {
	if n.Kind != yaml.ScalarNode {
		return &Expr{Source: src, Pos: l.pos(n)}
	}
	t := l.text(n)
	return &Expr{Source: t.Value, Pos: t.Pos, spots: t.spots}
}

// fields reads the rule's field mappings.
func (l *loader) fields(r *Rule, m *yaml.Node) {
	if m.Kind != yaml.MappingNode {
		l.errorf(m, "", "`fields:` must be a mapping of field names to values, got %s", kindOf(m))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if seen[k.Value] {
			l.errorf(k, k.Value, "given twice")
			continue
		}
		seen[k.Value] = true
		mp := &Mapping{Field: k.Value, Pos: l.pos(k)}
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			mp.Unset = true
		} else if !l.value(mp, v) {
			mp = &Mapping{Field: k.Value, Pos: l.pos(k)} // malformed: in no form
		}
		r.Fields = append(r.Fields, mp)
	}
}

var valueKeys = []string{"path", "default", "value", "template", "md5", "map", "except", "flatten", "lists", "nested", "keep"}

// objectKeys are the keys that shape an object field's value: they go
// with a path or a map, and with the whole field, not one key of its map.
var objectKeys = []string{"map", "except", "flatten", "lists", "nested", "keep"}

// shapeKeys are the keys that shape an object and go with a path or a
// map, each with an example.
var shapeKeys = []struct{ key, example string }{
	{"flatten", `flatten: "_"`}, {"lists", "lists: index"}, {"nested", "nested: stringify"}, {"keep", "keep: [order_id]"},
}

// The choices of lists: and nested:.
var (
	listsChoices  = []string{"index", "drop"}
	nestedChoices = []string{"stringify", "drop"}
)

// value reads one field value node into mp; false when it is malformed.
func (l *loader) value(mp *Mapping, n *yaml.Node) bool {
	return l.valueIn(mp, n, false)
}

// valueIn reads a field value, or (entry) the value of one key of a
// {map: ...}, which is a single value: no map, except or flatten.
func (l *loader) valueIn(mp *Mapping, n *yaml.Node, entry bool) bool {
	fail := func(at *yaml.Node, format string, args ...any) bool {
		l.errorf(at, mp.Field, format, args...)
		return false
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" && entry {
			return fail(n, "a key of map needs a value (leave the key out to leave it out)")
		}
		if n.Tag != "!!str" {
			return fail(n, "%s is not a path: write {value: %s} for a constant", n.Value, n.Value)
		}
		mp.Path = l.text(n)
		return true
	case yaml.MappingNode:
	default:
		if entry {
			return fail(n, "expected a path, {path: ..., default: ...}, {value: ...}, {template: ...} or {md5: ...}, got %s", kindOf(n))
		}
		return fail(n, "expected a path, {path: ..., default: ...}, {value: ...}, {template: ...}, {md5: ...} or {map: {...}}, got %s", kindOf(n))
	}
	if !entry && noneOf(n, valueKeys) && len(n.Content) >= 2 && !strings.HasPrefix(Suggest(n.Content[0].Value, valueKeys), " (did you mean") {
		// {company_name: traits.company.name}: keys of the object, meant as a map.
		k := n.Content[0]
		return fail(k, "unknown key %q: for one value per key write {map: {%s: ...}} (a field value is a path, {path}, {value}, {template}, {md5} or {map})", k.Value, k.Value)
	}
	parts := map[string]*yaml.Node{}
	keys := map[string]*yaml.Node{}
	before := len(l.set.Errors)
	l.eachKey(n, valueKeys, func(k, v *yaml.Node) { parts[k.Value], keys[k.Value] = v, k })
	for _, e := range l.set.Errors[before:] {
		e.Field = mp.Field
	}
	if len(l.set.Errors) > before {
		return false
	}
	if entry {
		for _, k := range objectKeys {
			if keys[k] != nil {
				return fail(keys[k], "%s goes with the whole field, not with one key of its map", k)
			}
		}
	}
	forms := 0
	for _, k := range []string{"path", "value", "template", "md5", "map"} {
		if parts[k] != nil {
			forms++
		}
	}
	if parts["path"] != nil && parts["map"] != nil {
		forms-- // the map adds keys to the object the path finds
	}
	if forms != 1 {
		if entry {
			return fail(n, "give exactly one of path, value, template or md5")
		}
		return fail(n, "give exactly one of path, value, template, md5 or map (or path with map)")
	}
	if d := parts["default"]; d != nil && parts["path"] == nil {
		return fail(d, "default goes with path, e.g. {path: traits.plan, default: free}")
	}
	if e := parts["except"]; e != nil && parts["path"] == nil {
		return fail(keys["except"], "except goes with path, e.g. {path: traits, except: [email, name]}")
	}
	for _, k := range shapeKeys {
		if keys[k.key] != nil && parts["path"] == nil && parts["map"] == nil {
			return fail(keys[k.key], "%s goes with path or map, e.g. {path: properties, %s}", k.key, k.example)
		}
	}
	ok := true
	mp.Lists, ok = l.choice(mp, "lists", parts["lists"], listsChoices, ok)
	mp.Nested, ok = l.choice(mp, "nested", parts["nested"], nestedChoices, ok)
	if k := parts["keep"]; k != nil {
		mp.KeepPos = l.pos(keys["keep"])
		ok = l.keys(mp, "keep", k, &mp.Keep) && ok
	}
	if e := parts["except"]; e != nil {
		ok = l.keys(mp, "except", e, &mp.Except) && ok
	}
	if f := parts["flatten"]; f != nil {
		if f.Kind != yaml.ScalarNode || f.Tag != "!!str" {
			return fail(f, `flatten must be the text that joins the keys, e.g. flatten: "_"`)
		}
		mp.Flatten = &Text{Value: f.Value, Pos: l.pos(f)}
	}
	if m := parts["map"]; m != nil {
		ok = l.mapEntries(mp, keys["map"], m) && ok
	}
	switch {
	case parts["path"] != nil:
		var good bool
		if mp.Path, good = l.textPart(mp, "path", parts["path"]); !good {
			return false
		}
		if d := parts["default"]; d != nil && d.Kind == yaml.MappingNode && len(d.Content) == 2 && d.Content[0].Value == "md5" {
			// default: {md5: path}: an id made from another value.
			mp.DefaultMD5, good = l.textPart(mp, "md5", d.Content[1])
			return good && ok
		}
		if d := parts["default"]; d != nil && !(d.Kind == yaml.ScalarNode && d.Tag == "!!null") {
			lit, good := l.literal(mp, d)
			mp.Default = lit
			return good && ok
		}
		return ok
	case parts["value"] != nil:
		v := parts["value"]
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			if entry {
				return fail(v, "a key of map needs a value (leave the key out to leave it out)")
			}
			mp.Unset = true
			return true
		}
		lit, good := l.literal(mp, v)
		mp.Value = lit
		return good
	case parts["md5"] != nil:
		var good bool
		mp.MD5, good = l.textPart(mp, "md5", parts["md5"])
		return good
	case parts["template"] != nil:
		var good bool
		mp.Template, good = l.textPart(mp, "template", parts["template"])
		return good
	}
	return ok // map alone
}

// choice reads the part name of a field value, one of choices, when it is
// given (n not nil); ok is false once a part was not.
func (l *loader) choice(mp *Mapping, name string, n *yaml.Node, choices []string, ok bool) (*Text, bool) {
	if n == nil {
		return nil, ok
	}
	if n.Kind != yaml.ScalarNode || !slices.Contains(choices, n.Value) {
		l.errorf(n, mp.Field, "%s: expected %s, got %s", name, strings.Join(choices, " or "), kindOf(n))
		return nil, false
	}
	return l.text(n), ok
}

// textMistakes say what a part of a field value that must be text holds.
var textMistakes = map[string]string{
	"path":     "path must be a string",
	"md5":      "md5 must be a path, e.g. {md5: traits.company.name}",
	"template": "template must be a string",
}

// textPart reads the part name of a field value, which must be text.
func (l *loader) textPart(mp *Mapping, name string, n *yaml.Node) (*Text, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		l.errorf(n, mp.Field, "%s", textMistakes[name])
		return nil, false
	}
	return l.text(n), true
}

// noneOf reports whether no key of the mapping m is one of known.
func noneOf(m *yaml.Node, known []string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if slices.Contains(known, m.Content[i].Value) {
			return false
		}
	}
	return true
}

// keys reads a list of keys (except, keep) into out.
func (l *loader) keys(mp *Mapping, name string, n *yaml.Node, out *[]*Text) bool {
	if n.Kind != yaml.SequenceNode {
		example := map[string]string{"except": "except: [email, name]", "keep": "keep: [order_id, total]"}[name]
		l.errorf(n, mp.Field, "%s must be a list of keys, e.g. %s", name, example)
		return false
	}
	ok := true
	for _, k := range n.Content {
		if k.Kind != yaml.ScalarNode || k.Tag == "!!null" {
			l.errorf(k, mp.Field, "%s: expected a key, got %s", name, kindOf(k))
			ok = false
			continue
		}
		*out = append(*out, &Text{Value: k.Value, Pos: l.pos(k)})
	}
	return ok
}

// mapEntries reads {map: {key: value, ...}}.
func (l *loader) mapEntries(mp *Mapping, key, n *yaml.Node) bool {
	mp.MapPos = l.pos(key)
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		l.errorf(n, mp.Field, "map must be a mapping of keys to values, e.g. map: {company_name: traits.company.name}, got %s", kindOf(n))
		return false
	}
	ok := true
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			l.errorf(k, mp.Field, "map: key %q given twice", k.Value)
			ok = false
			continue
		}
		seen[k.Value] = true
		// Errors name the entry as field.key; the entry's Field is the key.
		e := &Mapping{Field: mp.Field + "." + k.Value, Pos: l.pos(k)}
		good := l.valueIn(e, v, true)
		e.Field = k.Value
		if good {
			mp.Map = append(mp.Map, e)
		} else {
			ok = false
		}
	}
	return ok
}

// literal decodes a constant.
func (l *loader) literal(mp *Mapping, n *yaml.Node) (*Literal, bool) {
	var v any
	if err := n.Decode(&v); err != nil {
		l.errorf(n, mp.Field, "bad value: %v", err)
		return nil, false
	}
	return &Literal{Value: normalize(v), Pos: l.pos(n)}, true
}

// normalize turns YAML's map[string]any / []any tree into JSON-encodable
// values (yaml.v3 already uses string keys for string-keyed maps).
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = normalize(x)
		}
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[fmt.Sprint(k)] = normalize(x)
		}
		return m
	case []any:
		for i, x := range t {
			t[i] = normalize(x)
		}
	}
	return v
}

func (l *loader) str(n *yaml.Node, key string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		l.errorf(n, "", "`%s:` must be text, got %s", key, kindOf(n))
		return "", false
	}
	return n.Value, true
}

func (l *loader) boolean(n *yaml.Node, key string) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		l.errorf(n, "", "`%s:` must be true or false, got %s", key, kindOf(n))
		return true, false
	}
	b, _ := strconv.ParseBool(n.Value)
	return b, true
}

func kindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "nothing (null)"
		case "!!str":
			return fmt.Sprintf("%q", n.Value)
		}
		return n.Value
	case yaml.AliasNode:
		return "an alias"
	}
	return "something else"
}
