package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/intercom"
	"github.com/intercom-actions/intercom-actions/engine/internal/event"
)

// object builds the value of an object field (custom attributes, event
// metadata) from the forms a rule can combine:
//
//	{path: traits, except: [email, name]}     everything under a path but some keys
//	{map: {company_name: traits.company.name}} one mapping per key
//	{path: traits, map: {...}}                 the path's object, keys added or replaced
//	flatten: "_"                               nested objects as address_city
//	lists: index                               list items as tags_0, tags_1
//	nested: stringify                          what is still nested, as JSON text
//	keep: [order_id, total]                    these metadata keys first
//
// Keys whose value is missing, null or "" are left out; when no key is
// left, so is the field. What is left goes through the field's conversion
// (flat values only, metadata's 10 keys).
type object struct {
	field     string          // the field's name, for warnings
	base      *value          // the path (with its default), or nil
	except    map[string]bool // top-level keys of base left out
	entries   []entry         // map, in written order
	sep       string          // flatten's separator; "" for no flattening
	index     bool            // lists: index
	listSep   string          // joins a list's key and an item's index: sep, or "_"
	stringify bool            // nested: stringify
	rich      bool            // metadata: Intercom's price and rich-link objects stay whole
	keep      []string        // keep: these keys (and those flattened from them) first
}

// entry is one key of a map and its value.
type entry struct {
	key   string
	value *value
}

// maxFlattenDepth bounds how deep flatten goes; deeper objects are left to
// the conversion, which drops them with a warning.
const maxFlattenDepth = 8

func (o *object) eval(doc *event.Doc, warn func(string)) gjson.Result {
	var out intercom.Object
	if o.base != nil {
		v := o.base.eval(doc, discard)
		r := v.Result
		switch {
		case r.IsObject():
			r.ForEach(func(k, v gjson.Result) bool {
				if !o.except[k.Str] {
					o.add(&out, k.Str, v, 0, warn)
				}
				return true
			})
		case event.IsEmpty(r):
		case len(o.entries) == 0:
			return r // not an object: the conversion says so
		default:
			warn(fmt.Sprintf("%s: %s is not an object; only the keys of map are sent", o.field, o.base.source))
		}
	}
	for _, e := range o.entries {
		v := e.value.eval(doc, discard)
		r := v.Result
		switch {
		case event.IsEmpty(r):
		case o.expands(r):
			// The key's own object replaces what the path gave under it.
			kept := out[:0]
			for _, m := range out {
				if !o.keeps(e.key, m.Key) {
					kept = append(kept, m)
				}
			}
			out = kept
			o.add(&out, e.key, r, 0, warn)
		default:
			out.Set(e.key, rawJSON(o.leaf(r)))
		}
	}
	if len(out) == 0 {
		return gjson.Result{}
	}
	if len(o.keep) > 0 {
		out = o.order(out)
	}
	return gjson.Parse(string(out.AppendJSON(nil)))
}

// order puts the keys keep names first, in keep's order, and the others
// after them in their order: Intercom keeps the first 10 metadata keys.
func (o *object) order(out intercom.Object) intercom.Object {
	sorted := make(intercom.Object, 0, len(out))
	taken := make([]bool, len(out))
	for _, k := range o.keep {
		for i, m := range out {
			if !taken[i] && o.keeps(k, m.Key) {
				sorted = append(sorted, m)
				taken[i] = true
			}
		}
	}
	for i, m := range out {
		if !taken[i] {
			sorted = append(sorted, m)
		}
	}
	return sorted
}

// keeps reports whether the keep entry k names key: the key itself, or
// one flattened from it (order names order_id).
func (o *object) keeps(k, key string) bool {
	if key == k {
		return true
	}
	return len(key) > len(k) && key[:len(k)] == k &&
		(o.sep != "" && strings.HasPrefix(key[len(k):], o.sep) || o.index && strings.HasPrefix(key[len(k):], o.listSep))
}

// expands reports whether v is spread into keys of its own: an object
// flattened (but not one of Intercom's metadata objects), a list indexed.
func (o *object) expands(v gjson.Result) bool {
	switch {
	case v.IsObject():
		return o.sep != "" && !(o.rich && action.RichObject(v))
	case v.IsArray():
		return o.index
	}
	return false
}

// leaf is the value sent for v under one key, when it is not spread:
// what is still nested as JSON text with nested: stringify, except
// Intercom's own metadata objects (a price, a rich link), sent whole.
func (o *object) leaf(v gjson.Result) gjson.Result {
	if o.stringify && (v.IsArray() || v.IsObject() && !(o.rich && action.RichObject(v))) {
		return jsonText(v)
	}
	return v
}

// add adds key: v to out, spreading v when the object says to.
func (o *object) add(out *intercom.Object, key string, v gjson.Result, depth int, warn func(string)) {
	if event.IsEmpty(v) {
		return
	}
	if depth < maxFlattenDepth && o.expands(v) {
		if v.IsObject() {
			v.ForEach(func(k, x gjson.Result) bool {
				o.add(out, key+o.sep+k.Str, x, depth+1, warn)
				return true
			})
			return
		}
		i := 0
		v.ForEach(func(_, x gjson.Result) bool {
			o.add(out, key+o.listSep+strconv.Itoa(i), x, depth+1, warn)
			i++
			return true
		})
		return
	}
	if _, dup := out.Get(key); dup {
		warn(fmt.Sprintf("%s: %q given twice after flattening (kept the first)", o.field, key))
		return
	}
	*out = append(*out, intercom.Member{Key: key, Raw: rawJSON(o.leaf(v))})
}

// jsonText is the compact JSON text of an object or list, as a string.
func jsonText(v gjson.Result) gjson.Result {
	var b bytes.Buffer
	if json.Compact(&b, []byte(v.Raw)) != nil {
		b.Reset()
		b.WriteString(v.Raw)
	}
	return gjson.Result{Type: gjson.String, Str: b.String()}
}

// rawJSON is r's JSON text; a template's result has none of its own.
func rawJSON(r gjson.Result) string {
	if r.Raw == "" && r.Type == gjson.String {
		return string(intercom.AppendString(nil, r.Str))
	}
	return r.Raw
}

// badKeyChars are the characters Intercom does not take in the name of a
// custom attribute or a metadata key.
const badKeyChars = ".$~`!@#%^&*'{}|\\\""

// checkKey says why Intercom would not take key as an attribute name.
func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("empty key")
	}
	if i := strings.IndexAny(key, badKeyChars); i >= 0 {
		return fmt.Errorf("Intercom does not take %q in attribute names", key[i:i+1])
	}
	return nil
}
