package intercom

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/intercom-actions/intercom-actions/engine/internal/swar"
)

// Object is a flat JSON object that keeps its keys in the event's order:
// custom attributes and event metadata. Values stay as their JSON text, so
// numbers are sent exactly as they came and nothing is re-encoded.
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
	return o.AppendJSON(make([]byte, 0, n)), nil
}

// AppendJSON appends the object's compact JSON to b: nested values (such
// as a {"url", "value"} taken from an event as written) lose their white
// space, as encoding/json would compact them.
func (o Object) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	for i, m := range o {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, m.Key)
		b = append(b, ':')
		b = appendCompact(b, m.Raw)
	}
	return append(b, '}')
}

// appendCompact appends the JSON text raw without insignificant white
// space. Only objects and arrays can hold any.
func appendCompact(b []byte, raw string) []byte {
	if raw == "" || (raw[0] != '{' && raw[0] != '[') || !strings.ContainsAny(raw, " \t\n\r") {
		return append(b, raw...)
	}
	buf := bytes.NewBuffer(b)
	if err := json.Compact(buf, []byte(raw)); err != nil {
		return append(b, raw...) // not JSON after all: as it is
	}
	return buf.Bytes()
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string, escaped exactly as encoding/json
// does with HTML escaping off: quotes, backslashes and control characters
// are escaped, U+2028 and U+2029 too, and invalid UTF-8 becomes U+FFFD.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Eight bytes at a time while they are plain ASCII that needs no
		// escape; the first byte that needs a look is found from the mask.
		for i+8 <= len(s) {
			x := swar.Load(s, i)
			if m := swar.Special(x) | swar.NonASCII(x); m != 0 {
				i += swar.FirstMarked(m)
				break
			}
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
