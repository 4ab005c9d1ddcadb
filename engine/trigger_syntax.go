package engine

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/parser/lexer"
)

// How a trigger's syntax is read: expr's parser, with the usual slips
// (= for ==, AND for &&, typographic quotes, ...) reported with a hint and
// mended so that reading goes on and every slip is reported at once; and
// expr's messages put in the JSON words an author knows.

// parsedTrigger is a parsed trigger, and how its source was mended to
// parse (nil when it was not).
type parsedTrigger struct {
	*parser.Tree
	mended edits
}

// maxSlips bounds the syntax slips mended in one trigger.
const maxSlips = 10

// parseTrigger parses src. A usual slip (= for ==, AND for &&, ...) is
// reported with its hint and mended, and parsing goes on, so that every
// slip of a trigger is reported at once, each at its offset in src. The
// tree is nil when src cannot be read to the end; else it is the mended
// trigger's, errs the slips mended.
func parseTrigger(src string) (*parsedTrigger, triggerErrors) {
	var errs triggerErrors
	var mended edits
	cur := src
	for {
		tree, err := parser.ParseWithConfig(cur, &conf.Config{MaxNodes: maxNodes, Disabled: map[string]bool{}})
		if err == nil {
			return &parsedTrigger{Tree: tree, mended: mended}, errs
		}
		var fe *file.Error
		if !errors.As(err, &fe) {
			return nil, append(errs, triggerError{offset: -1, msg: jsonWords(firstLine(err))})
		}
		e, fix := syntaxHint(cur, fe)
		e.offset = mended.original(e.offset)
		errs = append(errs, e)
		if fix == nil || len(errs) >= maxSlips {
			return nil, errs.sorted()
		}
		next := fix.apply(cur)
		if next == cur { // nothing mended: parsing would stop here again
			return nil, errs.sorted()
		}
		cur = next
		mended = append(mended, *fix)
	}
}

// edit replaces the runes [from, to) of a trigger's source with text.
type edit struct {
	from, to int
	text     string
}

func (e edit) apply(src string) string {
	return src[:byteOffset(src, e.from)] + e.text + src[byteOffset(src, e.to):]
}

// edits are the edits made to a source, in order, each on the result of
// the ones before.
type edits []edit

// original maps a rune offset in the edited source back to the source.
func (l edits) original(offset int) int {
	for i := len(l) - 1; i >= 0 && offset >= 0; i-- {
		e := l[i]
		added := utf8.RuneCountInString(e.text)
		switch {
		case added == e.to-e.from: // rune for rune: offsets stay
		case offset >= e.from+added:
			offset -= added - (e.to - e.from)
		case offset > e.from:
			offset = e.from
		}
	}
	return offset
}

// at maps the errors' offsets in a mended source back to the source.
func (l triggerErrors) at(mended edits) triggerErrors {
	for i := range l {
		l[i].offset = mended.original(l[i].offset)
	}
	return l
}

// sorted orders the errors by offset, those of the whole trigger last.
func (l triggerErrors) sorted() triggerErrors {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i].offset, l[j].offset
		if a < 0 || b < 0 {
			return a >= 0 && b < 0
		}
		return a < b
	})
	return l
}

// goType matches a Go type name as expr's messages write one.
const goType = `(map\[string\](?:interface \{\}|any)|\[\](?:interface \{\}|any)|interface \{\}|float64|int64|int|bool|string|any)`

// typeSpots matches the places where expr's messages write a Go type,
// each type in a group: "(type int)", "(got string)", "mismatched types
// int and string", "cannot use string as ...", "invalid operation: string
// > float64", "int(string)", "... from string", "type bool has no field",
// "expected bool, but got int". Elsewhere the same words are something
// else: a builtin's name (any, int, string), or event data quoted.
var typeSpots = regexp.MustCompile(
	`\((?:type|got) ` + goType + `|` +
		`mismatched types? ` + goType + `(?: and ` + goType + `)?|` +
		`cannot use ` + goType + ` (?:as|to)|` +
		`as type ` + goType + `|` +
		`invalid operation: ` + goType + ` \S+ ` + goType + `(?:$| \(|\n)|` +
		`invalid operation: - ` + goType + `|` +
		`invalid operation: \w+\(` + goType + `\)|` +
		`(?:from|not defined on|field name of) ` + goType + `(?:$| \(|\n)|` +
		`type ` + goType + ` (?:has|does)|` +
		`expected ` + goType + `, but got ` + goType + `|` +
		`non-(bool) expression`)

// jsonWords rewrites the Go type names in a message of expr's in the JSON
// words an author knows them by, where expr writes a type (typeSpots).
func jsonWords(msg string) string {
	spots := typeSpots.FindAllStringSubmatchIndex(msg, -1)
	if spots == nil {
		return msg
	}
	var b strings.Builder
	last := 0
	for _, m := range spots {
		for g := 2; g+1 < len(m); g += 2 {
			if m[g] < 0 {
				continue
			}
			b.WriteString(msg[last:m[g]])
			b.WriteString(jsonWord(msg[m[g]:m[g+1]]))
			last = m[g+1]
		}
	}
	b.WriteString(msg[last:])
	return b.String()
}

// jsonWord is the JSON word for a Go type name.
func jsonWord(t string) string {
	switch {
	case strings.HasPrefix(t, "map"):
		return "object"
	case strings.HasPrefix(t, "[]"):
		return "list"
	case t == "float64", t == "int", t == "int64":
		return "number"
	case t == "bool":
		return "boolean"
	case t == "string":
		return "text"
	}
	return "value"
}

// jsonType names the type of a trigger's result in JSON words.
func jsonType(t reflect.Type) string {
	if t == nil {
		return "nothing (null)"
	}
	switch t.Kind() {
	case reflect.String:
		return "text"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8,
		reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a value that is not true or false"
}

// syntaxHint turns one of expr's syntax errors into a positioned message
// with a hint for the usual slips: = for ==, AND for &&, typographic or
// unclosed quotes, a trigger that stops after an operator. fix mends the
// slip, when the hint says how, so that parsing can go on.
func syntaxHint(src string, fe *file.Error) (e triggerError, fix *edit) {
	at := fe.From
	msg := fe.Message
	if strings.HasPrefix(msg, "literal not terminated") {
		if open, q, ok := unclosedQuote(src); ok {
			other := map[rune]string{'"': "'", '\'': `"`, '`': `"`}[q]
			hint := fmt.Sprintf("this text is never closed: end it with %c", q)
			if strings.ContainsRune(src[byteOffset(src, open)+1:], []rune(other)[0]) {
				hint += fmt.Sprintf(", not %s (a text ends with the quote it starts with)", other)
			}
			return triggerError{offset: open, msg: hint}, nil
		}
	}
	if strings.HasPrefix(msg, "unrecognized character: U+201C") || strings.HasPrefix(msg, "unrecognized character: U+201D") ||
		strings.HasPrefix(msg, "unrecognized character: U+2018") || strings.HasPrefix(msg, "unrecognized character: U+2019") {
		// Mend every typographic quote at once: one slip, copied text.
		mendedSrc := strings.NewReplacer("\u201c", `"`, "\u201d", `"`, "\u2018", "'", "\u2019", "'").Replace(src)
		return triggerError{offset: at, msg: msg + ` (a typographic quote: write " or ')`},
			&edit{from: 0, to: utf8.RuneCountInString(src), text: mendedSrc}
	}
	tokens := lex(src)
	var tok, prev *lexer.Token
	for i := range tokens {
		if tokens[i].From == at {
			tok = &tokens[i]
			if i > 0 {
				prev = &tokens[i-1]
			}
			break
		}
	}
	replace := func(t *lexer.Token, with string) *edit {
		return &edit{from: t.From, to: t.From + utf8.RuneCountInString(t.Value), text: with}
	}
	if tok != nil {
		switch {
		case tok.Is(lexer.Operator, "=") && prev != nil && prev.Is(lexer.Operator, "=="):
			return triggerError{at, `unexpected "=": compare with == (expr has no ===)`}, replace(tok, "")
		case tok.Is(lexer.Operator, "="):
			return triggerError{at, `unexpected "=": compare with ==, not =`}, replace(tok, "==")
		case tok.Is(lexer.Operator, "&"):
			return triggerError{at, `unexpected "&": write && (or and)`}, replace(tok, "&&")
		case tok.Is(lexer.Identifier, "AND", "And"):
			return triggerError{at, fmt.Sprintf("unexpected %s: write && (or and, in lower case)", tok.Value)}, replace(tok, "&&")
		case tok.Is(lexer.Identifier, "OR", "Or"):
			return triggerError{at, fmt.Sprintf("unexpected %s: write || (or or, in lower case)", tok.Value)}, replace(tok, "||")
		case tok.Is(lexer.Identifier, "NOT", "Not"):
			return triggerError{at, fmt.Sprintf("unexpected %s: write ! (or not, in lower case)", tok.Value)}, replace(tok, "!")
		case tok.Kind == lexer.Identifier && prev != nil && prev.Kind == lexer.Identifier:
			return triggerError{prev.From, fmt.Sprintf("unexpected %s after %s: text of several words goes in quotes (%q)", tok.Value, prev.Value, prev.Value+" "+tok.Value)}, nil
		case tok.Is(lexer.Operator, ">") && prev != nil && prev.Is(lexer.Operator, "<"):
			return triggerError{prev.From, `unexpected "<>": write != for "not equal"`},
				&edit{from: prev.From, to: tok.From + 1, text: "!="}
		case tok.Kind == lexer.EOF && prev != nil && prev.Kind == lexer.Operator:
			return triggerError{at, fmt.Sprintf("the trigger ends after %q: something must follow it", prev.Value)}, nil
		case tok.Kind == lexer.EOF:
			if open, ok := unclosedBracket(tokens); ok {
				return triggerError{open.From, fmt.Sprintf("this %q is never closed", open.Value)}, nil
			}
			return triggerError{at, "the trigger ends too early"}, nil
		}
	}
	// A lone | pipes a value into a function; an author who meant "or" gets
	// an error later on: say so.
	for _, t := range tokens {
		if t.Is(lexer.Operator, "|") && t.From < at {
			return triggerError{t.From, `"|" passes a value to a function; for "or" write || (or or)`}, replace(&t, "||")
		}
	}
	return triggerError{at, jsonWords(msg)}, nil
}

// lex returns the tokens of src, up to the first it cannot read (a
// parse error can come before a character the lexer refuses).
func lex(src string) []lexer.Token {
	l := lexer.New()
	l.Reset(file.NewSource(src))
	var tokens []lexer.Token
	for {
		t, err := l.Next()
		if err != nil {
			return tokens
		}
		tokens = append(tokens, t)
	}
}

// unclosedQuote finds the opening quote of a text that is never closed.
func unclosedQuote(src string) (offset int, quote rune, ok bool) {
	var open rune
	escaped := false
	i := 0
	for _, r := range src {
		switch {
		case open == 0:
			if r == '"' || r == '\'' || r == '`' {
				open, offset = r, i
			}
		case escaped:
			escaped = false
		case r == '\\' && open != '`':
			escaped = true
		case r == open:
			open = 0
		}
		i++
	}
	return offset, open, open != 0
}

// unclosedBracket finds the last opening bracket without its closing one.
func unclosedBracket(tokens []lexer.Token) (lexer.Token, bool) {
	var stack []lexer.Token
	for _, t := range tokens {
		if t.Kind != lexer.Bracket {
			continue
		}
		switch t.Value {
		case "(", "[", "{":
			stack = append(stack, t)
		default:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
	if len(stack) == 0 {
		return lexer.Token{}, false
	}
	return stack[len(stack)-1], true
}

// byteOffset converts a rune offset into src to a byte offset.
func byteOffset(src string, runes int) int {
	i := 0
	for b := range src {
		if i == runes {
			return b
		}
		i++
	}
	return len(src)
}
