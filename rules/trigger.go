package rules

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
	"github.com/tidwall/gjson"

	"github.com/intercom-actions/intercom-actions/engine/event"
)

// Trigger is a compiled expr-lang condition over an event.
//
// Triggers see the event's top-level keys as variables (type, event,
// userId, traits, properties, context, ...). At compile time every static
// chain such as properties.plan or context.traits["plan"] is rewritten into
// one lookup of the gjson path "properties.plan" on the event Doc, so
// evaluating a trigger never unmarshals the event into maps.
type Trigger struct {
	Source  string
	program *vm.Program
}

// env is what a compiled trigger runs against.
type env struct{ doc *event.Doc }

const getFunc = "__get"

// get is the function every rewritten variable chain calls.
func get(params ...any) (any, error) {
	e := params[0].(*env)
	return exprValue(e.doc.Get(params[1].(*event.Path))), nil
}

// CompileTrigger compiles src; the result must be a boolean expression.
func CompileTrigger(src string) (*Trigger, error) {
	if strings.TrimSpace(src) == "" {
		return nil, fmt.Errorf("empty trigger")
	}
	p := newPathPatcher(src)
	program, err := expr.Compile(src,
		expr.Env(&env{}),
		expr.Function(getFunc, get, new(func(*env, *event.Path) any)),
		expr.Patch(p),
	)
	if p.err != nil {
		return nil, p.err
	}
	if err != nil {
		return nil, err
	}
	if t := program.Node().Type(); t != nil && t.Kind() != reflect.Bool && t.Kind() != reflect.Interface {
		return nil, fmt.Errorf("trigger must be a condition (true or false), but it gives a %s", t)
	}
	return &Trigger{Source: src, program: program}, nil
}

// Eval runs the trigger on doc.
func (t *Trigger) Eval(doc *event.Doc) (bool, error) {
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
	p := &pathPatcher{skip: map[string]bool{"$env": true, getFunc: true}}
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
