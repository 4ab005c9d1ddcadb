package rules

import "strconv"

// Object is a flat JSON object that keeps its keys in the event's order:
// the converted form of attributes and metadata. Values stay as their JSON
// text, so numbers are sent exactly as they came and nothing is re-encoded.
type Object []Member

// Member is one key of an Object and its value's JSON text.
type Member struct {
	Key string
	Raw string
}

// Get returns the JSON text of key's value.
func (o Object) Get(key string) (string, bool) {
	for _, m := range o {
		if m.Key == key {
			return m.Raw, true
		}
	}
	return "", false
}

// Delete removes key, keeping the order of the others.
func (o *Object) Delete(key string) {
	out := (*o)[:0]
	for _, m := range *o {
		if m.Key != key {
			out = append(out, m)
		}
	}
	*o = out
}

// Set replaces key's value, or appends it.
func (o *Object) Set(key, raw string) {
	for i := range *o {
		if (*o)[i].Key == key {
			(*o)[i].Raw = raw
			return
		}
	}
	*o = append(*o, Member{Key: key, Raw: raw})
}

// MarshalJSON writes the members in order.
func (o Object) MarshalJSON() ([]byte, error) {
	n := 2
	for _, m := range o {
		n += len(m.Key) + len(m.Raw) + 4
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, m := range o {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, m.Key)
		b = append(b, ':')
		b = append(b, m.Raw...)
	}
	return append(b, '}'), nil
}
