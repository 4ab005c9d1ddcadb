package engine

import (
	"cmp"
	"errors"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/rules"
)

// rule is one compiled rule.
type rule struct {
	name    string
	kind    *action.Kind
	trigger *trigger
	enabled bool
	fields  []mapping // in the action's table order
}

// mapping is one field of a rule and the value it gets.
type mapping struct {
	field *action.Field
	value *value
}

// compiler checks what rules mean and compiles them, collecting every
// problem with its position.
type compiler struct {
	errs     rules.ErrorList
	warnings rules.ErrorList
	rule     string // the rule being compiled, for messages
}

// warnf records a warning: the rules compile, but may not do what the
// author means.
func (c *compiler) warnf(at rules.Pos, field, format string, args ...any) {
	c.warnings = append(c.warnings, &rules.Error{Pos: at, Rule: c.rule, Field: field, Msg: "warning: " + fmt.Sprintf(format, args...)})
}

func (c *compiler) errorf(at rules.Pos, field, format string, args ...any) {
	c.errs = append(c.errs, &rules.Error{Pos: at, Rule: c.rule, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// compile checks and compiles one rule; nil when it has errors.
func (c *compiler) compile(r *rules.Rule) *rule {
	c.rule = r.Name
	before := len(c.errs)
	out := &rule{name: r.Name, enabled: r.Enabled}
	names := action.Names()
	switch {
	case r.Action == nil:
		c.errorf(r.Pos, "", "missing `action:` (one of %s)", strings.Join(names, ", "))
	default:
		if k, ok := action.Lookup(r.Action.Value); ok {
			out.kind = k
		} else {
			c.errorf(r.Action.Pos, "", "unknown action %q%s", r.Action.Value, rules.Suggest(r.Action.Value, names))
		}
	}
	out.trigger = c.trigger(r, out.kind)
	if out.kind != nil {
		out.fields = c.fields(r, out.kind)
	} else {
		c.fieldSyntax(r)
	}
	if len(c.errs) > before {
		return nil
	}
	return out
}

// trigger compiles the rule's trigger, or its action's preset.
func (c *compiler) trigger(r *rules.Rule, k *action.Kind) *trigger {
	src, at := "", r.Pos
	switch {
	case r.Trigger != nil:
		src, at = r.Trigger.Source, r.Trigger.Pos
	case k != nil && k.Trigger != "":
		src = k.Trigger
	case k != nil:
		c.errorf(r.Pos, "", "missing `trigger:` (%s has no preset trigger)", k.Name)
		return nil
	default:
		return nil
	}
	t, err := compileTrigger(src)
	var errs triggerErrors // compileTrigger's only kind of error
	if errors.As(err, &errs) {
		for _, e := range errs {
			pos := at
			if r.Trigger != nil && e.offset >= 0 {
				pos = r.Trigger.At(e.offset)
			}
			c.errorf(pos, "", "trigger: %s", e.msg)
		}
	}
	return t
}

// fields compiles the rule's field mappings, starting from the action's
// default paths unless the rule says default_fields: false.
func (c *compiler) fields(r *rules.Rule, k *action.Kind) []mapping {
	written := map[string]*value{}
	unset := map[string]bool{}
	ok := true
	for _, m := range r.Fields {
		f, found := k.Field(m.Field)
		if !found {
			c.errorf(m.Pos, m.Field, "%s has no such field%s", k.Name, rules.Suggest(m.Field, k.FieldNames()))
			ok = false
			continue
		}
		if m.Unset {
			unset[f.Name] = true
			continue
		}
		v, good := c.value(f, m)
		if !good {
			ok = false
			unset[f.Name] = true // reported; no "not mapped" error on top
			continue
		}
		written[f.Name] = v
	}
	var out []mapping
	for _, f := range k.Fields {
		if v, found := written[f.Name]; found {
			out = append(out, mapping{field: f, value: v})
			continue
		}
		if r.DefaultFields && !unset[f.Name] && f.Default != "" {
			v, err := compilePathValue(f.Default)
			if err != nil {
				panic(fmt.Sprintf("engine: default path of %s.%s: %v", k.Name, f.Name, err))
			}
			out = append(out, mapping{field: f, value: v})
			continue
		}
		if f.Required && !(unset[f.Name] && !ok) {
			hint := ""
			if len(f.Enum) > 0 {
				hint = fmt.Sprintf(" (e.g. `%s: {value: %s}`)", f.Name, f.Enum[0])
			} else if f.Default != "" {
				hint = fmt.Sprintf(" (Segment maps it from %s)", f.Default)
			}
			c.errorf(r.FieldsPos, f.Name, "required by %s but not mapped%s", k.Name, hint)
			ok = false
		}
	}
	return out
}

// fieldSyntax checks what can be checked of a rule's fields when its
// action is unknown or missing: the paths and templates, so that fixing the
// action does not reveal a second round of errors.
func (c *compiler) fieldSyntax(r *rules.Rule) {
	for _, m := range r.Fields {
		switch {
		case m.Path != nil:
			if _, err := compilePathValue(m.Path.Value); err != nil {
				c.errorf(m.Path.Pos, m.Field, "%v", err)
			}
			if m.DefaultMD5 != nil {
				c.md5(m.Field, m.DefaultMD5)
			}
		case m.Template != nil:
			c.template(m.Field, m.Template)
		case m.MD5 != nil:
			c.md5(m.Field, m.MD5)
		}
	}
}

// value compiles one field's value; false when it has errors (reported).
// A mapping in none of the forms was malformed, and rules reported it.
func (c *compiler) value(f *action.Field, m *rules.Mapping) (*value, bool) {
	if m.Map != nil || m.Except != nil || m.Flatten != nil || m.Lists != nil || m.Nested != nil || m.Keep != nil {
		return c.object(f, m)
	}
	if md5 := cmp.Or(m.MD5, m.DefaultMD5); md5 != nil && f.Type.IsObject() {
		c.errorf(md5.Pos, f.Name, "md5 makes text; %s needs an object (use md5 for one key of its map)", f.Name)
		return nil, false
	}
	if m.Template != nil && f.Type.IsObject() {
		c.errorf(m.Template.Pos, f.Name, "a template makes text; %s needs an object (use a path or {value: {...}})", f.Name)
		return nil, false
	}
	if m.Path != nil && m.Default == nil {
		if lit, ok := constantWord(f, m.Path.Value); ok {
			c.errorf(m.Path.Pos, f.Name, "%v", &rootError{path: m.Path.Value, root: m.Path.Value, fix: "{value: " + lit + "}"})
			return nil, false
		}
	}
	return c.single(f.Name, m, func(lit *rules.Literal) (gjson.Result, bool) { return c.literal(f, lit) })
}

// yamlBooleans are the YAML 1.1 words for true and false, which YAML 1.2
// (and so a rule file) reads as text.
var yamlBooleans = map[string]string{"yes": "true", "on": "true", "no": "false", "off": "false"}

// constantWord reports whether path, written as a field's whole value, is
// more likely a constant than a path: a single word that is no event
// field but one of the field's values (role: user, a boolean's "false",
// or yes). lit is the constant to write.
func constantWord(f *action.Field, path string) (lit string, ok bool) {
	if f.Type != action.TypeEnum && f.Type != action.TypeBoolean {
		return "", false
	}
	if root, end, ok := rootKey(path); !ok || end != len(path) || isEventField[root] {
		return "", false
	}
	if b, ok := yamlBooleans[strings.ToLower(path)]; ok && f.Type == action.TypeBoolean {
		return b, true
	}
	r, _ := literalResult(path)
	warnings, err := f.Check(r)
	return path, err == nil && len(warnings) == 0
}

// single compiles a path (with its default), a constant or a template:
// a field's value, or one key's in a map. name names it in errors; lit
// checks a constant (a default or a value) and converts it.
func (c *compiler) single(name string, m *rules.Mapping, lit func(*rules.Literal) (gjson.Result, bool)) (*value, bool) {
	switch {
	case m.Path != nil:
		v, err := compilePathValue(m.Path.Value)
		if err != nil {
			c.errorf(m.Path.Pos, name, "%v", err)
			return nil, false
		}
		if m.DefaultMD5 != nil {
			h, ok := c.md5(name, m.DefaultMD5)
			if !ok {
				return nil, false
			}
			v.fallback = h
			v.source += " (default: " + h.source + ")"
		}
		if m.Default != nil {
			r, good := lit(m.Default)
			if !good {
				return nil, false
			}
			v.fallback = &value{kind: literalValue, literal: r, source: r.Raw}
		}
		return v, true
	case m.Value != nil:
		r, good := lit(m.Value)
		if !good {
			return nil, false
		}
		return &value{kind: literalValue, literal: r, source: r.Raw}, true
	case m.MD5 != nil:
		return c.md5(name, m.MD5)
	case m.Template != nil:
		t, ok := c.template(name, m.Template)
		if !ok {
			return nil, false
		}
		return &value{kind: templateValue, template: t, source: m.Template.Value}, true
	}
	return nil, false
}

// md5 compiles {md5: path}.
func (c *compiler) md5(name string, src *rules.Text) (*value, bool) {
	p, err := compilePath(src.Value)
	if err != nil {
		c.errorf(src.Pos, name, "md5: %v", err)
		return nil, false
	}
	return &value{kind: md5Value, path: p, source: "{md5: " + src.Value + "}"}, true
}

// template compiles a template, reporting its mistake at its column.
func (c *compiler) template(name string, src *rules.Text) (*template, bool) {
	t, err := compileTemplate(src.Value)
	var te *templateError
	switch {
	case errors.As(err, &te):
		c.errorf(src.At(te.offset), name, "template: %s", te.msg)
	case err != nil:
		c.errorf(src.Pos, name, "template: %v", err)
	}
	return t, err == nil
}

// object compiles the object forms of a field: a path with except or
// flatten, a map of per-key mappings, or both.
func (c *compiler) object(f *action.Field, m *rules.Mapping) (*value, bool) {
	if !f.Type.IsObject() {
		at, what := m.MapPos, "map"
		switch {
		case m.Except != nil:
			at, what = m.Except[0].Pos, "except"
		case m.Flatten != nil:
			at, what = m.Flatten.Pos, "flatten"
		case m.Lists != nil:
			at, what = m.Lists.Pos, "lists"
		case m.Nested != nil:
			at, what = m.Nested.Pos, "nested"
		case m.Keep != nil:
			at, what = m.KeepPos, "keep"
		case m.Map == nil:
			at = m.Pos
		}
		c.errorf(at, f.Name, "%s builds an object; %s is %s (map, except, flatten, lists, nested and keep go with custom_attributes and metadata)", what, f.Name, typeName(f.Type))
		return nil, false
	}
	if m.Keep != nil && f.Type != action.TypeMetadata {
		c.errorf(m.KeepPos, f.Name, "keep orders metadata's keys for Intercom's limit of %d; %s has no such limit", action.MaxMetadata, f.Name)
		return nil, false
	}
	o := &object{field: f.Name, rich: f.Type == action.TypeMetadata, listSep: "_"}
	v := &value{kind: objectValue, object: o, source: "map"}
	ok := true
	if m.Path != nil {
		base, good := c.value(f, &rules.Mapping{Field: m.Field, Pos: m.Pos, Path: m.Path, Default: m.Default, DefaultMD5: m.DefaultMD5})
		o.base, ok = base, good
		v.source = m.Path.Value
	}
	if len(m.Except) > 0 {
		o.except = map[string]bool{}
		for _, k := range m.Except {
			o.except[k.Value] = true
		}
	}
	if m.Flatten != nil {
		if err := checkKey(m.Flatten.Value); err != nil {
			c.errorf(m.Flatten.Pos, f.Name, "flatten: %q cannot join keys: %v (use \"_\")", m.Flatten.Value, err)
			ok = false
		}
		o.sep = m.Flatten.Value
		o.listSep = m.Flatten.Value
	}
	o.index = m.Lists != nil && m.Lists.Value == "index"
	o.stringify = m.Nested != nil && m.Nested.Value == "stringify"
	for _, k := range m.Keep {
		if err := checkKey(k.Value); err != nil {
			c.errorf(k.Pos, f.Name, "keep: %v", err)
			ok = false
		}
		o.keep = append(o.keep, k.Value)
	}
	for _, e := range m.Map {
		name := f.Name + "." + e.Field
		if err := checkKey(e.Field); err != nil {
			c.errorf(e.Pos, name, "%v", err)
			ok = false
			continue
		}
		ev, good := c.entry(f, name, e)
		if !good {
			ok = false
			continue
		}
		o.entries = append(o.entries, entry{key: e.Field, value: ev})
	}
	if ok && f.Type == action.TypeMetadata && len(o.keep) == 0 {
		c.metadataLimit(f, m, o)
	}
	return v, ok
}

// metadataLimit warns when a metadata mapping can give Intercom more
// than action.MaxMetadata keys and does not say which matter most (keep):
// the keys past those are dropped in event order.
func (c *compiler) metadataLimit(f *action.Field, m *rules.Mapping, o *object) {
	advice := fmt.Sprintf("Intercom keeps the first %d of an event; name those that matter most with keep: [...]", action.MaxMetadata)
	switch {
	case len(o.entries) > action.MaxMetadata:
		c.warnf(m.MapPos, f.Name, "map gives up to %d keys: %s", len(o.entries), advice)
	case o.base != nil && (o.sep != "" || o.index):
		what := "flatten"
		if o.sep == "" {
			what = "lists: index"
		}
		c.warnf(m.Path.Pos, f.Name, "%s can make more than %d keys of %s: %s", what, action.MaxMetadata, m.Path.Value, advice)
	}
}

// entry compiles the value of one key of a map (named field.key).
func (c *compiler) entry(f *action.Field, name string, e *rules.Mapping) (*value, bool) {
	// A constant must fit the field as {key: constant} does.
	fits := func(lit *rules.Literal) (gjson.Result, bool) {
		r, err := literalResult(lit.Value)
		if err == nil {
			obj, _ := literalResult(map[string]any{e.Field: lit.Value})
			var warnings []string
			if warnings, err = f.Check(obj); err == nil && len(warnings) > 0 {
				err = errors.New(strings.Join(warnings, "; "))
			}
		}
		if err != nil {
			c.errorf(lit.Pos, name, "%v", err)
			return r, false
		}
		return r, true
	}
	return c.single(name, e, fits)
}

// typeName names a field type in messages.
func typeName(t action.Type) string {
	switch t {
	case action.TypeInteger, action.TypeEnum:
		return "an " + string(t)
	}
	return "a " + string(t)
}

// literal checks that a constant converts cleanly for f.
func (c *compiler) literal(f *action.Field, lit *rules.Literal) (res gjson.Result, ok bool) {
	r, err := literalResult(lit.Value)
	if err != nil {
		c.errorf(lit.Pos, f.Name, "bad value: %v", err)
		return res, false
	}
	warnings, err := f.Check(r)
	if err != nil {
		c.errorf(lit.Pos, f.Name, "%v", err)
		return res, false
	}
	if len(warnings) > 0 {
		c.errorf(lit.Pos, f.Name, "%s", strings.Join(warnings, "; "))
		return res, false
	}
	return r, true
}
