package rules

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/file"
	"github.com/tidwall/gjson"
	"gopkg.in/yaml.v3"
)

// Rule is one validated, compiled rule.
type Rule struct {
	Name        string
	Description string
	Action      *ActionSpec
	Trigger     *Trigger
	Enabled     bool
	Fields      []Mapping // mapped fields, in the action's table order
	Pos         Pos       // where the rule starts
}

// Mapping is one field of a rule and the value it gets.
type Mapping struct {
	Field *Field
	Value *Value
	Pos   Pos // where it was written; the rule's fields key for defaults
}

// RuleSet is the rules of one or more files, in file order.
type RuleSet struct {
	Rules []*Rule
}

// Enabled returns the rules that are not disabled.
func (rs *RuleSet) Enabled() []*Rule {
	var out []*Rule
	for _, r := range rs.Rules {
		if r.Enabled {
			out = append(out, r)
		}
	}
	return out
}

// Load reads rule files and folders (every *.yaml and *.yml in a folder,
// in name order). All problems of all files are returned together as an
// ErrorList; an I/O problem is returned as it is.
func Load(paths ...string) (*RuleSet, error) {
	return LoadFS(osFS{}, paths...)
}

// osFS lets Load take OS paths (absolute or relative) through LoadFS.
type osFS struct{}

func (osFS) Open(name string) (fs.File, error)          { return os.Open(name) }
func (osFS) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }
func (osFS) Stat(name string) (fs.FileInfo, error)      { return os.Stat(name) }

// LoadFS is Load over a file system, such as an embed.FS.
func LoadFS(fsys fs.FS, paths ...string) (*RuleSet, error) {
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
			if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
				files = append(files, filepath.Join(p, e.Name()))
			}
		}
		if len(files) == n {
			return nil, fmt.Errorf("%s: no *.yaml or *.yml rule files in this folder", p)
		}
	}
	l := newLoader()
	for _, f := range files {
		src, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		l.file(f, src)
	}
	return l.result()
}

// Parse validates and compiles the rules in src; name is used in errors.
func Parse(name string, src []byte) (*RuleSet, error) {
	return ParseAll(Source{Name: name, Data: src})
}

// Source is one rule file held in memory.
type Source struct {
	Name string
	Data []byte
}

// ParseAll is Parse over several files that make one rule set.
func ParseAll(srcs ...Source) (*RuleSet, error) {
	l := newLoader()
	for _, s := range srcs {
		l.file(s.Name, s.Data)
	}
	return l.result()
}

type loader struct {
	set      RuleSet
	errs     ErrorList
	names    map[string]Pos
	fileName string
	rule     string
}

func newLoader() *loader { return &loader{names: map[string]Pos{}} }

func (l *loader) result() (*RuleSet, error) {
	if len(l.errs) > 0 {
		l.errs.sort()
		return nil, l.errs
	}
	return &l.set, nil
}

func (l *loader) pos(n *yaml.Node) Pos {
	return Pos{File: l.fileName, Line: n.Line, Column: n.Column}
}

func (l *loader) errorf(n *yaml.Node, field, format string, args ...any) {
	l.errs = append(l.errs, &Error{Pos: l.pos(n), Rule: l.rule, Field: field, Msg: fmt.Sprintf(format, args...)})
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

func (l *loader) file(name string, src []byte) {
	l.fileName, l.rule = name, ""
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		msg := err.Error()
		line := 0
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = strings.TrimPrefix(msg, m[0])
			// yaml.v3 numbers parser errors (unlike scanner errors) from 0.
			if strings.HasPrefix(msg, "did not find expected") {
				line++
			}
		}
		l.errs = append(l.errs, &Error{Pos: Pos{File: name, Line: line}, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")})
		return
	}
	if len(doc.Content) == 0 {
		l.errs = append(l.errs, &Error{Pos: Pos{File: name, Line: 1, Column: 1}, Msg: "empty rule file (expected a `rules:` list)"})
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
		case !contains(known, k.Value):
			l.errorf(k, "", "unknown key %q%s", k.Value, suggest(k.Value, known))
		case seen[k.Value]:
			l.errorf(k, "", "key %q given twice", k.Value)
		default:
			seen[k.Value] = true
			fn(k, v)
		}
	}
}

var ruleKeys = []string{"name", "description", "action", "trigger", "enabled", "default_fields", "fields"}

func (l *loader) ruleNode(n *yaml.Node) {
	l.rule = ""
	if n.Kind != yaml.MappingNode {
		l.errorf(n, "", "a rule must be a mapping with name, action, trigger and fields, got %s", kindOf(n))
		return
	}
	r := &Rule{Enabled: true, Pos: l.pos(n)}
	nodes := map[string]*yaml.Node{}
	keys := map[string]*yaml.Node{}
	// Read the name first so every later error can name the rule.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "name" && n.Content[i+1].Kind == yaml.ScalarNode {
			l.rule = n.Content[i+1].Value
		}
	}
	l.eachKey(n, ruleKeys, func(k, v *yaml.Node) { nodes[k.Value], keys[k.Value] = v, k })

	ok := true
	if v := nodes["name"]; v == nil {
		l.errorf(n, "", "missing `name:`")
		ok = false
	} else if s, good := l.str(v, "name"); good {
		if strings.TrimSpace(s) == "" {
			l.errorf(v, "", "empty name")
			ok = false
		} else if first, dup := l.names[s]; dup {
			l.errorf(v, "", "duplicate rule name (first defined at %s)", first)
			ok = false
		} else {
			l.names[s] = l.pos(v)
			r.Name = s
		}
	} else {
		ok = false
	}
	if v := nodes["description"]; v != nil {
		r.Description, _ = l.str(v, "description")
	}
	if v := nodes["enabled"]; v != nil {
		r.Enabled, _ = l.boolean(v, "enabled")
	}
	defaultFields := true
	if v := nodes["default_fields"]; v != nil {
		defaultFields, _ = l.boolean(v, "default_fields")
	}

	if v := nodes["action"]; v == nil {
		l.errorf(n, "", "missing `action:` (one of %s)", strings.Join(ActionNames(), ", "))
		ok = false
	} else if s, good := l.str(v, "action"); good {
		if spec, found := LookupAction(s); found {
			r.Action = spec
		} else {
			l.errorf(v, "", "unknown action %q%s", s, suggest(s, ActionNames()))
			ok = false
		}
	} else {
		ok = false
	}

	triggerSrc, triggerNode := "", nodes["trigger"]
	if triggerNode != nil {
		triggerSrc, _ = l.str(triggerNode, "trigger")
	} else if r.Action != nil && r.Action.Trigger != "" {
		triggerSrc = r.Action.Trigger
	} else if r.Action != nil {
		l.errorf(n, "", "missing `trigger:` (%s has no preset trigger)", r.Action.Name)
		ok = false
	}
	if triggerSrc != "" {
		t, err := CompileTrigger(triggerSrc)
		if err != nil {
			at := l.pos(n)
			if triggerNode != nil {
				at = l.exprPos(triggerNode, err)
			}
			l.errs = append(l.errs, &Error{Pos: at, Rule: l.rule, Msg: "trigger: " + exprMessage(err)})
			ok = false
		}
		r.Trigger = t
	}

	if r.Action != nil {
		fieldsNode := nodes["fields"]
		at := n
		if fieldsNode != nil {
			at = keys["fields"]
		}
		if !l.fields(r, fieldsNode, at, defaultFields) {
			ok = false
		}
	}
	if ok {
		l.set.Rules = append(l.set.Rules, r)
	}
}

// fields compiles the rule's field mappings, starting from the action's
// default paths unless defaultFields is false.
func (l *loader) fields(r *Rule, m *yaml.Node, at *yaml.Node, defaultFields bool) bool {
	spec := r.Action
	written := map[string]*Value{}
	writtenPos := map[string]Pos{}
	unset := map[string]bool{}
	ok := true
	if m != nil && m.Kind != yaml.MappingNode {
		l.errorf(m, "", "`fields:` must be a mapping of field names to values, got %s", kindOf(m))
		return false
	}
	if m != nil {
		names := spec.FieldNames()
		seen := map[string]bool{}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			f, found := spec.Field(k.Value)
			switch {
			case !found:
				l.errorf(k, k.Value, "%s has no such field%s", spec.Name, suggest(k.Value, names))
				ok = false
				continue
			case seen[k.Value]:
				l.errorf(k, k.Value, "given twice")
				ok = false
				continue
			}
			seen[k.Value] = true
			if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				unset[f.Name] = true
				continue
			}
			val, good := l.value(f, v)
			if !good {
				ok = false
				unset[f.Name] = true // reported; no "not mapped" error on top
				continue
			}
			if val == nil {
				unset[f.Name] = true
				continue
			}
			written[f.Name], writtenPos[f.Name] = val, l.pos(v)
		}
	}
	for i := range spec.Fields {
		f := &spec.Fields[i]
		if val, found := written[f.Name]; found {
			r.Fields = append(r.Fields, Mapping{Field: f, Value: val, Pos: writtenPos[f.Name]})
			continue
		}
		if defaultFields && !unset[f.Name] && f.Default != "" {
			val, err := pathValue(f.Default)
			if err != nil {
				panic(fmt.Sprintf("rules: default path of %s.%s: %v", spec.Name, f.Name, err))
			}
			r.Fields = append(r.Fields, Mapping{Field: f, Value: val, Pos: l.pos(at)})
			continue
		}
		if f.Required && !(unset[f.Name] && !ok) {
			hint := ""
			if len(f.Enum) > 0 {
				hint = fmt.Sprintf(" (e.g. `%s: {value: %s}`)", f.Name, f.Enum[0])
			} else if f.Default != "" {
				hint = fmt.Sprintf(" (Segment maps it from %s)", f.Default)
			}
			l.errorf(at, f.Name, "required by %s but not mapped%s", spec.Name, hint)
			ok = false
		}
	}
	return ok
}

var valueKeys = []string{"path", "default", "value", "template"}

// value compiles one field value node. It returns nil, true for an
// explicit {value: null}.
func (l *loader) value(f *Field, n *yaml.Node) (*Value, bool) {
	fail := func(at *yaml.Node, format string, args ...any) (*Value, bool) {
		l.errorf(at, f.Name, format, args...)
		return nil, false
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag != "!!str" {
			return fail(n, "%s is not a path: write {value: %s} for a constant", n.Value, n.Value)
		}
		v, err := pathValue(n.Value)
		if err != nil {
			return fail(n, "%v", err)
		}
		return v, true
	case yaml.MappingNode:
	default:
		return fail(n, "expected a path, {path: ..., default: ...}, {value: ...} or {template: ...}, got %s", kindOf(n))
	}
	parts := map[string]*yaml.Node{}
	before := len(l.errs)
	l.eachKey(n, valueKeys, func(k, v *yaml.Node) { parts[k.Value] = v })
	for _, e := range l.errs[before:] {
		e.Field = f.Name
	}
	if len(l.errs) > before {
		return nil, false
	}
	forms := 0
	for _, k := range []string{"path", "value", "template"} {
		if parts[k] != nil {
			forms++
		}
	}
	if forms != 1 {
		return fail(n, "give exactly one of path, value or template")
	}
	if d := parts["default"]; d != nil && parts["path"] == nil {
		return fail(d, "default goes with path, e.g. {path: traits.plan, default: free}")
	}
	switch {
	case parts["path"] != nil:
		p := parts["path"]
		if p.Kind != yaml.ScalarNode || p.Tag != "!!str" {
			return fail(p, "path must be a string")
		}
		v, err := pathValue(p.Value)
		if err != nil {
			return fail(p, "%v", err)
		}
		if d := parts["default"]; d != nil && !(d.Kind == yaml.ScalarNode && d.Tag == "!!null") {
			res, good := l.literal(f, d)
			if !good {
				return nil, false
			}
			v.Default, v.hasDefault = res, true
		}
		return v, true
	case parts["value"] != nil:
		lit := parts["value"]
		if lit.Kind == yaml.ScalarNode && lit.Tag == "!!null" {
			return nil, true
		}
		res, good := l.literal(f, lit)
		if !good {
			return nil, false
		}
		return &Value{Kind: LiteralValue, Literal: res, Source: res.Raw}, true
	default:
		t := parts["template"]
		if t.Kind != yaml.ScalarNode || t.Tag != "!!str" {
			return fail(t, "template must be a string")
		}
		if f.Type == Attributes || f.Type == Metadata {
			return fail(t, "a template makes text; %s needs an object (use a path or {value: {...}})", f.Name)
		}
		parts, err := compileTemplate(t.Value)
		if err != nil {
			return fail(t, "template: %v", err)
		}
		return &Value{Kind: TemplateValue, Template: parts, Source: t.Value}, true
	}
}

// literal decodes a constant and checks that it converts cleanly for f.
func (l *loader) literal(f *Field, n *yaml.Node) (res gjson.Result, ok bool) {
	var v any
	if err := n.Decode(&v); err != nil {
		l.errorf(n, f.Name, "bad value: %v", err)
		return res, false
	}
	r, err := literalResult(normalize(v))
	if err != nil {
		l.errorf(n, f.Name, "bad value: %v", err)
		return res, false
	}
	_, _, warnings, err := f.Convert(r)
	if err != nil {
		l.errorf(n, f.Name, "%v", err)
		return res, false
	}
	if len(warnings) > 0 {
		l.errorf(n, f.Name, "%s", strings.Join(warnings, "; "))
		return res, false
	}
	return r, true
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// exprPos points into a one-line trigger at the column expr reports.
func (l *loader) exprPos(n *yaml.Node, err error) Pos {
	p := l.pos(n)
	var fe *file.Error
	if !errors.As(err, &fe) || strings.Contains(n.Value, "\n") || fe.Column < 0 {
		return p
	}
	p.Column += fe.Column
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		p.Column++
	}
	return p
}

// exprMessage is expr's message without its position and source snippet.
func exprMessage(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) {
		return fe.Message
	}
	return oneLine(err)
}

// oneLine flattens expr's multi-line error (message, source, caret) into
// its first line; the position is already in the rules error.
func oneLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
