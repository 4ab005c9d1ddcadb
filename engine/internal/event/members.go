package event

import (
	"strings"

	"github.com/intercom-actions/intercom-actions/engine/internal/swar"
)

// EachMember calls fn with each key (unescaped) and value (its JSON text)
// of the JSON object obj, in order, until fn returns false. It is made for
// values taken from a validated event, and is much cheaper than decoding
// them: values are skipped, not parsed. On text that is not a valid object
// it stops early and reports false; it never reads past obj.
func EachMember(obj string, fn func(key, raw string) bool) bool {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return false
	}
	i = skipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return true
	}
	for i < len(obj) {
		if obj[i] != '"' {
			return false
		}
		ks := i
		i = skipString(obj, i)
		if i < 0 {
			return false
		}
		key := obj[ks+1 : i-1]
		if strings.IndexByte(key, '\\') >= 0 {
			key = unquote(obj[ks:i])
		}
		i = skipSpace(obj, i)
		if i >= len(obj) || obj[i] != ':' {
			return false
		}
		vs := skipSpace(obj, i+1)
		if i = skipValue(obj, vs); i < 0 {
			return false
		}
		if !fn(key, obj[vs:i]) {
			return true
		}
		i = skipSpace(obj, i)
		if i >= len(obj) {
			return false
		}
		switch obj[i] {
		case ',':
			i = skipSpace(obj, i+1)
		case '}':
			return true
		default:
			return false
		}
	}
	return false
}

// skipString returns the index just after the string starting at the
// quote s[i], or -1.
func skipString(s string, i int) int {
	i++
	for i < len(s) {
		for i+8 <= len(s) {
			if m := swar.Special(swar.Load(s, i)); m != 0 {
				i += swar.FirstMarked(m)
				break
			}
			i += 8
		}
		if i >= len(s) {
			break
		}
		switch s[i] {
		case '"':
			return i + 1
		case '\\':
			i += 2
		default:
			i++
		}
	}
	return -1
}

// skipValue returns the index just after the value starting at s[i], or
// -1: strings and containers by their closing byte, scalars by the next
// delimiter.
func skipValue(s string, i int) int {
	if i >= len(s) {
		return -1
	}
	switch s[i] {
	case '"':
		return skipString(s, i)
	case '{', '[':
		depth := 0
		for i < len(s) {
			switch s[i] {
			case '"':
				if i = skipString(s, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	for j := i; j < len(s); j++ {
		switch s[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			if j == i {
				return -1
			}
			return j
		}
	}
	return len(s)
}
