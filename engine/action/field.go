package action

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/tidwall/gjson"

	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/internal/event"
)

// Type says what a field holds and how a mapped value is converted into
// what Intercom accepts.
type Type string

// The field types. Each names one conversion (see convert.go).
const (
	// TypeString: strings as they are; numbers and booleans as their JSON text.
	TypeString Type = "string"
	// TypeEnum: a string that must be one of the field's Enum values.
	TypeEnum Type = "enum"
	// TypeNumber: a JSON number, or a string holding one.
	TypeNumber Type = "number"
	// TypeInteger: a whole JSON number, or a string holding one.
	TypeInteger Type = "integer"
	// TypeBoolean: true/false, or the strings "true"/"false".
	TypeBoolean Type = "boolean"
	// TypeDatetime: ISO-8601/RFC 3339 text, Unix seconds or Unix
	// milliseconds, sent as Unix seconds.
	TypeDatetime Type = "datetime"
	// TypeAttributes: a flat object; nested objects and arrays are dropped
	// with a warning (Intercom custom attributes take only flat values).
	TypeAttributes Type = "attributes"
	// TypeMetadata: like TypeAttributes, but also keeps Intercom's rich-link
	// {url, value} and monetary {amount, currency} objects.
	TypeMetadata Type = "metadata"
	// TypeStrings: a string, or a list of them; numbers and booleans
	// become their JSON text, empty and repeated items are left out and
	// other items (objects, lists) dropped with a warning.
	TypeStrings Type = "strings"
)

// IsObject reports whether values of the type are JSON objects.
func (t Type) IsObject() bool { return t == TypeAttributes || t == TypeMetadata }

// Field is one field of an action: the single source of truth for its
// validation, Segment's default mapping, conversion, JSON form and
// reference entry. Make one with a typed constructor such as StringField.
type Field struct {
	Name     string
	Type     Type
	Required bool     // the mapped value must be present, or the rule fails
	Default  string   // Segment's default gjson path; "" for none
	Enum     []string // allowed values, for TypeEnum
	Lookup   bool     // finds the contact; not sent as an attribute
	Doc      string   // one line for the reference

	// assign converts a value and stores it in a fields struct, taking what
	// it keeps beyond the value's own text from mem.
	assign func(fields any, v *event.Value, warn func(string), mem *Arena) (ok bool, err error)
	// check converts a value without storing it (for literals at compile time).
	check func(v *event.Value, warn func(string)) error
	// appendJSON appends the field's value from a fields struct, if set.
	appendJSON func(b []byte, fields any) ([]byte, bool)
	// lastDrop is the last warning that the field dropped a key; see dropped.
	lastDrop atomic.Pointer[drop]
	// key is the field's name as a JSON object key, with its colon.
	key string
}

// newField makes the Field name of type t, its converters to be set.
func newField(name string, t Type) *Field {
	return &Field{Name: name, Type: t, key: string(appendString(nil, name)) + ":"}
}

// Assign converts v for the field and stores it in fields (a *T of the
// field's action). ok is false when the field is left out: v is missing,
// null or "", or it cannot be converted (then err says why). warn is told
// of parts of v that were dropped. What the field keeps beyond v's text
// (an object's members, a number) comes from mem; nil is the heap.
func (f *Field) Assign(fields any, v *event.Value, warn func(string), mem *Arena) (ok bool, err error) {
	if event.IsEmpty(v.Result) {
		return false, nil
	}
	return f.assign(fields, v, warn, mem)
}

// Check reports whether v converts cleanly for the field: the error, or
// the warnings, it would give.
func (f *Field) Check(v gjson.Result) (warnings []string, err error) {
	if event.IsEmpty(v) {
		return nil, nil
	}
	ev := event.ValueOf(v)
	err = f.check(&ev, func(w string) { warnings = append(warnings, w) })
	return warnings, err
}

// FieldOf is a Field bound to the fields struct T of one action. Its
// methods set the rest of the declaration and return it, so a field reads
// as one line: StringField("email", ...).Default("traits.email").Doc("...").
type FieldOf[T any] struct{ *Field }

// Required marks the field as required: without a value the rule fails.
func (f FieldOf[T]) Required() FieldOf[T] { f.Field.Required = true; return f }

// Default sets Segment's default gjson path.
func (f FieldOf[T]) Default(path string) FieldOf[T] { f.Field.Default = path; return f }

// Lookup marks the field as one that finds the contact, not an attribute.
func (f FieldOf[T]) Lookup() FieldOf[T] { f.Field.Lookup = true; return f }

// Doc sets the field's line in the reference.
func (f FieldOf[T]) Doc(doc string) FieldOf[T] { f.Field.Doc = doc; return f }

// bind makes a field of type t whose converted values of Go type V are
// stored by set and read back by get (ok false when unset).
func bind[T, V any](name string, t Type, conv func(*Field, *event.Value, func(string), *Arena) (V, error),
	set func(*T, V, *Arena), appendV func([]byte, *T) ([]byte, bool)) FieldOf[T] {
	f := newField(name, t)
	f.assign = func(fields any, v *event.Value, warn func(string), mem *Arena) (bool, error) {
		out, err := conv(f, v, warn, mem)
		if err != nil {
			return false, err
		}
		set(fields.(*T), out, mem)
		return true, nil
	}
	f.check = func(v *event.Value, warn func(string)) error {
		_, err := conv(f, v, warn, nil)
		return err
	}
	f.appendJSON = func(b []byte, fields any) ([]byte, bool) { return appendV(b, fields.(*T)) }
	return FieldOf[T]{f}
}

// StringField declares a text field stored at *at(fields); "" is unset.
func StringField[T any](name string, at func(*T) *string) FieldOf[T] {
	return bind(name, TypeString, plain(toString), func(t *T, v string, _ *Arena) { *at(t) = v }, appendStr(at))
}

// EnumField declares a text field that must be one of values.
func EnumField[T any](name string, at func(*T) *string, values ...string) FieldOf[T] {
	f := bind(name, TypeEnum, func(_ *Field, v *event.Value, _ func(string), _ *Arena) (string, error) {
		return toEnum(v.Result, values)
	}, func(t *T, v string, _ *Arena) { *at(t) = v }, appendStr(at))
	f.Enum = values
	return f
}

// NumberField declares a number field, kept as written; "" is unset.
func NumberField[T any](name string, at func(*T) *json.Number) FieldOf[T] {
	return bind(name, TypeNumber, plain(toNumber), func(t *T, v json.Number, _ *Arena) { *at(t) = v },
		func(b []byte, t *T) ([]byte, bool) {
			n := *at(t)
			return append(b, n...), n != ""
		})
}

// IntegerField declares a whole-number field; nil is unset.
func IntegerField[T any](name string, at func(*T) **int64) FieldOf[T] {
	return bind(name, TypeInteger, plain(toInteger), func(t *T, v int64, mem *Arena) { *at(t) = mem.copyInt64(v) }, appendInt(at))
}

// DatetimeField declares a date-time field, stored as Unix seconds; nil is unset.
func DatetimeField[T any](name string, at func(*T) **int64) FieldOf[T] {
	return bind(name, TypeDatetime, plain(toUnixSeconds), func(t *T, v int64, mem *Arena) { *at(t) = mem.copyInt64(v) }, appendInt(at))
}

// BooleanField declares a true/false field; nil is unset.
func BooleanField[T any](name string, at func(*T) **bool) FieldOf[T] {
	return bind(name, TypeBoolean, plain(toBool), func(t *T, v bool, mem *Arena) { *at(t) = mem.copyBool(v) },
		func(b []byte, t *T) ([]byte, bool) {
			p := *at(t)
			if p == nil {
				return b, false
			}
			return strconv.AppendBool(b, *p), true
		})
}

// AttributesField declares a flat-object field (custom attributes); nil is unset.
func AttributesField[T any](name string, at func(*T) *intercom.Object) FieldOf[T] {
	return bind(name, TypeAttributes, toFlatObject, func(t *T, v intercom.Object, _ *Arena) { *at(t) = v }, appendObject(at))
}

// MetadataField declares an event-metadata field; nil is unset.
func MetadataField[T any](name string, at func(*T) *intercom.Object) FieldOf[T] {
	return bind(name, TypeMetadata, toFlatObject, func(t *T, v intercom.Object, _ *Arena) { *at(t) = v }, appendObject(at))
}

// StringsField declares a field of one or more texts, given as a string or
// a list; nil is unset. A list with no text in it leaves the field out (a
// required field then fails, as when it is missing).
func StringsField[T any](name string, at func(*T) *[]string) FieldOf[T] {
	f := newField(name, TypeStrings)
	f.assign = func(fields any, v *event.Value, warn func(string), _ *Arena) (bool, error) {
		out, err := toStrings(f, v.Result, warn)
		if err != nil || len(out) == 0 {
			return false, err
		}
		*at(fields.(*T)) = out
		return true, nil
	}
	f.check = func(v *event.Value, warn func(string)) error {
		_, err := toStrings(f, v.Result, warn)
		return err
	}
	f.appendJSON = func(b []byte, fields any) ([]byte, bool) {
		list := *at(fields.(*T))
		if list == nil {
			return b, false
		}
		b = append(b, '[')
		for i, s := range list {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		return append(b, ']'), true
	}
	return FieldOf[T]{f}
}

// plain adapts a conversion that gives no warnings.
func plain[V any](conv func(gjson.Result) (V, error)) func(*Field, *event.Value, func(string), *Arena) (V, error) {
	return func(_ *Field, v *event.Value, _ func(string), _ *Arena) (V, error) {
		return conv(v.Result)
	}
}

func appendStr[T any](at func(*T) *string) func([]byte, *T) ([]byte, bool) {
	return func(b []byte, t *T) ([]byte, bool) {
		s := *at(t)
		if s == "" {
			return b, false
		}
		return appendString(b, s), true
	}
}

func appendInt[T any](at func(*T) **int64) func([]byte, *T) ([]byte, bool) {
	return func(b []byte, t *T) ([]byte, bool) {
		p := *at(t)
		if p == nil {
			return b, false
		}
		return strconv.AppendInt(b, *p, 10), true
	}
}

func appendObject[T any](at func(*T) *intercom.Object) func([]byte, *T) ([]byte, bool) {
	return func(b []byte, t *T) ([]byte, bool) {
		o := *at(t)
		if o == nil {
			return b, false
		}
		return o.AppendJSON(b), true
	}
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte { return intercom.AppendString(b, s) }

// MarshalFields writes fields (a *T of the action) as a JSON object of
// the fields set, by name.
func (k *Kind) MarshalFields(fields any) ([]byte, error) {
	return k.AppendFields(make([]byte, 0, 256), fields), nil
}

// AppendFields appends the JSON form of fields (see MarshalFields) to b.
func (k *Kind) AppendFields(b []byte, fields any) []byte {
	b = append(b, '{')
	n := len(b)
	for _, f := range k.byJSON {
		mark := len(b)
		if len(b) > n {
			b = append(b, ',')
		}
		b = append(b, f.key...)
		var ok bool
		if b, ok = f.appendJSON(b, fields); !ok {
			b = b[:mark]
		}
	}
	return append(b, '}')
}

// drop is a warning that a field dropped the key key, for the reason why.
type drop struct{ key, why, text string }

// dropped is the warning that the field left out key, and why. The events
// of one source drop the same keys over and over (a nested "variant" in
// every product), so the last warning made is given again rather than
// made anew for every event.
func (f *Field) dropped(key, why string) string {
	if d := f.lastDrop.Load(); d != nil && d.key == key && d.why == why {
		return d.text
	}
	d := &drop{key: strings.Clone(key), why: why, text: dropped(f.Name, key, why)} // key may lie in the event
	f.lastDrop.Store(d)
	return d.text
}
