package rules

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// yaml.v3 reports a syntax error at the line where the enclosing block
// starts ("line 2" for a mis-indented key on line 8), without a column.
// yamlError finds the line of the actual mistake — the first line at
// which the file, cut after it, fails with the same message — and from
// that line's text the column and a hint for the usual slips: indentation
// that matches no enclosing block, a tab, text after a closing quote, a
// flow mapping or quote never closed, ": " inside a plain value.

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// yamlError turns yaml.v3's error for the file name (contents src) into a
// positioned Error.
func yamlError(name string, src []byte, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	reported := 0
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		reported, _ = strconv.Atoi(m[1])
		msg = strings.TrimPrefix(err.Error(), m[0])
	}
	lines := splitLines(string(src))
	line := mistakeLine(lines, reported, msg)
	if line == 0 {
		return &Error{Pos: Pos{File: name, Line: reported}, Msg: "invalid YAML: " + msg}
	}
	col, hint := diagnose(lines, line, msg)
	return &Error{Pos: Pos{File: name, Line: line, Column: col}, Msg: "invalid YAML: " + hint}
}

// mistakeLine returns the first line (1-based) from which the file fails
// to parse with msg, searching from just before the reported line; 0 if
// there is none.
func mistakeLine(lines []string, reported int, msg string) int {
	reported = min(reported, len(lines))
	prefix := strings.Join(lines[:max(reported-2, 0)], "")
	for k := max(reported-1, 1); k <= len(lines); k++ {
		prefix += lines[k-1]
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(prefix), &n); err != nil && strings.HasSuffix(err.Error(), ": "+msg) {
			return k
		}
	}
	return 0
}

// splitLines splits s after each line break, as YAML counts them: "\n",
// "\r\n" or a lone "\r".
func splitLines(s string) []string {
	var lines []string
	for len(s) > 0 {
		i := strings.IndexAny(s, "\r\n")
		switch {
		case i < 0:
			i = len(s)
		case s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n':
			i += 2
		default:
			i++
		}
		lines = append(lines, s[:i])
		s = s[i:]
	}
	return lines
}

// diagnose finds the column of the mistake on line k and says what it is.
func diagnose(lines []string, k int, msg string) (col int, hint string) {
	text := strings.TrimRight(lines[k-1], "\r\n")
	indent := len(text) - len(strings.TrimLeft(text, " "))
	first := indent + 1
	if at := tabInIndent(text); at >= 0 {
		// yaml.v3 takes a tab after spaces as the start of a value, and
		// reports the text after it (or reports the tab): say what it is.
		return at + 1, tabHint
	}
	switch {
	case strings.Contains(msg, "tab character"):
		return strings.IndexByte(text, '\t') + 1, tabHint
	case strings.HasPrefix(msg, "did not find expected ',' or"):
		if at, open := unclosedFlow(text); at >= 0 {
			closing := map[byte]string{'{': "}", '[': "]"}[open]
			return at + 1, fmt.Sprintf("this %q is never closed with %q (or a \",\" is missing between its entries)", string(open), closing)
		}
	case strings.Contains(msg, "end of stream") || strings.Contains(msg, "quoted scalar"):
		if at := unclosedYAMLQuote(text); at >= 0 {
			return at + 1, "this quote is never closed"
		}
	case strings.Contains(msg, "cannot start any token"):
		if at := valueStart(text); at >= 0 {
			return at + 1, fmt.Sprintf("a value cannot start with %q: put the whole value in quotes", text[at:at+1])
		}
	}
	if indentMsg(msg) {
		if h, ok := misindented(lines, k, indent); ok {
			return first, h
		}
		if at, after, ok := textAfterQuote(text); ok {
			return after + 1, "text after the closing quote: a value that starts with a quote ends with it; " + quoteWhole(text[at:])
		}
		if strings.HasPrefix(msg, "mapping values are not allowed") {
			if at := secondColon(text); at >= 0 {
				return at + 1, `": " inside a value: put the whole value in quotes`
			}
		}
	}
	return first, msg
}

// tabHint is the message for a tab where YAML wants spaces.
const tabHint = "a tab in the indentation: YAML indents with spaces only (use spaces)"

// tabInIndent returns the offset of the first tab in the line's leading
// blanks; -1 when there is none.
func tabInIndent(text string) int {
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case ' ':
		case '\t':
			return i
		default:
			return -1
		}
	}
	return -1
}

// indentMsg reports whether msg is one of the errors a block that is not
// where YAML expects it causes.
func indentMsg(msg string) bool {
	for _, m := range []string{"did not find expected key", "did not find expected '-' indicator",
		"mapping values are not allowed", "block sequence entries are not allowed", "did not find expected node content"} {
		if strings.HasPrefix(msg, m) {
			return true
		}
	}
	return false
}

// misindented checks line k's indentation against the blocks open above
// it: the indentation of each earlier line that no later line went left
// of (and, for "- key:", the key's). A line at none of them belongs to no
// block; the hint names the nearest.
func misindented(lines []string, k, indent int) (string, bool) {
	type level struct{ indent, line int }
	var open []level // by increasing indent
	for j := 1; j < k; j++ {
		t := strings.TrimRight(lines[j-1], "\r\n")
		content := strings.TrimLeft(t, " ")
		if content == "" || content[0] == '#' {
			continue
		}
		in := len(t) - len(content)
		for len(open) > 0 && open[len(open)-1].indent >= in {
			open = open[:len(open)-1]
		}
		open = append(open, level{in, j})
		if strings.HasPrefix(content, "- ") {
			rest := strings.TrimLeft(content[2:], " ")
			if rest != "" && rest[0] != '#' {
				open = append(open, level{in + len(content) - len(rest), j})
			}
		}
	}
	var lo, hi *level
	for i := range open {
		switch {
		case open[i].indent == indent:
			return "", false
		case open[i].indent < indent:
			lo = &open[i]
		case hi == nil:
			hi = &open[i]
		}
	}
	near := hi
	if near == nil || (lo != nil && indent-lo.indent < hi.indent-indent) {
		near = lo
	}
	if near == nil {
		return "", false
	}
	return fmt.Sprintf("indented %s, but line %d is indented %d: the keys of one mapping, and the items of one list, must line up",
		spaces(indent), near.line, near.indent), true
}

func spaces(n int) string {
	if n == 1 {
		return "1 space"
	}
	return fmt.Sprintf("%d spaces", n)
}

// valueStart returns the offset where a line's value starts: after "key: "
// or "- ", else its first character.
func valueStart(text string) int {
	if i := strings.Index(text, ": "); i >= 0 {
		j := i + 2
		for j < len(text) && text[j] == ' ' {
			j++
		}
		if j < len(text) {
			return j
		}
	}
	t := strings.TrimLeft(text, " -")
	if t == "" {
		return -1
	}
	return len(text) - len(t)
}

// textAfterQuote finds a value that starts with a quote and has more than
// a comment after its closing quote: the offsets of the opening quote and
// of the text after the closing one.
func textAfterQuote(text string) (open, after int, ok bool) {
	open = valueStart(text)
	if open < 0 || (text[open] != '"' && text[open] != '\'') {
		return 0, 0, false
	}
	q := text[open]
	for i := open + 1; i < len(text); i++ {
		switch {
		case q == '"' && text[i] == '\\':
			i++
		case q == '\'' && text[i] == '\'' && i+1 < len(text) && text[i+1] == '\'':
			i++
		case text[i] == q:
			rest := strings.TrimLeft(text[i+1:], " ")
			if rest == "" || rest[0] == '#' {
				return 0, 0, false
			}
			return open, len(text) - len(rest), true
		}
	}
	return 0, 0, false
}

// quoteWhole suggests how to quote value (which holds quotes itself).
// A value wrapped in the quote it also holds inside (a trigger in single
// quotes that compares with a text in single quotes) is unwrapped first.
func quoteWhole(value string) string {
	value = strings.TrimSpace(value)
	if len(value) > 2 && value[0] == value[len(value)-1] && (value[0] == '\'' || value[0] == '"') {
		value = value[1 : len(value)-1]
	}
	switch {
	case !strings.Contains(value, "'"):
		return "write '" + value + "'"
	case !strings.Contains(value, `"`):
		return `write "` + value + `"`
	}
	return "put it in single quotes and double each ' inside"
}

// secondColon finds ": " (or a final ":") inside a plain value.
func secondColon(text string) int {
	i := strings.Index(text, ": ")
	if i < 0 {
		return -1
	}
	rest := text[i+2:]
	if j := strings.Index(rest, ": "); j >= 0 {
		return i + 2 + j
	}
	if strings.HasSuffix(rest, ":") {
		return len(text) - 1
	}
	return -1
}

// unclosedFlow finds the last "{" or "[" on the line that is not closed
// on it (outside quotes).
func unclosedFlow(text string) (int, byte) {
	var stack []int
	var q byte
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '#' && (i == 0 || text[i-1] == ' '):
			i = len(text)
		case c == '{' || c == '[':
			stack = append(stack, i)
		case (c == '}' || c == ']') && len(stack) > 0:
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) == 0 {
		return -1, 0
	}
	at := stack[len(stack)-1]
	return at, text[at]
}

// unclosedYAMLQuote finds the quote that opens a value never closed on
// the line.
func unclosedYAMLQuote(text string) int {
	at := valueStart(text)
	if at < 0 || (text[at] != '"' && text[at] != '\'') {
		return -1
	}
	q := text[at]
	for i := at + 1; i < len(text); i++ {
		switch {
		case q == '"' && text[i] == '\\':
			i++
		case text[i] == q:
			return -1
		}
	}
	return at
}
