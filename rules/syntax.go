// Package rules is the rule-file format: YAML files of rules that name an
// Intercom action, a trigger and field mappings. It reads rule files into
// a positioned syntax (every value knows its file, line and column) and
// reports what is wrong with the YAML itself. What the rules mean — which
// actions and fields exist, whether triggers and paths compile, whether
// literals fit their fields — is checked when the engine compiles a Set
// (engine.Compile), with errors in the same positioned form.
//
// The package is pure: it knows no actions and does no I/O of its own. It
// reads rule files only through the fs.FS a caller gives it (LoadFS,
// ReadFS), or takes them in memory (Parse, ParseAll); its own embedded
// files are the default rules (Defaults) and the opt-in presets (Presets).
package rules

// Set is the rules of one or more files, in file order.
type Set struct {
	Rules []*Rule
	// Errors are the syntax problems found while reading; the rules they
	// concern may be missing or incomplete. A compiler reports them with
	// its own, so that every problem is shown at once.
	Errors ErrorList
}

// Rule is one rule as written.
type Rule struct {
	Name        string
	Description string
	Action      *Text // the action's name; nil when missing
	Trigger     *Expr // nil: the action's preset trigger
	Enabled     bool
	// DefaultFields is false when the rule starts from no fields instead
	// of the action's default paths.
	DefaultFields bool
	Fields        []*Mapping // in written order
	Pos           Pos        // where the rule starts
	NamePos       Pos        // where its name is written
	FieldsPos     Pos        // the `fields:` key, or Pos when there is none
}

// Text is a string and where it was written.
type Text struct {
	Value string
	Pos   Pos
	// spots are where each rune of Value is written in the file; nil when
	// that is not known (and offsets into Value are reported at Pos).
	spots []spot
}

// spot is the line and column where one rune of a value is written.
type spot struct{ line, col int }

// At returns the position of the character at offset in the text, on the
// line and at the column it is written even when YAML folded lines or
// decoded escapes; Pos when that is not known, or for a negative offset.
func (t *Text) At(offset int) Pos { return at(t.Pos, t.spots, offset) }

// at is the position of the rune at offset in a value written at p, each
// of whose runes is written at spots; just after the last for an offset
// past the end.
func at(p Pos, spots []spot, offset int) Pos {
	switch {
	case offset < 0 || len(spots) == 0:
	case offset < len(spots):
		p.Line, p.Column = spots[offset].line, spots[offset].col
	default:
		last := spots[len(spots)-1]
		p.Line, p.Column = last.line, last.col+1+offset-len(spots)
	}
	return p
}

// Expr is a trigger expression and where it was written.
type Expr struct {
	Source string
	Pos    Pos    // where the YAML value starts (at its quote or its > or |)
	spots  []spot // where each rune of Source is written; nil when unknown
}

// At returns the position of the character at offset in the expression,
// as Text.At does.
func (e *Expr) At(offset int) Pos { return at(e.Pos, e.spots, offset) }

// Mapping is one entry of a rule's `fields:`, `name: value`, in one of its
// forms: a path (a bare string, or {path, default}), {value}, {template},
// {md5}, {map} (an object of per-key mappings, which may go with a path),
// or null to leave the field out. A path or map may also say which keys to
// leave out (except), how to send nested values (flatten, lists, nested)
// and which metadata keys matter most (keep). A mapping in none of the
// forms was malformed; its error is in Set.Errors.
type Mapping struct {
	Field    string   // the field's name; in Map, the key's
	Pos      Pos      // where the field's name (or the key) is written
	Unset    bool     // `name: ~` or {value: null}: leave the field out
	Path     *Text    // a gjson path into the event
	Default  *Literal // with Path: the value when the path finds nothing
	Value    *Literal // a constant
	Template *Text    // text with {{path}} placeholders
	// Map holds one mapping per key of an object field, in written order
	// ({map: {company_name: traits.company.name}}); each is a path,
	// {path, default}, {value} or {template}. With Path, its keys are
	// added to (or replace those of) the object the path finds.
	Map    []*Mapping
	MapPos Pos // where `map:` is written
	// Except lists top-level keys left out of the object Path finds.
	Except []*Text
	// Flatten joins the keys of nested objects with this separator
	// (address.city becomes address_city with "_"); nil: no flattening.
	// Intercom's own metadata objects (a price, a rich link) stay whole.
	Flatten *Text
	// Lists says what an object field does with lists: "index" sends
	// their items as key_0, key_1, ...; nil drops them.
	Lists *Text
	// Nested says what an object field does with the objects and lists it
	// still holds: "stringify" sends them as JSON text; nil drops them.
	Nested *Text
	// Keep orders the keys of metadata for Intercom's 10-key limit: these
	// keys (or the keys flattened from them) first, in this order.
	Keep    []*Text
	KeepPos Pos // where `keep:` is written
	// MD5 is a path whose value's text is sent as the lowercase hex of its
	// MD5 ({md5: traits.company.name}, as RudderStack makes company ids).
	MD5 *Text
	// DefaultMD5, with Path: when the path finds nothing, the MD5 of this
	// path's value ({path: traits.company.id, default: {md5: traits.company.name}}).
	DefaultMD5 *Text
}

// Literal is a constant as written, decoded from YAML into JSON-shaped Go
// values (string, float64/int, bool, []any, map[string]any).
type Literal struct {
	Value any
	Pos   Pos
}

// Overlay layers the rules of top over those of base (the defaults, say):
// a rule of top named like a rule of base replaces it, in base's place;
// top's other rules follow base's, in their order. The errors of both are
// kept. replaced lists the names of base's rules that top replaced.
func Overlay(base, top *Set) (set *Set, replaced []string) {
	byName := map[string]*Rule{}
	for _, r := range top.Rules {
		if _, dup := byName[r.Name]; !dup {
			byName[r.Name] = r
		}
	}
	out := &Set{Errors: append(append(ErrorList(nil), base.Errors...), top.Errors...)}
	used := map[*Rule]bool{}
	for _, r := range base.Rules {
		if t, ok := byName[r.Name]; ok && !used[t] {
			out.Rules = append(out.Rules, t)
			used[t] = true
			replaced = append(replaced, r.Name)
			continue
		}
		out.Rules = append(out.Rules, r)
	}
	for _, r := range top.Rules {
		if !used[r] {
			out.Rules = append(out.Rules, r)
		}
	}
	return out, replaced
}
