package engine

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"github.com/expr-lang/expr/vm/runtime"
	"github.com/tidwall/gjson"

	"github.com/intercom-actions/intercom-actions/engine/internal/event"
)

// trigger is a compiled expr-lang condition over an event.
//
// Triggers see the event's top-level fields as variables (type, event,
// userId, traits, properties, context, ...; see eventFields), and any other
// top-level key as $env["key"]. At compile time every static chain such as
// properties.plan or context.traits["plan"] is rewritten into one lookup of
// the gjson path "properties.plan" on the event Doc, so evaluating a
// trigger never unmarshals the event into maps.
//
// A trigger runs within a budget: it may call only the builtins filtering
// needs (see triggerBuiltins), and each evaluation may take at most
// maxSteps loop steps and read or build at most maxBytes of data, so a
// runaway trigger is that rule's error on that event, not the end of the
// process.
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

// env is what a compiled trigger runs against: the event, and how much
// of its budget the evaluation has used.
type env struct {
	doc   *event.Doc
	steps int // predicate runs
	bytes int // bytes of data read or built
}

// The budget of one evaluation of one trigger. An event line is at most
// 4 MiB, so a trigger can read every value of the biggest event several
// times over; what goes past these limits is a loop or a text that grows
// without bound.
const (
	maxSteps = 100_000  // predicate runs (all, any, filter, map, ...)
	maxBytes = 32 << 20 // bytes read from the event or built (text, lists)
	maxNodes = 2000     // the size of a trigger: a condition, not a program
)

// Names of the functions the patcher calls. They start with "__", which
// no trigger may call itself.
const (
	getFunc   = "__get"   // an event value at a path
	orderFunc = "__order" // <, >, <=, >= that are false for a missing value
	stepFunc  = "__step"  // one run of a predicate
	useFunc   = "__use"   // a let-variable or a predicate's element, read again
	costFunc  = "__cost"  // a value just built (text, list)
)

// budgetError is the run-time error of a trigger that went over its budget.
type budgetError struct{ what string }

func (e budgetError) Error() string {
	return "stopped: it " + e.what + " (the most one evaluation of a trigger may)"
}

// charge counts n bytes against the evaluation's budget.
func (e *env) charge(n int) error {
	e.bytes += n
	if e.bytes > maxBytes {
		return budgetError{fmt.Sprintf("read or built more than %d MiB of data", maxBytes>>20)}
	}
	return nil
}

// size is what a value counts against the data budget: its length for
// text, a word or two per element for lists and maps.
func size(v any) int {
	switch v := v.(type) {
	case string:
		return len(v) + 1
	case []any:
		return 16*len(v) + 1
	case []string:
		return 16*len(v) + 1
	case []int:
		return 8*len(v) + 1
	case []float64:
		return 8*len(v) + 1
	case map[string]any:
		return 32*len(v) + 1
	}
	return 1
}

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
	r := e.doc.Get(params[1].(*event.Path)).Result
	if err := e.charge(len(r.Raw) + 1); err != nil {
		return nil, err
	}
	return exprValue(r), nil
}

// step counts one run of a predicate and passes its value through.
func step(params ...any) (any, error) {
	e := params[0].(*env)
	e.steps++
	if e.steps > maxSteps {
		return nil, budgetError{fmt.Sprintf("ran loops for more than %d steps", maxSteps)}
	}
	return params[1], nil
}

// use counts a value read again or just built against the data budget,
// and passes it through.
func use(params ...any) (any, error) {
	return params[1], params[0].(*env).charge(size(params[1]))
}

// exprOptions configure every trigger's compilation.
var exprOptions = []expr.Option{
	expr.Env(&env{}),
	expr.Function(getFunc, get, new(func(*env, *event.Path) any)),
	expr.Function(orderFunc, order, new(func(string, any, any) bool)),
	expr.Function(stepFunc, step, new(func(*env, any) any)),
	expr.Function(useFunc, use, new(func(*env, any) any)),
	expr.Function(costFunc, use, new(func(*env, any) any)),
	expr.MaxNodes(maxNodes),
}

// runner is expr's VM and the env of one evaluation, reused between
// evaluations so that running a trigger allocates next to nothing.
type runner struct {
	vm  vm.VM
	env env
}

var runners = sync.Pool{New: func() any { return new(runner) }}

// compileTrigger compiles src, which must be a condition. Its error is
// triggerErrors: every problem found, each at its offset in src.
func compileTrigger(src string) (*trigger, error) {
	if strings.TrimSpace(src) == "" {
		return nil, triggerErrors{{offset: -1, msg: "empty trigger"}}
	}
	tree, errs := parseTrigger(src)
	if tree == nil {
		return nil, errs
	}
	vars, lintErrs := lint(tree.Node)
	if len(errs) > 0 || len(lintErrs) > 0 {
		// The syntax slips were mended to read on: the names of the mended
		// trigger are checked too, at their offsets in src.
		return nil, append(errs, lintErrs.at(tree.mended)...).sorted()
	}
	p := &pathPatcher{vars: vars}
	cond := &conditionChecker{}
	opts := append(exprOptions[:len(exprOptions):len(exprOptions)], expr.Patch(p), expr.Patch(cond))
	program, err := expr.Compile(src, opts...)
	if p.err != nil {
		return nil, triggerErrors{{offset: -1, msg: p.err.Error()}}
	}
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			return nil, triggerErrors{{offset: fe.From, msg: jsonWords(fe.Message)}}
		}
		return nil, triggerErrors{{offset: -1, msg: jsonWords(firstLine(err))}}
	}
	if errs := cond.result(); len(errs) > 0 {
		return nil, errs
	}
	t := &trigger{source: src, program: program}
	t.types, t.exact = typeGuard(tree.Node)
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

// eval runs the trigger on doc, within its budget.
func (t *trigger) eval(doc *event.Doc) (bool, error) {
	r := runners.Get().(*runner)
	r.env = env{doc: doc}
	out, err := r.vm.Run(t.program, &r.env)
	r.env.doc = nil
	runners.Put(r)
	if err != nil {
		var budget budgetError
		var fe *file.Error
		switch {
		case errors.As(err, &budget):
			return false, budget
		case errors.As(err, &fe) && fe.Message == "memory budget exceeded":
			return false, budgetError{fmt.Sprintf("built lists or maps of more than %d elements", conf.DefaultMemoryBudget)}
		}
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("trigger gave %s, not true or false", jsonType(reflect.TypeOf(out)))
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

// pathPatcher rewrites event variables into __get($env, path) calls, and
// puts the budget's counters where a trigger loops, reads a value again or
// builds one. ast.Walk visits children first, so an identifier is
// rewritten before the member access around it, which then folds into a
// longer path.
type pathPatcher struct {
	vars map[string]bool // let-variables: not event fields
	err  error
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
		case "+":
			if !isNumber(n.Left) || !isNumber(n.Right) {
				wrap(node, costFunc) // text added to itself doubles each time
			}
		}
	case *ast.IdentifierNode:
		switch {
		case p.vars[n.Value]:
			// a let-variable: counted where it is read again and again,
			// in a predicate (see wrapVars)
		case n.Value != "$env" && !strings.HasPrefix(n.Value, "__"):
			p.replace(node, escapeKey(n.Value), n.Location())
		}
	case *ast.PointerNode:
		wrap(node, useFunc)
	case *ast.PredicateNode:
		p.wrapVars(&n.Node)
		wrap(&n.Node, stepFunc)
	case *ast.BuiltinNode:
		if triggerBuiltins[n.Name] == costly {
			wrap(node, costFunc)
		}
	case *ast.MemberNode:
		if n.Method {
			return
		}
		if id, ok := n.Node.(*ast.IdentifierNode); ok && id.Value == "$env" {
			if key, ok := n.Property.(*ast.StringNode); ok {
				p.replace(node, escapeKey(key.Value), id.Location())
			}
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
		p.replace(node, base+"."+key, n.Node.Location())
	}
}

// wrapVars counts every read of a let-variable in a predicate's body (but
// not in predicates nested in it, which did their own): a variable read
// once per run can hold a large text.
func (p *pathPatcher) wrapVars(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if p.vars[n.Value] {
			wrap(node, useFunc)
		}
	case *ast.PredicateNode:
	case *ast.UnaryNode:
		p.wrapVars(&n.Node)
	case *ast.BinaryNode:
		p.wrapVars(&n.Left)
		p.wrapVars(&n.Right)
	case *ast.ChainNode:
		p.wrapVars(&n.Node)
	case *ast.MemberNode:
		p.wrapVars(&n.Node)
		p.wrapVars(&n.Property)
	case *ast.SliceNode:
		p.wrapVars(&n.Node)
		if n.From != nil {
			p.wrapVars(&n.From)
		}
		if n.To != nil {
			p.wrapVars(&n.To)
		}
	case *ast.CallNode:
		for i := range n.Arguments {
			p.wrapVars(&n.Arguments[i])
		}
	case *ast.BuiltinNode:
		for i := range n.Arguments {
			p.wrapVars(&n.Arguments[i])
		}
	case *ast.VariableDeclaratorNode:
		p.wrapVars(&n.Value)
		p.wrapVars(&n.Expr)
	case *ast.SequenceNode:
		for i := range n.Nodes {
			p.wrapVars(&n.Nodes[i])
		}
	case *ast.ConditionalNode:
		p.wrapVars(&n.Cond)
		p.wrapVars(&n.Exp1)
		p.wrapVars(&n.Exp2)
	case *ast.ArrayNode:
		for i := range n.Nodes {
			p.wrapVars(&n.Nodes[i])
		}
	case *ast.MapNode:
		for i := range n.Pairs {
			p.wrapVars(&n.Pairs[i])
		}
	case *ast.PairNode:
		p.wrapVars(&n.Value)
	}
}

// wrap rewrites a node into fn($env, node): the budget counts it.
func wrap(node *ast.Node, fn string) {
	inner := *node
	c := &ast.CallNode{
		Callee:    &ast.IdentifierNode{Value: fn},
		Arguments: []ast.Node{&ast.IdentifierNode{Value: "$env"}, inner},
	}
	ast.Patch(node, c)
	c.SetLocation(inner.Location())
}

func isNumber(n ast.Node) bool {
	switch n.(type) {
	case *ast.IntegerNode, *ast.FloatNode:
		return true
	}
	return false
}

// order rewrites a comparison of an event value into __order(op, a, b).
func (p *pathPatcher) order(node *ast.Node, n *ast.BinaryNode) {
	ast.Patch(node, &ast.CallNode{
		Callee:    &ast.IdentifierNode{Value: orderFunc},
		Arguments: []ast.Node{&ast.StringNode{Value: n.Operator}, n.Left, n.Right},
	})
}

// replace rewrites a variable chain into one lookup of path, placed
// where the chain starts (from).
func (p *pathPatcher) replace(node *ast.Node, path string, from file.Location) {
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
	call.SetLocation(from)
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
