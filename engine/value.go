package engine

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/intercom-actions/intercom-actions/engine/event"
)

// valueKind says how a field's value is produced.
type valueKind int

// The value forms of a field mapping.
const (
	// pathValue reads a gjson path from the event (a bare string, or {path}).
	pathValue valueKind = iota
	// literalValue is a constant ({value: ...}).
	literalValue
	// templateValue is text with {{path}} placeholders ({template: ...}).
	templateValue
)

// value is a compiled field value.
type value struct {
	kind       valueKind
	path       *event.Path  // pathValue
	fallback   gjson.Result // pathValue: used when the path finds nothing
	hasDefault bool
	literal    gjson.Result // literalValue
	template   []templatePart
	source     string // the value as written, for messages
}

// templatePart is literal text or a path whose value is inserted.
type templatePart struct {
	text string
	path *event.Path
}

// eval produces the value for one event.
func (v *value) eval(doc *event.Doc) gjson.Result {
	switch v.kind {
	case literalValue:
		return v.literal
	case templateValue:
		var b strings.Builder
		for _, p := range v.template {
			if p.path == nil {
				b.WriteString(p.text)
				continue
			}
			if r := doc.Get(p.path); r.Exists() && r.Type != gjson.Null {
				b.WriteString(r.String())
			}
		}
		return gjson.Result{Type: gjson.String, Str: b.String()}
	}
	r := doc.Get(v.path)
	if v.hasDefault && isEmpty(r) {
		return v.fallback
	}
	return r
}

// isEmpty reports whether r counts as no value: missing, null or "".
func isEmpty(r gjson.Result) bool {
	return !r.Exists() || r.Type == gjson.Null || (r.Type == gjson.String && r.Str == "")
}

// compilePathValue compiles a gjson path.
func compilePathValue(src string) (*value, error) {
	p, err := event.CompilePath(src)
	if err != nil {
		return nil, fmt.Errorf("bad path %q: %w", src, err)
	}
	return &value{kind: pathValue, path: p, source: src}, nil
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
func compileTemplate(src string) ([]templatePart, error) {
	var parts []templatePart
	rest := src
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				parts = append(parts, templatePart{text: rest})
			}
			break
		}
		if i > 0 {
			parts = append(parts, templatePart{text: rest[:i]})
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
		parts = append(parts, templatePart{path: p})
		rest = rest[i+j+2:]
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("empty template")
	}
	return parts, nil
}
