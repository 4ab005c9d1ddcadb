package engine

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
	"github.com/expr-lang/expr/vm/runtime"
	"github.com/tidwall/gjson"

	"github.com/intercom-actions/intercom-actions/engine/event"
)

// trigger is a compiled expr-lang condition over an event.
//
// Triggers see the event's top-level keys as variables (type, event,
// userId, traits, properties, context, ...). At compile time every static
// chain such as properties.plan or context.traits["plan"] is rewritten into
// one lookup of the gjson path "properties.plan" on the event Doc, so
// evaluating a trigger never unmarshals the event into maps.
type trigger struct {
	source string
	// types lists the event types the trigger can match, when it starts
	// with a guard such as type == "track" (or type in [...]); nil means any.
	// The engine skips the trigger for other types without running it.
	types []string
	// exact is true when the guard is the whole trigger, so matching the
	// type is the answer.
	exact   bool
	program *vm.Program
}

// env is what a compiled trigger runs against.
type env struct{ doc *event.Doc }

const (
	getFunc   = "__get"
	orderFunc = "__order"
)

// order compares event values for <, >, <= and >=. A missing value (nil)
// makes the comparison false instead of an error, so that
// properties.total > 100 simply does not match an event without a total.
func order(params ...any) (result any, err error) {
	op, a, b := params[0].(string), params[1], params[2]
	if a == nil || b == nil {
		return false, nil
	}
	defer func() {
		if r := recover(); r != nil {
			result, err = false, fmt.Errorf("%v", r)
		}
	}()
	switch op {
	case "<":
		return runtime.Less(a, b), nil
	case ">":
		return runtime.More(a, b), nil
	case "<=":
		return runtime.LessOrEqual(a, b), nil
	default:
		return runtime.MoreOrEqual(a, b), nil
	}
}

// get is the function every rewritten variable chain calls.
func get(params ...any) (any, error) {
	e := params[0].(*env)
	return exprValue(e.doc.Get(params[1].(*event.Path))), nil
}

// compileTrigger compiles src; the result must be a boolean expression.
func compileTrigger(src string) (*trigger, error) {
	if strings.TrimSpace(src) == "" {
		return nil, fmt.Errorf("empty trigger")
	}
	p := newPathPatcher(src)
	program, err := expr.Compile(src,
		expr.Env(&env{}),
		expr.Function(getFunc, get, new(func(*env, *event.Path) any)),
		expr.Function(orderFunc, order, new(func(string, any, any) bool)),
		expr.Patch(p),
	)
	if p.err != nil {
		return nil, p.err
	}
	if err != nil {
		return nil, err
	}
	if t := program.Node().Type(); t != nil && t.Kind() != reflect.Bool && t.Kind() != reflect.Interface {
		return nil, fmt.Errorf("must be a condition (true or false), but its result is of type %s", t)
	}
	t := &trigger{source: src, program: program}
	if tree, err := parser.Parse(src); err == nil {
		t.types, t.exact = typeGuard(tree.Node)
	}
	return t, nil
}

// typeGuard finds the event types a trigger is limited to: the trigger
// is `type == "x"`, `type in ["x", "y"]`, or one of those && something.
func typeGuard(n ast.Node) (types []string, exact bool) {
	if b, ok := n.(*ast.BinaryNode); ok && (b.Operator == "&&" || b.Operator == "and") {
		if types, _ := typeGuard(b.Left); types != nil {
			return types, false
		}
		types, _ := typeGuard(b.Right)
		return types, false
	}
	b, ok := n.(*ast.BinaryNode)
	if !ok {
		return nil, false
	}
	if id, ok := b.Left.(*ast.IdentifierNode); !ok || id.Value != "type" {
		return nil, false
	}
	switch b.Operator {
	case "==":
		if s, ok := b.Right.(*ast.StringNode); ok {
			return []string{s.Value}, true
		}
	case "in":
		arr, ok := b.Right.(*ast.ArrayNode)
		if !ok {
			return nil, false
		}
		for _, el := range arr.Nodes {
			s, ok := el.(*ast.StringNode)
			if !ok {
				return nil, false
			}
			types = append(types, s.Value)
		}
		return types, true
	}
	return nil, false
}

// canMatch reports whether the trigger could match an event of type t.
func (t *trigger) canMatch(eventType string) bool {
	if t.types == nil {
		return true
	}
	for _, x := range t.types {
		if x == eventType {
			return true
		}
	}
	return false
}

// eval runs the trigger on doc.
func (t *trigger) eval(doc *event.Doc) (bool, error) {
	out, err := vm.Run(t.program, &env{doc: doc})
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("trigger returned %T, not a boolean", out)
	}
	return b, nil
}

// exprValue turns a gjson value into the Go value expr compares: whole
// numbers become int so that properties.count == 3 holds.
func exprValue(r gjson.Result) any {
	switch r.Type {
	case gjson.String:
		return r.Str
	case gjson.Number:
		if i, err := strconv.ParseInt(r.Raw, 10, 64); err == nil {
			return int(i)
		}
		return r.Num
	case gjson.True:
		return true
	case gjson.False:
		return false
	case gjson.JSON:
		return r.Value()
	}
	return nil
}

// pathPatcher rewrites event variables into __get($env, path) calls.
// ast.Walk visits children first, so an identifier is rewritten before the
// member access around it, which then folds into a longer path.
type pathPatcher struct {
	skip map[string]bool // function and let-variable names
	err  error
}

// newPathPatcher parses src once to learn which names are functions or
// let-variables, which must stay as they are.
func newPathPatcher(src string) *pathPatcher {
	p := &pathPatcher{skip: map[string]bool{"$env": true, getFunc: true, orderFunc: true}}
	if tree, err := parser.Parse(src); err == nil {
		ast.Walk(&tree.Node, collector{p})
	}
	return p
}

type collector struct{ p *pathPatcher }

func (c collector) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok {
			c.p.skip[id.Value] = true
		}
	case *ast.VariableDeclaratorNode:
		c.p.skip[n.Name] = true
	}
}

func (p *pathPatcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		switch n.Operator {
		case "<", ">", "<=", ">=":
			if _, l := pathOf(n.Left); l {
				p.order(node, n)
			} else if _, r := pathOf(n.Right); r {
				p.order(node, n)
			}
		}
	case *ast.IdentifierNode:
		if p.skip[n.Value] {
			return
		}
		p.replace(node, escapeKey(n.Value))
	case *ast.MemberNode:
		if n.Method {
			return
		}
		base, ok := pathOf(n.Node)
		if !ok {
			return
		}
		var key string
		switch prop := n.Property.(type) {
		case *ast.StringNode:
			key = escapeKey(prop.Value)
		case *ast.IntegerNode:
			if prop.Value < 0 {
				return
			}
			key = strconv.Itoa(prop.Value)
		default:
			return
		}
		p.replace(node, base+"."+key)
	}
}

// order rewrites a comparison of an event value into __order(op, a, b).
func (p *pathPatcher) order(node *ast.Node, n *ast.BinaryNode) {
	ast.Patch(node, &ast.CallNode{
		Callee:    &ast.IdentifierNode{Value: orderFunc},
		Arguments: []ast.Node{&ast.StringNode{Value: n.Operator}, n.Left, n.Right},
	})
}

func (p *pathPatcher) replace(node *ast.Node, path string) {
	cp, err := event.CompilePath(path)
	if err != nil {
		p.err = fmt.Errorf("path %q: %w", path, err)
		return
	}
	call := &ast.CallNode{
		Callee:    &ast.IdentifierNode{Value: getFunc},
		Arguments: []ast.Node{&ast.IdentifierNode{Value: "$env"}, &ast.ConstantNode{Value: cp}},
	}
	ast.Patch(node, call)
}

// pathOf returns the path of an already rewritten __get call.
func pathOf(n ast.Node) (string, bool) {
	call, ok := n.(*ast.CallNode)
	if !ok || len(call.Arguments) != 2 {
		return "", false
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok || id.Value != getFunc {
		return "", false
	}
	c, ok := call.Arguments[1].(*ast.ConstantNode)
	if !ok {
		return "", false
	}
	cp, ok := c.Value.(*event.Path)
	if !ok {
		return "", false
	}
	return cp.String(), true
}

// escapeKey escapes the gjson metacharacters in one object key.
func escapeKey(k string) string {
	if !strings.ContainsAny(k, `.*?#@|!\[](){}=<>%,:"`) {
		return k
	}
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		if strings.IndexByte(`.*?#@|!\[](){}=<>%,:"`, k[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(k[i])
	}
	return b.String()
}
