package rules

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/intercom-actions/intercom-actions/engine/event"
)

// ValueKind says how a field's value is produced.
type ValueKind int

// The value forms of a field mapping.
const (
	// PathValue reads a gjson path from the event (a bare string, or {path}).
	PathValue ValueKind = iota
	// LiteralValue is a constant ({value: ...}).
	LiteralValue
	// TemplateValue is text with {{path}} placeholders ({template: ...}).
	TemplateValue
)

// Value is a compiled field value.
type Value struct {
	Kind       ValueKind
	Path       *event.Path  // PathValue
	Default    gjson.Result // PathValue: used when the path finds nothing; Exists() false if none
	Literal    gjson.Result // LiteralValue
	Template   []TemplatePart
	Source     string // the value as written, for messages
	hasDefault bool
}

// TemplatePart is literal text or a path whose value is inserted.
type TemplatePart struct {
	Text string
	Path *event.Path
}

// Eval produces the value for one event.
func (v *Value) Eval(doc *event.Doc) gjson.Result {
	switch v.Kind {
	case LiteralValue:
		return v.Literal
	case TemplateValue:
		var b strings.Builder
		for _, p := range v.Template {
			if p.Path == nil {
				b.WriteString(p.Text)
				continue
			}
			if r := doc.Get(p.Path); r.Exists() && r.Type != gjson.Null {
				b.WriteString(r.String())
			}
		}
		return gjson.Result{Type: gjson.String, Str: b.String()}
	}
	r := doc.Get(v.Path)
	if v.hasDefault && isEmpty(r) {
		return v.Default
	}
	return r
}

// isEmpty reports whether r counts as no value: missing, null or "".
func isEmpty(r gjson.Result) bool {
	return !r.Exists() || r.Type == gjson.Null || (r.Type == gjson.String && r.Str == "")
}

func pathValue(src string) (*Value, error) {
	p, err := event.CompilePath(src)
	if err != nil {
		return nil, fmt.Errorf("bad path %q: %w", src, err)
	}
	return &Value{Kind: PathValue, Path: p, Source: src}, nil
}

// literalResult turns a decoded YAML value into the gjson value the
// converters take, so literals and paths go through one conversion.
func literalResult(v any) (gjson.Result, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return gjson.Result{}, err
	}
	return gjson.ParseBytes(b), nil
}

// compileTemplate splits "Hello {{traits.name}}" into text and paths.
func compileTemplate(src string) ([]TemplatePart, error) {
	var parts []TemplatePart
	rest := src
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				parts = append(parts, TemplatePart{Text: rest})
			}
			break
		}
		if i > 0 {
			parts = append(parts, TemplatePart{Text: rest[:i]})
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("unclosed {{ at offset %d", len(src)-len(rest)+i)
		}
		ref := strings.TrimSpace(rest[i+2 : i+j])
		p, err := event.CompilePath(ref)
		if err != nil {
			return nil, fmt.Errorf("bad path %q in {{...}}: %w", ref, err)
		}
		parts = append(parts, TemplatePart{Path: p})
		rest = rest[i+j+2:]
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("empty template")
	}
	return parts, nil
}
