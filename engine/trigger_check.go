package engine

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/parser/lexer"

	"github.com/intercom-actions/intercom-actions/rules"
)

// What `check` refuses in a trigger before it can go wrong at run time:
// names that are not fields of a Segment event, functions a filter has no
// use for (or that could build unbounded data), and results that are not
// conditions. Each problem is a triggerError at the offset it concerns.

// eventFields are the top-level fields of a Segment event (the spec's
// common fields and those of identify, track, page, screen, group and
// alias), the names a trigger may use without $env["..."].
var eventFields = []string{
	"type", "event", "name", "userId", "anonymousId", "groupId", "previousId",
	"traits", "properties", "context", "integrations", "category", "channel",
	"timestamp", "sentAt", "receivedAt", "originalTimestamp", "messageId", "version",
}

var isEventField = func() map[string]bool {
	m := map[string]bool{}
	for _, f := range eventFields {
		m[f] = true
	}
	return m
}()

// fieldFold finds an event field by its name in lower case (userid).
var fieldFold = func() map[string]string {
	m := map[string]string{}
	for _, f := range eventFields {
		m[strings.ToLower(f)] = f
	}
	return m
}()

// builtinUse says how a trigger may use one of expr's builtins.
type builtinUse int

const (
	// plain builtins take bounded time on what they are given and make
	// nothing bigger than it.
	plain builtinUse = iota + 1
	// costly builtins make new text or lists; their result is counted
	// against the evaluation's data budget.
	costly
	// loop builtins run a predicate per element; each run is a step.
	loop
)

// triggerBuiltins are the expr builtins a trigger may call: what filtering
// needs. Anything else (repeat, toJSON, fromBase64, sortBy, reduce, now, ...)
// is refused when the rules are checked.
var triggerBuiltins = map[string]builtinUse{
	"all": loop, "any": loop, "none": loop, "one": loop, "filter": loop, "map": loop,
	"count": loop, "sum": loop, "find": loop, "findIndex": loop, "findLast": loop, "findLastIndex": loop,
	"len": plain, "type": plain, "abs": plain, "ceil": plain, "floor": plain, "round": plain,
	"int": plain, "float": plain, "max": plain, "min": plain, "first": plain, "last": plain, "get": plain,
	"indexOf": plain, "lastIndexOf": plain, "hasPrefix": plain, "hasSuffix": plain,
	"date": plain, "duration": plain,
	"string": costly, "trim": costly, "trimPrefix": costly, "trimSuffix": costly,
	"upper": costly, "lower": costly, "keys": costly, "values": costly,
}

// refusedReason explains why some well-known builtins are not available.
var refusedReason = map[string]string{
	"now":      "a trigger must give the same answer for the same event; compare with a fixed date instead",
	"repeat":   "it can build text of any size",
	"replace":  "it can build text of any size; compare with contains, startsWith or matches instead",
	"join":     "it can build text of any size",
	"split":    "it can build lists of any size; use contains or matches instead",
	"toJSON":   "a trigger reads the event's values directly",
	"fromJSON": "a trigger reads the event's values directly",
}

// triggerFunctions lists what a trigger may call, for messages.
var triggerFunctions = func() []string {
	names := make([]string, 0, len(triggerBuiltins))
	for n := range triggerBuiltins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}()

// triggerError is one problem in a trigger, at a rune offset into its
// source (-1 when it concerns the whole trigger).
type triggerError struct {
	offset int
	msg    string
}

// triggerErrors is every problem found in one trigger.
type triggerErrors []triggerError

func (l triggerErrors) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.msg
	}
	return strings.Join(msgs, "; ")
}

// lint checks the names and calls of a parsed trigger: every variable is
// an event field, a let-variable or $env; every call is an allowed
// builtin. It returns the let-variable names too, which the patcher must
// leave alone.
func lint(root ast.Node) (vars map[string]bool, errs triggerErrors) {
	vars = map[string]bool{}
	ast.Walk(&root, letCollector(vars))
	l := &linter{vars: vars, refused: map[string]bool{}}
	l.walk(root, nil)
	sort.SliceStable(l.errs, func(i, j int) bool { return l.errs[i].offset < l.errs[j].offset })
	return vars, l.errs
}

type letCollector map[string]bool

func (c letCollector) Visit(node *ast.Node) {
	if n, ok := (*node).(*ast.VariableDeclaratorNode); ok {
		c[n.Name] = true
	}
}

type linter struct {
	vars    map[string]bool
	refused map[string]bool // builtins already reported
	errs    triggerErrors
}

func (l *linter) errorf(n ast.Node, format string, args ...any) {
	l.errs = append(l.errs, triggerError{offset: n.Location().From, msg: fmt.Sprintf(format, args...)})
}

// walk visits n, whose parent is parent (nil at the top).
func (l *linter) walk(n ast.Node, parent ast.Node) {
	switch n := n.(type) {
	case nil:
	case *ast.IdentifierNode:
		l.name(n, parent)
	case *ast.UnaryNode:
		l.walk(n.Node, n)
	case *ast.BinaryNode:
		l.walk(n.Left, n)
		l.walk(n.Right, n)
	case *ast.ChainNode:
		l.walk(n.Node, n)
	case *ast.MemberNode:
		if id, ok := n.Node.(*ast.IdentifierNode); ok && id.Value == "$env" {
			if _, ok := n.Property.(*ast.StringNode); !ok {
				l.errorf(n, `$env takes a key in quotes: $env["my_key"]`)
			}
			return
		}
		l.walk(n.Node, n)
		l.walk(n.Property, n)
	case *ast.SliceNode:
		l.walk(n.Node, n)
		l.walk(n.From, n)
		l.walk(n.To, n)
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok {
			l.errorf(n, "unknown function %s()%s", id.Value, suggestFunction(id.Value))
		} else {
			l.errorf(n, "only functions can be called (triggers may call: %s)", strings.Join(triggerFunctions, ", "))
		}
		for _, a := range n.Arguments {
			l.walk(a, n)
		}
	case *ast.BuiltinNode:
		if _, ok := triggerBuiltins[n.Name]; !ok && !l.refused[n.Name] {
			l.refused[n.Name] = true
			why := refusedReason[n.Name]
			if why == "" {
				why = "a trigger is a condition, and may call only " + strings.Join(triggerFunctions, ", ")
			}
			l.errorf(n, "%s() cannot be used in a trigger: %s", n.Name, why)
		}
		for _, a := range n.Arguments {
			l.walk(a, n)
		}
	case *ast.PredicateNode:
		l.walk(n.Node, n)
	case *ast.VariableDeclaratorNode:
		l.walk(n.Value, n)
		l.walk(n.Expr, n)
	case *ast.SequenceNode:
		for _, x := range n.Nodes {
			l.walk(x, n)
		}
	case *ast.ConditionalNode:
		l.walk(n.Cond, n)
		l.walk(n.Exp1, n)
		l.walk(n.Exp2, n)
	case *ast.ArrayNode:
		for _, x := range n.Nodes {
			l.walk(x, n)
		}
	case *ast.MapNode:
		for _, x := range n.Pairs {
			l.walk(x, n)
		}
	case *ast.PairNode:
		l.walk(n.Key, n)
		l.walk(n.Value, n)
	}
}

// name checks one variable.
func (l *linter) name(n *ast.IdentifierNode, parent ast.Node) {
	switch {
	case l.vars[n.Value] || isEventField[n.Value]:
		return
	case fieldFold[strings.ToLower(n.Value)] != "":
		l.errorf(n, "unknown name %s (did you mean %q?)", n.Value, fieldFold[strings.ToLower(n.Value)])
		return
	case n.Value == "$env":
		l.errorf(n, `$env takes a key: $env["my_key"] is the event's top-level key "my_key"`)
		return
	case parent == nil:
		l.errorf(n, `unknown name %s: a trigger is a condition that compares event values, e.g. properties.plan == "%s" (quotes around a whole YAML value are not part of it)`, n.Value, n.Value)
		return
	case comparedWithText(n, parent):
		l.errorf(n, "unknown name %s: text goes in quotes (did you mean %q?)", n.Value, n.Value)
		return
	}
	if s := rules.Suggest(n.Value, eventFields); strings.HasPrefix(s, " (did you mean") {
		l.errorf(n, "unknown name %s%s", n.Value, s)
		return
	}
	l.errorf(n, `unknown name %s: a Segment event has no such field (write $env[%q] for a custom top-level key)`, n.Value, n.Value)
}

// comparedWithText reports whether the bare word n is compared with
// something that is not a number, a boolean or nil: most likely text the
// author meant to quote (properties.plan == pro).
func comparedWithText(n *ast.IdentifierNode, parent ast.Node) bool {
	switch p := parent.(type) {
	case *ast.BinaryNode:
		other := p.Left
		if other == ast.Node(n) {
			other = p.Right
		}
		switch p.Operator {
		case "==", "!=", "contains", "startsWith", "endsWith", "in", "not in", "matches":
			switch other.(type) {
			case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NilNode:
				return false
			case *ast.StringNode:
				return false // plan == "pro": more likely a key than text
			}
			return true
		}
	case *ast.ArrayNode:
		return true // ["a", b]: a list of text with one word unquoted
	}
	return false
}

func suggestFunction(name string) string {
	if why, ok := refusedReason[name]; ok {
		return ": " + why
	}
	s := rules.Suggest(name, triggerFunctions)
	if strings.HasPrefix(s, " (did you mean") {
		return s
	}
	return " (triggers may call: " + strings.Join(triggerFunctions, ", ") + ")"
}

// conditionChecker checks that a trigger is a condition: its result is a
// boolean, and no && || ! or ?: takes an event value as if it were one. It
// runs as expr's last patcher, on the rewritten tree with its types and
// before the optimizer, which may fold `x && true` into a bare x.
type conditionChecker struct {
	root ast.Node // the last node visited: the root
	errs triggerErrors
}

func (c *conditionChecker) Visit(node *ast.Node) {
	c.root = *node
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		switch n.Operator {
		case "&&", "||", "and", "or":
			c.notCondition(n.Left)
			c.notCondition(n.Right)
		}
	case *ast.UnaryNode:
		if n.Operator == "!" || n.Operator == "not" {
			c.notCondition(n.Node)
		}
	case *ast.ConditionalNode:
		c.notCondition(n.Cond)
	}
}

// notCondition reports an event value used where a condition must be.
func (c *conditionChecker) notCondition(n ast.Node) {
	if p, ok := eventPath(n); ok {
		c.errs = append(c.errs, triggerError{offset: n.Location().From,
			msg: fmt.Sprintf("%s is a value, not a condition: compare it, e.g. %s == true or %s != nil", p, p, p)})
	}
}

// result returns every problem found, the result's type last.
func (c *conditionChecker) result() triggerErrors {
	if len(c.errs) > 0 || c.root == nil {
		return c.errs
	}
	t := c.root.Type()
	switch {
	case t != nil && t.Kind() == reflect.Bool:
		return nil
	case isPath(c.root):
		p, _ := eventPath(c.root)
		return triggerErrors{{offset: -1, msg: fmt.Sprintf("%s is a value, not a condition: compare it, e.g. %s == \"pro\" or %s != nil", p, p, p)}}
	case t == nil || t.Kind() == reflect.Interface:
		return triggerErrors{{offset: -1, msg: "must be a condition (true or false), but it gives a value: compare it, e.g. ... == true"}}
	}
	return triggerErrors{{offset: -1, msg: fmt.Sprintf("must be a condition (true or false), but it gives %s", jsonType(t))}}
}

func isPath(n ast.Node) bool { _, ok := eventPath(n); return ok }

// eventPath returns the path of a rewritten event lookup (seeing through
// ?. chains) as written.
func eventPath(n ast.Node) (string, bool) {
	if c, ok := n.(*ast.ChainNode); ok {
		n = c.Node
	}
	return pathOf(n)
}

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

// goTypes matches the Go type names expr's messages use.
var goTypes = regexp.MustCompile(`map\[string\](?:interface \{\}|any)|\[\](?:interface \{\}|any)|interface \{\}|\b(?:float64|int64|int|bool|string|any)\b`)

// jsonWords rewrites the Go type names in a message of expr's in the JSON
// words an author knows them by.
func jsonWords(msg string) string {
	return goTypes.ReplaceAllStringFunc(msg, func(t string) string {
		switch {
		case strings.HasPrefix(t, "map"):
			return "object"
		case strings.HasPrefix(t, "[]"):
			return "list"
		case strings.HasPrefix(t, "float"), strings.HasPrefix(t, "int"):
			return "number"
		case t == "bool":
			return "boolean"
		case t == "string":
			return "text"
		}
		return "value"
	})
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
