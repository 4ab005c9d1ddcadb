package event

import (
	"strings"

	"github.com/tidwall/gjson"

	"github.com/intercom-actions/intercom-actions/engine/internal/swar"
)

// A one-pass JSON validator that also records the top-level members of an
// object. It accepts exactly what encoding/json's Valid accepts (the fuzz
// test holds it to that) and is the only full pass over an event.

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 512

// plain marks the bytes a string can hold without a closer look.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanObject validates s as one JSON object (with optional surrounding
// white space) and records its members in x.top. The members of a member
// whose value is itself an object (traits, properties, context) go to
// x.sub, and that member records where they are: the second level is
// indexed in the same pass, so a path such as properties.plan, or all of
// properties, needs no second scan. The caller ensures len(s) fits in an
// int32.
func (x *index) scanObject(s string) bool {
	i := skipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return false
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return skipSpace(s, i+1) == len(s)
	}
	for {
		key, next, ok := x.scanKey(s, i)
		if !ok {
			return false
		}
		i = next
		m := member{key: key}
		if i < len(s) && s[i] == '{' {
			m.sub = int32(len(x.sub))
			if i, ok = x.scanMembers(s, i); !ok {
				return false
			}
			m.nsub = int32(len(x.sub)) - m.sub
		} else if i, ok = scanValue(s, i, 1); !ok {
			return false
		}
		m.raw = span{int32(next), int32(i)}
		x.top = append(x.top, m)
		i = skipSpace(s, i)
		if i >= len(s) {
			return false
		}
		switch s[i] {
		case ',':
			i = skipSpace(s, i+1)
		case '}':
			return skipSpace(s, i+1) == len(s)
		default:
			return false
		}
	}
}

// scanKey reads the key at s[i] and the colon after it; next is where the
// value starts. A key that holds escapes is unescaped into x.keys.
func (x *index) scanKey(s string, i int) (key span, next int, ok bool) {
	if i >= len(s) || s[i] != '"' {
		return span{}, i, false
	}
	ks := i
	var escaped bool
	if i, ok, escaped = scanString(s, i); !ok {
		return span{}, i, false
	}
	key = span{int32(ks + 1), int32(i - 1)}
	if escaped {
		x.keys = append(x.keys, unquote(s[ks:i]))
		key = span{int32(-len(x.keys)), int32(-len(x.keys) - 1)}
	}
	i = skipSpace(s, i)
	if i >= len(s) || s[i] != ':' {
		return span{}, i, false
	}
	return key, skipSpace(s, i+1), true
}

// scanMembers validates the second-level object starting at s[i] and
// records its members in x.sub.
func (x *index) scanMembers(s string, i int) (int, bool) {
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return i + 1, true
	}
	for {
		key, next, ok := x.scanKey(s, i)
		if !ok {
			return next, false
		}
		if i, ok = scanValue(s, next, 2); !ok {
			return i, false
		}
		x.sub = append(x.sub, member{key: key, raw: span{int32(next), int32(i)}})
		i = skipSpace(s, i)
		if i >= len(s) {
			return i, false
		}
		switch s[i] {
		case ',':
			i = skipSpace(s, i+1)
		case '}':
			return i + 1, true
		default:
			return i, false
		}
	}
}

func skipSpace(s string, i int) int {
	for i < len(s) {
		switch c := s[i]; {
		case c > ' ': // compact JSON: the usual case, in one comparison
			return i
		case c == ' ', c == '\t', c == '\n', c == '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanValue validates the value starting at s[i] and returns the index
// just after it.
func scanValue(s string, i, depth int) (int, bool) {
	if i >= len(s) {
		return i, false
	}
	switch c := s[i]; {
	case c == '"':
		i, ok, _ := scanString(s, i)
		return i, ok
	case c == '{':
		return scanContainer(s, i, depth, '}', true)
	case c == '[':
		return scanContainer(s, i, depth, ']', false)
	case c == 't':
		return literal(s, i, "true")
	case c == 'f':
		return literal(s, i, "false")
	case c == 'n':
		return literal(s, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return scanNumber(s, i)
	}
	return i, false
}

func scanContainer(s string, i, depth int, end byte, object bool) (int, bool) {
	if depth >= maxDepth {
		return i, false
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == end {
		return i + 1, true
	}
	var ok bool
	for {
		if object {
			if i >= len(s) || s[i] != '"' {
				return i, false
			}
			if i, ok, _ = scanString(s, i); !ok {
				return i, false
			}
			i = skipSpace(s, i)
			if i >= len(s) || s[i] != ':' {
				return i, false
			}
			i = skipSpace(s, i+1)
		}
		if i, ok = scanValue(s, i, depth+1); !ok {
			return i, false
		}
		i = skipSpace(s, i)
		if i >= len(s) {
			return i, false
		}
		switch s[i] {
		case ',':
			i = skipSpace(s, i+1)
		case end:
			return i + 1, true
		default:
			return i, false
		}
	}
}

// scanString validates the string starting at the quote s[i]; escaped
// says whether it holds an escape sequence.
func scanString(s string, i int) (end int, ok, escaped bool) {
	i++
	for i < len(s) {
		// Eight bytes at a time: a plain run is skipped whole, and the
		// first byte that needs a look is found from the mask, not by
		// stepping through the bytes before it.
		for i+8 <= len(s) {
			m := swar.Special(swar.Load(s, i))
			if m != 0 {
				i += swar.FirstMarked(m)
				goto look
			}
			i += 8
		}
		for i < len(s) && plain[s[i]] {
			i++
		}
		if i >= len(s) {
			break
		}
	look:
		switch s[i] {
		case '"':
			return i + 1, true, escaped
		case '\\':
			if i+1 >= len(s) {
				return i, false, false
			}
			escaped = true
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s) {
					return i, false, false
				}
				for _, h := range []byte(s[i+2 : i+6]) {
					if !isHex(h) {
						return i, false, false
					}
				}
				i += 6
			default:
				return i, false, false
			}
		default: // a control character
			return i, false, false
		}
	}
	return i, false, false
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func literal(s string, i int, word string) (int, bool) {
	if strings.HasPrefix(s[i:], word) {
		return i + len(word), true
	}
	return i, false
}

// scanNumber validates a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(s string, i int) (int, bool) {
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		i = digits(s, i)
	default:
		return i, false
	}
	if i < len(s) && s[i] == '.' {
		j := digits(s, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := digits(s, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func digits(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// unquote decodes a quoted JSON string with escapes (keys only; rare).
func unquote(q string) string {
	return gjson.Parse(q).Str
}
