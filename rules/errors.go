package rules

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a place in a rule file. Line and Column are 1-based; 0 if unknown.
type Pos struct {
	File   string
	Line   int
	Column int
}

// String formats p as file:line:column, leaving out what is unknown.
func (p Pos) String() string {
	s := p.File
	if p.Line > 0 {
		s += fmt.Sprintf(":%d", p.Line)
		if p.Column > 0 {
			s += fmt.Sprintf(":%d", p.Column)
		}
	}
	return s
}

// Error is one problem in a rule file, with where it is and what it is in.
type Error struct {
	Pos   Pos
	Rule  string // the rule's name, if known
	Field string // the field or key, if any
	Msg   string
}

// Error formats e as `file:line:col: rule "R": field "f": message`.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Pos.String())
	b.WriteString(": ")
	if e.Rule != "" {
		fmt.Fprintf(&b, "rule %q: ", e.Rule)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, "field %q: ", e.Field)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in a set of rule files, in file order.
type ErrorList []*Error

// Error lists the errors one per line.
func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Sort orders the errors by file, line and column, keeping the order of
// errors at one place.
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i].Pos, l[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}

// Suggest returns ` (did you mean "x"?)` for the closest known word, or
// the list of known words when none is close: the tail of an "unknown"
// message.
func Suggest(got string, known []string) string {
	if best, ok := Closest(got, known); ok {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return " (known: " + strings.Join(known, ", ") + ")"
}

// Closest returns the known word closest to got (in lower case, within
// two edits), and false when none is that close.
func Closest(got string, known []string) (string, bool) {
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(got), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best, best != ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
