package engine

import (
	"fmt"
	"strings"

	"github.com/intercom-actions/intercom-actions/engine/internal/event"
	"github.com/intercom-actions/intercom-actions/rules"
)

// customPrefix starts a path to a top-level key of the event that is not
// a Segment field: $env.my_key, as a trigger writes $env["my_key"].
const customPrefix = "$env."

// rootError is a path whose first key is not a field of a Segment event:
// most likely a slip (trait.email for traits.email), or a word meant as a
// constant (role: user).
type rootError struct {
	path string // as written
	root string // its first key
	fix  string // the path with the closest event field as its root; "" for none
}

func (e *rootError) Error() string {
	if e.fix != "" {
		return fmt.Sprintf("%s: a Segment event has no field %q (did you mean %s?)", e.path, e.root, e.fix)
	}
	if e.root == e.path { // one word: perhaps a constant
		return fmt.Sprintf("%s: a Segment event has no field %q (a custom top-level key is read as %s%s, a constant is written {value: %s})", e.path, e.root, customPrefix, e.path, e.path)
	}
	return fmt.Sprintf("%s: a Segment event has no field %q (a custom top-level key is read as %s%s)", e.path, e.root, customPrefix, e.path)
}

// compilePath compiles a gjson path into the event. Its first key must be
// a field of a Segment event (traits, properties, context, userId, ...;
// see eventFields), or the path start with $env. for a custom top-level
// key. A first part that is not a plain key (a modifier, a wildcard, a
// query) is left to gjson.
func compilePath(src string) (*event.Path, error) {
	path := src
	switch {
	case strings.HasPrefix(src, customPrefix):
		path = src[len(customPrefix):]
		if path == "" {
			return nil, fmt.Errorf("%s: write the key after %s, e.g. %smy_key", src, customPrefix, customPrefix)
		}
	case src == "$env" || src == "$env[" || strings.HasPrefix(src, "$env["):
		return nil, fmt.Errorf("%s: a custom top-level key is read as %smy_key (a trigger writes $env[\"my_key\"], a path $env.my_key)", src, customPrefix)
	default:
		if root, end, ok := rootKey(src); ok && !isEventField[root] {
			return nil, &rootError{path: src, root: root, fix: fixRoot(src, root, end)}
		}
	}
	p, err := event.CompilePath(path)
	if err != nil {
		return nil, fmt.Errorf("bad path %q: %w", src, err)
	}
	return p, nil
}

// rootKey returns the first key of a path, when it is a plain key: up to
// the first unescaped "." or "|", which is at end.
func rootKey(path string) (root string, end int, ok bool) {
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		switch c := path[i]; c {
		case '\\':
			if i+1 < len(path) {
				i++
				b.WriteByte(path[i])
			}
		case '.', '|':
			return b.String(), i, b.Len() > 0
		case '*', '?', '#', '@', '!', '[', ']', '{', '}', '(', ')', '=', '<', '>', '%', ',', ':', '$':
			return "", 0, false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), len(path), b.Len() > 0
}

// fixRoot returns path with its root (path[:end]) replaced by the closest
// event field (closestEventField); "" when none is that close.
func fixRoot(path, root string, end int) string {
	field := closestEventField(root)
	if field == "" {
		return ""
	}
	return field + path[end:]
}

// closestEventField is the field of a Segment event a name most likely
// means: the field in another case (userid), one within two edits
// (trait), or one it shares its first five letters with (property); ""
// when none is that close. Paths and triggers suggest it alike.
func closestEventField(name string) string {
	lower := strings.ToLower(name)
	if f := fieldFold[lower]; f != "" {
		return f
	}
	if f, ok := rules.Closest(name, eventFields); ok {
		return f
	}
	for _, f := range eventFields {
		if commonPrefix(lower, strings.ToLower(f)) >= 5 {
			return f
		}
	}
	return ""
}

// commonPrefix is the length of the longest common prefix of a and b.
func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
