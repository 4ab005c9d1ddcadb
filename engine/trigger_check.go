package engine

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/expr-lang/expr/ast"

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
	if l.vars[n.Value] || isEventField[n.Value] {
		return
	}
	field := closestEventField(n.Value)
	switch {
	case strings.EqualFold(field, n.Value):
		l.errorf(n, "unknown name %s (did you mean %q?)", n.Value, field)
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
	if field != "" {
		l.errorf(n, "unknown name %s (did you mean %q?)", n.Value, field)
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
