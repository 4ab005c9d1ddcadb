// Package action declares the Intercom actions a rule can name. Each action
// is one unit, one file here: a Spec that says everything about it — its
// fields (type, required, Segment's default path, docs, lookup or body),
// the typed struct a planned action carries, its pure finishing step, the
// contact it concerns, and its call sequence against intercom.API.
// Validation, defaults, conversion, the README reference, routing, parking
// and execution all derive from that declaration; adding an action is adding
// one file that calls Register, and its golden cases.
//
// Declaring and planning are pure. Execute runs a planned action's call
// sequence, doing I/O only through the intercom.API it is given.
package action

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unsafe"
)

// Kind is one registered Intercom action: the type-erased form of its Spec.
// Its exported fields are for reading; build a Kind only with Register.
type Kind struct {
	Name    string   // as written in rule files, e.g. "identify_contact"
	Title   string   // Segment's name for it, e.g. "Identify Contact"
	Trigger string   // Segment's preset trigger; "" when a rule must give one
	Doc     string   // what it does, for the reference
	Calls   string   // its Intercom call sequence, for the reference
	Fields  []*Field // in table order
	// Identifies is true when a success makes its contact known to
	// Intercom, so actions waiting for that contact can go.
	Identifies bool

	byJSON  []*Field // Fields sorted by name: the order of the JSON form
	id      int      // registration order: its fields structs' place in an Arena
	newFn   func(*Arena) any
	finish  func(fields any, warn func(string)) error
	contact func(fields any) Contact
	run     func(ctx context.Context, c *Call, fields any) error
	// mergeKey, if set, is the key under which Merges merges the action's
	// first call with those of others; "" when it does not.
	mergeKey func(fields any) string
	slots    []slot                          // where fields hold strings; see Detach
	pointer  func(fields any) unsafe.Pointer // fields' *T
}

// Spec declares an action whose planned fields are the struct T. Fields are
// made with the typed constructors (StringField, DatetimeField, ...), which
// bind each field to where it lives in T.
type Spec[T any] struct {
	Name, Title, Trigger, Doc, Calls string
	Fields                           []FieldOf[T]
	// Finish applies what Intercom requires of the action beyond converting
	// each field on its own (pure). warn adds a warning to the plan; an error
	// fails the rule for this event. Optional.
	Finish func(a *T, warn func(string)) error
	// Contact names the contact the action concerns: the dispatcher routes,
	// parks and wakes the action by it.
	Contact func(a *T) Contact
	// Identifies: see Kind.Identifies.
	Identifies bool
	// Run is the call sequence. It records the ids it acted on in c.Result.
	Run func(ctx context.Context, c *Call, a *T) error
	// MergeKey, if set, says that the first call of actions of this kind
	// with the same key ("" for none) can be one call carrying them all,
	// merged in input order: Run then sends that call through c's Merges
	// (see Merges and Call.Merged). Optional.
	MergeKey func(a *T) string
}

var kinds = map[string]*Kind{}

// Register adds the action s declares and returns its Kind. It panics on a
// second action of the same name or on a broken declaration: both are
// programming errors that any test run catches at start-up.
func Register[T any](s Spec[T]) *Kind {
	if s.Name == "" || s.Run == nil || s.Contact == nil {
		panic(fmt.Sprintf("action: %q needs a Name, Contact and Run", s.Name))
	}
	if _, dup := kinds[s.Name]; dup {
		panic(fmt.Sprintf("action: %q registered twice", s.Name))
	}
	id := len(kinds)
	k := &Kind{
		Name: s.Name, Title: s.Title, Trigger: s.Trigger, Doc: s.Doc, Calls: s.Calls,
		Identifies: s.Identifies,
		id:         id,
		newFn:      func(a *Arena) any { return newFields[T](a, id) },
		contact:    func(f any) Contact { return s.Contact(f.(*T)) },
		run:        func(ctx context.Context, c *Call, f any) error { return s.Run(ctx, c, f.(*T)) },
		slots:      slotsOf(reflect.TypeFor[T](), reflect.TypeFor[T]().String()),
		pointer:    func(f any) unsafe.Pointer { return unsafe.Pointer(f.(*T)) },
	}
	if s.MergeKey != nil {
		k.mergeKey = func(f any) string { return s.MergeKey(f.(*T)) }
	}
	if s.Finish != nil {
		k.finish = func(f any, warn func(string)) error { return s.Finish(f.(*T), warn) }
	}
	seen := map[string]bool{}
	for _, f := range s.Fields {
		if seen[f.Name] {
			panic(fmt.Sprintf("action: %s: field %q declared twice", s.Name, f.Name))
		}
		seen[f.Name] = true
		k.Fields = append(k.Fields, f.Field)
	}
	k.byJSON = slices.Clone(k.Fields)
	slices.SortFunc(k.byJSON, func(a, b *Field) int { return strings.Compare(a.Name, b.Name) })
	kinds[s.Name] = k
	return k
}

// Lookup returns the action called name.
func Lookup(name string) (*Kind, bool) {
	k, ok := kinds[name]
	return k, ok
}

// Kinds returns every registered action, by name.
func Kinds() []*Kind {
	out := make([]*Kind, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b *Kind) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Names returns the names of every registered action, sorted.
func Names() []string {
	var names []string
	for _, k := range Kinds() {
		names = append(names, k.Name)
	}
	return names
}

// Field returns the action's field called name.
func (k *Kind) Field(name string) (*Field, bool) {
	for _, f := range k.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return nil, false
}

// FieldNames lists the action's field names in table order.
func (k *Kind) FieldNames() []string {
	names := make([]string, len(k.Fields))
	for i, f := range k.Fields {
		names[i] = f.Name
	}
	return names
}

// New returns an empty fields struct of the action (a *T of its Spec).
func (k *Kind) New() any { return k.newFn(nil) }

// NewIn is New, the struct taken from mem (nil: the heap).
func (k *Kind) NewIn(mem *Arena) any { return k.newFn(mem) }

// Finish applies the action's finishing step to fields (a *T from New),
// adding its warnings through warn.
func (k *Kind) Finish(fields any, warn func(string)) error {
	if k.finish == nil {
		return nil
	}
	return k.finish(fields, warn)
}

// String returns the action's name.
func (k *Kind) String() string { return k.Name }

// Action is one planned Intercom action: what a matching rule produced for
// an event, with its fields converted to what Intercom accepts. Its JSON
// form is {"rule", "action" (the name), "fields" (those set, by name),
// "warnings"}.
type Action struct {
	Rule string // the rule's name
	Kind *Kind  // which action
	// Fields is a pointer to the action's fields struct, e.g. *TrackEvent.
	Fields   any
	Warnings []string
}

// actionJSON is the JSON form of an Action.
type actionJSON struct {
	Rule     string          `json:"rule"`
	Action   string          `json:"action"`
	Fields   json.RawMessage `json:"fields"`
	Warnings []string        `json:"warnings,omitempty"`
}

// MarshalJSON writes the action's JSON form.
func (a Action) MarshalJSON() ([]byte, error) {
	if a.Kind == nil {
		return nil, errors.New("action: no kind")
	}
	fields, _ := a.Kind.MarshalFields(a.Fields)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // as the fields are: "<" stays "<"
	if err := enc.Encode(actionJSON{a.Rule, a.Kind.Name, fields, a.Warnings}); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Contact returns the contact the action concerns.
func (a *Action) Contact() Contact { return a.Kind.contact(a.Fields) }

// Contact names an Intercom contact in the ways an action can: by your
// external_id, by email, or by Intercom's id. A dispatcher routes an
// action by it, parks the action on it while the contact does not exist
// yet, and wakes it when an identify announces one of its keys.
type Contact struct {
	ExternalID string
	Email      string
	ID         string
}

// Keys lists the contact's keys: "user:<external_id>", "email:<email>"
// (lower-cased) and "id:<id>", for those it has. The first is the one to
// route by.
func (c Contact) Keys() []string {
	var keys []string
	if c.ExternalID != "" {
		keys = append(keys, "user:"+c.ExternalID)
	}
	if c.Email != "" {
		keys = append(keys, "email:"+strings.ToLower(c.Email))
	}
	if c.ID != "" {
		keys = append(keys, "id:"+c.ID)
	}
	return keys
}

// Key returns the contact's first key, or "" when it names none.
func (c Contact) Key() string {
	switch {
	case c.ExternalID != "":
		return "user:" + c.ExternalID
	case c.Email != "":
		return "email:" + strings.ToLower(c.Email)
	case c.ID != "":
		return "id:" + c.ID
	}
	return ""
}
