package engine

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/intercom-actions/intercom-actions/engine/internal/event"
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
	// objectValue builds an object: the one a path finds, less some keys
	// (except), plus per-key values (map), nested objects flattened.
	objectValue
	// md5Value is the lowercase hex MD5 of the text a path finds ({md5: ...}).
	md5Value
)

// value is a compiled field value.
type value struct {
	kind valueKind
	path *event.Path // pathValue
	// fallback, for pathValue, is used when the path finds nothing: its
	// default, a constant or {md5: ...}; nil for none.
	fallback *value
	literal  gjson.Result // literalValue
	template *template
	object   *object
	source   string // the value as written, for messages
}

// eval produces the value for one event, telling warn what it left out.
// A missing Result means no value: the field is left out.
func (v *value) eval(doc *event.Doc, warn func(string)) event.Value {
	switch v.kind {
	case literalValue:
		return event.ValueOf(v.literal)
	case templateValue:
		return event.ValueOf(v.template.eval(doc))
	case objectValue:
		return event.ValueOf(v.object.eval(doc, warn))
	case md5Value:
		return event.ValueOf(md5Hex(doc.Get(v.path).Result))
	}
	r := doc.Get(v.path)
	if event.IsEmpty(r.Result) && v.fallback != nil {
		return v.fallback.eval(doc, warn)
	}
	return r
}

// md5Hex is the lowercase hex MD5 of r's text, as RudderStack makes a
// company's id from its name (md5(company.name)): a string as it is, a
// number or boolean as its JSON text. Nothing (missing, null, "") and
// objects and lists give nothing.
func md5Hex(r gjson.Result) gjson.Result {
	var text string
	switch r.Type {
	case gjson.String:
		text = r.Str
	case gjson.Number, gjson.True, gjson.False:
		text = r.Raw
	default:
		return gjson.Result{}
	}
	if text == "" {
		return gjson.Result{}
	}
	sum := md5.Sum([]byte(text))
	return gjson.Result{Type: gjson.String, Str: hex.EncodeToString(sum[:])}
}

// discard is a warn func for values whose warnings are not reported.
func discard(string) {}

// template is text with {{path}} placeholders. The text between two
// placeholders is split in three: closing brackets that end the left one's
// part, the separator, and opening brackets that start the right one's; the
// text before the first placeholder is its opening, the text after the last
// its closing. "{{event}} ({{plan}})" is "" event "" | " " | "(" plan ")".
type template struct {
	plain string        // the whole text, when there are no placeholders
	paths []*event.Path // the placeholders
	open  []string      // per placeholder: the text that opens its part
	close []string      // per placeholder: the text that closes its part
	sep   []string      // per placeholder after the first: the separator before it
}

// eval fills the placeholders. A placeholder without a value (missing,
// null or "") is dropped with its part and the separator before it (the
// first one with a value has none). With no value at all the result is
// missing, and the field is left out: "{{first}} {{last}}" gives "Bo"
// without a last name, and nothing without either.
func (t *template) eval(doc *event.Doc) gjson.Result {
	if len(t.paths) == 0 {
		return gjson.Result{Type: gjson.String, Str: t.plain}
	}
	var b strings.Builder
	first := true
	for i, p := range t.paths {
		r := doc.Get(p)
		if event.IsEmpty(r.Result) {
			continue
		}
		if !first {
			b.WriteString(t.sep[i])
		}
		b.WriteString(t.open[i])
		b.WriteString(r.String())
		b.WriteString(t.close[i])
		first = false
	}
	if first {
		return gjson.Result{}
	}
	return gjson.Result{Type: gjson.String, Str: b.String()}
}

// compilePathValue compiles a gjson path.
func compilePathValue(src string) (*value, error) {
	p, err := compilePath(src)
	if err != nil {
		return nil, err
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

// pathProblem is the error of compiling path, without the path.
func pathProblem(path string, err error) string {
	msg := strings.TrimPrefix(err.Error(), path+": ")
	return strings.TrimPrefix(msg, fmt.Sprintf("bad path %q: ", path))
}

// templateError is a mistake in a template, at a rune offset into it.
type templateError struct {
	offset int
	msg    string
	err    error // the path's error, when it is one
}

func (e *templateError) Error() string { return e.msg }

func (e *templateError) Unwrap() error { return e.err }

// compileTemplate splits "Hello {{traits.name}}" into text and paths.
func compileTemplate(src string) (*template, error) {
	var texts []string // len(paths)+1 pieces of text around the placeholders
	t := &template{plain: src}
	var text strings.Builder
	rest := src
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			text.WriteString(rest)
			break
		}
		text.WriteString(rest[:i])
		at := len(src) - len(rest) + i // the byte offset of the {{
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return nil, &templateError{offset: utf8.RuneCountInString(src[:at]), msg: "this {{ is never closed with }}"}
		}
		inner := rest[i+2 : i+j]
		ref := strings.TrimSpace(inner)
		if ref == "" {
			return nil, &templateError{offset: utf8.RuneCountInString(src[:at]), msg: "{{}} holds no path, e.g. {{traits.name}}"}
		}
		p, err := compilePath(ref)
		if err != nil {
			refAt := at + 2 + strings.Index(inner, ref)
			return nil, &templateError{offset: utf8.RuneCountInString(src[:refAt]), msg: "{{" + ref + "}}: " + pathProblem(ref, err), err: err}
		}
		texts = append(texts, text.String())
		text.Reset()
		t.paths = append(t.paths, p)
		rest = rest[i+j+2:]
	}
	texts = append(texts, text.String())
	n := len(t.paths)
	if n == 0 {
		if src == "" {
			return nil, fmt.Errorf("empty template")
		}
		return t, nil
	}
	t.open, t.close, t.sep = make([]string, n), make([]string, n), make([]string, n)
	t.open[0], t.close[n-1] = texts[0], texts[n]
	for i := 1; i < n; i++ {
		between := texts[i]
		mid := strings.TrimLeft(between, ")]}>")
		t.close[i-1] = between[:len(between)-len(mid)]
		sep := strings.TrimRight(mid, "([{<")
		t.sep[i], t.open[i] = sep, mid[len(sep):]
	}
	return t, nil
}
