// Package event gives fast, read-only access to one Segment event's JSON.
//
// A Doc validates the event once and, in the same pass, indexes its
// top-level keys and the keys of its top-level objects (traits, properties,
// context, ...). A compiled Path then finds its value by looking up those
// keys and running gjson only over what is left (a small value). Triggers
// and field mappings share one Doc per event, so no path scans the whole
// event twice.
package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/tidwall/gjson"
)

// Doc is one parsed event. The zero value is empty; fill it with Reset.
// A Doc is not safe for concurrent use; the engine uses one per evaluation.
type Doc struct {
	json string
	index
	lastTop int // 1 + the index in top of the member findTop found last; 0 for none
}

// index is what the scan records of an event: where its members are.
type index struct {
	top  []member
	sub  []member // the members of top-level objects; see member.sub
	keys []string // the keys that hold escapes, unescaped; see span
}

// member is one member of the event or of one of its top-level objects,
// as offsets into the event's text: the index holds no pointers, so
// recording it costs the garbage collector nothing.
type member struct {
	key span // the key's text, without its quotes
	raw span // the value's JSON text
	// sub and nsub locate the members of an object value in index.sub
	// (top-level members only; nsub is 0 for other values).
	sub, nsub int32
}

// span is the text json[start:end] of an event. A key that holds escapes
// is the span {-1-n, -2-n} instead (end < start): its unescaped text is
// index.keys[n].
type span struct{ start, end int32 }

// key returns m's key, unescaped.
func (d *Doc) key(m *member) string {
	if m.key.start < 0 {
		return d.keys[-1-m.key.start]
	}
	return d.json[m.key.start:m.key.end]
}

// raw returns the JSON text of m's value.
func (d *Doc) raw(m *member) string { return d.json[m.raw.start:m.raw.end] }

// Parse validates raw as a JSON object and returns its Doc. The Doc keeps a
// private copy of raw, so the caller may reuse its buffer.
func Parse(raw []byte) (*Doc, error) {
	d := new(Doc)
	if err := d.Reset(raw); err != nil {
		return nil, err
	}
	return d, nil
}

// Reset makes d hold the event raw (copied), reusing d's memory. One pass
// both validates the JSON and indexes the first two levels of keys. It
// fails, leaving d empty, if raw is not a valid JSON object.
func (d *Doc) Reset(raw []byte) error {
	return d.reset(string(raw), raw)
}

// ResetNoCopy is Reset without the copy: d, and every value taken from
// it, refers to raw's memory, so raw must not change while they are in use.
func (d *Doc) ResetNoCopy(raw []byte) error {
	return d.reset(unsafe.String(unsafe.SliceData(raw), len(raw)), raw)
}

func (d *Doc) reset(s string, raw []byte) error {
	d.json, d.lastTop = "", 0
	d.top, d.sub, d.keys = d.top[:0], d.sub[:0], d.keys[:0]
	if len(s) > math.MaxInt32 {
		return errors.New("larger than 2 GiB")
	}
	if !d.scanObject(s) {
		d.top, d.sub, d.keys = d.top[:0], d.sub[:0], d.keys[:0]
		if gjson.Valid(s) {
			return fmt.Errorf("a JSON %s, not an object", kindName(gjson.Parse(s)))
		}
		return invalidJSON(raw)
	}
	if err := CheckUTF8(raw); err != nil {
		d.top, d.sub, d.keys = d.top[:0], d.sub[:0], d.keys[:0]
		return err
	}
	d.json = s
	return nil
}

// CheckUTF8 refuses an event that is not valid UTF-8, saying where.
// JSON text is UTF-8 (RFC 8259 §8.1); a reader that replaced the bad
// bytes with U+FFFD, as gjson and encoding/json do, would make ids that
// differ only in them one id (two users would become one contact). The
// whole event is checked, not a list of id fields: the rules may take an
// id, an email or a company id from any field.
func CheckUTF8(raw []byte) error {
	if utf8.Valid(raw) {
		return nil
	}
	for i := 0; i < len(raw); {
		r, size := utf8.DecodeRune(raw[i:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Errorf("not valid Unicode text (UTF-8 broken at byte %d): refused rather than altered, as ids that differ only in such bytes would become one", i)
		}
		i += size
	}
	return nil
}

// Top returns the value of the top-level key name (the first one if
// repeated, as gjson paths do).
func (d *Doc) Top(name string) gjson.Result {
	if m := d.findTop(name); m != nil {
		return parse(d.raw(m))
	}
	return gjson.Result{}
}

// Value is a value found in a Doc: gjson's Result and, for an object
// whose members the Doc indexed (traits, properties, ...), those members,
// so that walking them needs no second scan.
type Value struct {
	gjson.Result
	doc     *Doc
	members []member
}

// IsEmpty reports whether r counts as no value: missing, null or "". A
// field, a template placeholder or an object key with such a value is
// left out, and a path's default takes its place.
func IsEmpty(r gjson.Result) bool {
	return !r.Exists() || r.Type == gjson.Null || (r.Type == gjson.String && r.Str == "")
}

// ValueOf wraps a Result that did not come from a Doc (a literal, a
// built object); its members are found by scanning its JSON text.
func ValueOf(r gjson.Result) Value { return Value{Result: r} }

// EachMember calls fn with each key (unescaped) and value (its JSON text)
// of an object value, in order, until fn returns false. It returns false
// if v is not an object.
func (v *Value) EachMember(fn func(key, raw string) bool) bool {
	if v.members == nil {
		return EachMember(v.Raw, fn)
	}
	for i := range v.members {
		m := &v.members[i]
		if !fn(v.doc.key(m), v.doc.raw(m)) {
			break
		}
	}
	return true
}

// Len returns the number of members of an object value the Doc indexed
// (traits, properties, ...), or -1 when it does not know them without a
// scan.
func (v *Value) Len() int {
	if v.members == nil {
		return -1
	}
	return len(v.members)
}

// Get returns the value at p, or a Value whose Exists() is false.
func (d *Doc) Get(p *Path) Value {
	if p.full {
		return Value{Result: gjson.Get(d.json, p.src)}
	}
	m := d.findTop(p.top)
	switch {
	case m == nil:
		return Value{}
	case p.rest == "":
		v := Value{Result: parse(d.raw(m))}
		if m.nsub > 0 {
			v.doc, v.members = d, d.sub[m.sub:m.sub+m.nsub]
		}
		return v
	case p.second == "" || m.nsub == 0:
		return Value{Result: gjson.Get(d.raw(m), p.rest)}
	}
	sub := d.sub[m.sub : m.sub+m.nsub]
	i := d.find(sub, p.second)
	if i < 0 {
		return Value{}
	}
	if p.rest2 == "" {
		return Value{Result: parse(d.raw(&sub[i]))}
	}
	return Value{Result: gjson.Get(d.raw(&sub[i]), p.rest2)}
}

// parse is gjson.Parse for a value the scan has validated: a string
// without escapes, an object or an array needs no second look.
func parse(raw string) gjson.Result {
	switch raw[0] {
	case '"':
		if str := raw[1 : len(raw)-1]; strings.IndexByte(str, '\\') < 0 {
			return gjson.Result{Type: gjson.String, Raw: raw, Str: str}
		}
	case '{', '[':
		return gjson.Result{Type: gjson.JSON, Raw: raw}
	}
	return gjson.Parse(raw)
}

// findTop is find over the top level. It remembers what it found last:
// the fields of a rule often read one object in turn (properties.email,
// properties, properties.revenue, ...).
func (d *Doc) findTop(key string) *member {
	if i := d.lastTop - 1; i >= 0 && d.has(&d.top[i], key) {
		return &d.top[i]
	}
	i := d.find(d.top, key)
	if i < 0 {
		return nil
	}
	d.lastTop = i + 1
	return &d.top[i]
}

// find returns the index of the first member called key (the first of a
// repeated key wins, as in gjson), or -1.
func (d *Doc) find(members []member, key string) int {
	for i := range members {
		if d.has(&members[i], key) {
			return i
		}
	}
	return -1
}

// has reports whether m's key is key. The usual key is compared only when
// the lengths agree, without making a string of every key on the way.
func (d *Doc) has(m *member, key string) bool {
	switch l := m.key.end - m.key.start; {
	case l == int32(len(key)):
		return d.json[m.key.start:m.key.end] == key
	case l < 0:
		return d.keys[-1-m.key.start] == key
	}
	return false
}

// invalidJSON explains why raw is not valid JSON, with the byte offset
// encoding/json reports (only called on the failure path).
func invalidJSON(raw []byte) error {
	if len(strings.TrimSpace(string(raw))) == 0 {
		return errors.New("empty")
	}
	var v any
	err := json.Unmarshal(raw, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("not valid JSON: %v (at byte %d)", se, se.Offset)
	}
	if err != nil {
		return fmt.Errorf("not valid JSON: %v", err)
	}
	return errors.New("not valid JSON")
}

func kindName(r gjson.Result) string {
	switch {
	case r.IsArray():
		return "array"
	case r.Type == gjson.String:
		return "string"
	case r.Type == gjson.Number:
		return "number"
	case r.Type == gjson.True, r.Type == gjson.False:
		return "boolean"
	case r.Type == gjson.Null:
		return "null"
	}
	return "value"
}

// Path is a compiled gjson path into an event.
type Path struct {
	src    string // the path as written
	top    string // first component, unescaped (when !full)
	rest   string // the remaining gjson path ("" for a top-level key)
	second string // rest's first component, unescaped, when it is a plain key
	rest2  string // what follows second ("" when second is the last)
	full   bool   // evaluate src against the whole event (modifiers, wildcards, ...)
}

// String returns the path as written.
func (p *Path) String() string { return p.src }

// CompilePath checks the gjson syntax of s and prepares it for fast lookups.
func CompilePath(s string) (*Path, error) {
	if err := checkSyntax(s); err != nil {
		return nil, err
	}
	p := &Path{src: s}
	top, rest, ok := splitFirst(s)
	if !ok {
		p.full = true
		return p, nil
	}
	p.top, p.rest = top, rest
	if second, rest2, ok := splitFirst(rest); ok && rest != "" {
		p.second, p.rest2 = second, rest2
	}
	return p, nil
}

// splitFirst splits a path into its first plain key (unescaped) and the rest.
// ok is false when the first component is not a plain key (a wildcard,
// modifier, query, multipath, array count or pipe), which needs full gjson.
func splitFirst(s string) (top, rest string, ok bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
			continue
		case '.':
			return b.String(), s[i+1:], b.Len() > 0
		case '*', '?', '#', '@', '|', '!', '[', ']', '{', '}', '(', ')', '=', '<', '>', '%', ',', ':':
			return "", "", false
		}
		b.WriteByte(c)
	}
	return b.String(), "", b.Len() > 0
}

// checkSyntax rejects what gjson would silently treat as "no match": empty
// paths and components, unbalanced brackets and quotes, unknown modifiers.
func checkSyntax(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("empty path")
	}
	var stack []byte
	inQuote := false
	compStart := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' {
			i++
			continue
		}
		if inQuote {
			if c == '"' {
				inQuote = false
			}
			continue
		}
		switch c {
		case '"':
			if len(stack) == 0 {
				return fmt.Errorf("unexpected '\"' at column %d (quotes belong inside a #(...) query)", i+1)
			}
			inQuote = true
		case '(', '[', '{':
			stack = append(stack, c)
		case ')', ']', '}':
			open := map[byte]byte{')': '(', ']': '[', '}': '{'}[c]
			if len(stack) == 0 || stack[len(stack)-1] != open {
				return fmt.Errorf("unbalanced %q at column %d", c, i+1)
			}
			stack = stack[:len(stack)-1]
		case '.', '|':
			if len(stack) > 0 {
				continue
			}
			if i == compStart {
				if i == 0 {
					return fmt.Errorf("path starts with %q", c)
				}
				return fmt.Errorf("empty component at column %d", i+1)
			}
			compStart = i + 1
		case '@':
			if len(stack) > 0 || i != compStart {
				continue
			}
			name := s[i+1:]
			if j := strings.IndexAny(name, ".|:"); j >= 0 {
				name = name[:j]
			}
			if !gjson.ModifierExists(name, nil) {
				return fmt.Errorf("unknown modifier @%s", name)
			}
		}
	}
	switch {
	case inQuote:
		return errors.New("unterminated quote")
	case len(stack) > 0:
		return fmt.Errorf("unclosed %q", stack[len(stack)-1])
	case compStart == len(s):
		return errors.New("path ends with an empty component")
	}
	return nil
}
