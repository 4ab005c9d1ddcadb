package engine

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/intercom-actions/intercom-actions/engine/internal/event"
)

// fuzzDocs are the events fuzzed triggers run against: a plain one, one
// with lists and a long text, and one missing most fields.
var fuzzDocs = func() []*event.Doc {
	var docs []*event.Doc
	for _, s := range []string{
		`{"type":"track","event":"Signed Up","userId":"u-1","properties":{"plan":"pro","count":3,"price":9.5,"beta":true,"items":[{"sku":"a","n":1},{"sku":"b","n":2}],"tags":["x","y"]},"context":{"library":{"name":"analytics.js"}},"tenant":{"tier":"gold"}}`,
		`{"type":"identify","userId":"u-2","traits":{"email":"a@b.c","text":"` + strings.Repeat("ab", 50_000) + `","list":[` + strings.Repeat(`"abc",`, 2000) + `"z"]}}`,
		`{"type":"page"}`,
	} {
		d, err := event.Parse([]byte(s))
		if err != nil {
			panic(err)
		}
		docs = append(docs, d)
	}
	return docs
}()

// checkTrigger is what every fuzzed trigger must satisfy: it compiles, or
// every error is a message at an offset inside the source; and a compiled
// trigger gives true, false or an error on every event — never a panic,
// never a non-boolean result (check promised a condition), never more
// than its budget.
func checkTrigger(t *testing.T, src string) {
	tr, err := compileTrigger(src)
	if err != nil {
		var errs triggerErrors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("%q: error %T %v, want triggerErrors", src, err, err)
		}
		for _, e := range errs {
			if e.msg == "" || e.offset < -1 || e.offset > utf8.RuneCountInString(src) {
				t.Fatalf("%q: error %q at offset %d", src, e.msg, e.offset)
			}
		}
		return
	}
	for _, doc := range fuzzDocs {
		_, err := tr.eval(doc)
		if err != nil && strings.Contains(err.Error(), "not a boolean") {
			t.Fatalf("%q passed check but returned a non-boolean: %v", src, err)
		}
	}
}

// FuzzTriggerSource compiles and runs arbitrary text as a trigger.
func FuzzTriggerSource(f *testing.F) {
	for _, s := range triggerSeeds {
		f.Add(s)
	}
	f.Fuzz(checkTrigger)
}

var triggerSeeds = []string{
	`type == "track" && properties.plan == "pro"`,
	`len(repeat(repeat("ab",400000),400000)) > 0`,
	`let a = traits.text + traits.text; let b = a + a; let c = b + b; let d = c + c; let e = d + d; let f = e + e; let g = f + f; let h = g + g; len(h) > 0`,
	`any(1..1000, any(1..1000, upper(traits.text) == ""))`,
	`any(traits.list, any(traits.list, # == "q"))`,
	`$env["tenant"].tier == "gold"`,
	`properties.items[1].sku == "b" || properties?.missing?.x == nil`,
	`count(properties.items, .n > 1) == 1 and not (event in ["a", "b"])`,
	`properties.plan == pro`, `type = "track"`, `"x"`, `properties.count`,
}

// FuzzTriggerGenerated builds triggers from the fuzzer's bytes with a
// small grammar of expr (paths, literals, operators, the allowed builtins
// and some refused ones, predicates, let, ranges, $env), so that most
// inputs parse and reach the checker and the budget.
func FuzzTriggerGenerated(f *testing.F) {
	for _, seed := range [][]byte{
		{1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
		{4, 7, 7, 4, 12, 3, 9, 1, 1, 200, 11, 6},
		{5, 5, 5, 5, 5, 11, 11, 11, 3, 4, 4},
		{0}, {},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g := &exprGen{b: data}
		checkTrigger(t, g.expr(0))
	})
}

// exprGen turns bytes into an expr-lang expression.
type exprGen struct {
	b    []byte
	i    int
	vars []string
}

func (g *exprGen) next() int {
	if g.i >= len(g.b) {
		return 0
	}
	g.i++
	return int(g.b[g.i-1])
}

func (g *exprGen) pick(options ...string) string { return options[g.next()%len(options)] }

var (
	genPaths = []string{"type", "event", "userId", "properties.plan", "properties.count", "properties.price",
		"properties.beta", "properties.items", "properties.items[0].sku", "properties.tags", "traits.text",
		"traits.list", "context.library.name", `properties["plan"]`, `$env["tenant"].tier`, "properties?.missing?.x", "nope"}
	genLiterals = []string{`"pro"`, `"a"`, `""`, "1", "2.5", "0", "-3", "true", "false", "nil", `'x'`, "1000000"}
	genBinary   = []string{"==", "!=", "<", ">", "<=", ">=", "&&", "||", "and", "or", "+", "-", "*", "/", "%", "**",
		"in", "not in", "contains", "startsWith", "endsWith", "matches", "??", ".."}
	genCalls = []string{"len", "upper", "lower", "trim", "string", "int", "float", "abs", "first", "last", "keys",
		"values", "type", "repeat", "toJSON", "split", "now", "max", "min"}
	genLoops = []string{"all", "any", "none", "one", "filter", "map", "count", "sum", "find", "findIndex"}
)

func (g *exprGen) expr(depth int) string {
	if depth > 5 {
		return g.atom()
	}
	switch g.next() % 13 {
	case 0, 1:
		return g.atom()
	case 2, 3:
		return g.expr(depth+1) + " " + g.pick(genBinary...) + " " + g.expr(depth+1)
	case 4:
		return "!(" + g.expr(depth+1) + ")"
	case 5:
		return g.pick(genCalls...) + "(" + g.expr(depth+1) + ")"
	case 6:
		return g.pick(genLoops...) + "(" + g.expr(depth+1) + ", " + g.expr(depth+1) + ")"
	case 7:
		v := fmt.Sprintf("v%d", len(g.vars))
		value := g.expr(depth + 1)
		g.vars = append(g.vars, v)
		return "let " + v + " = " + value + "; " + g.expr(depth+1)
	case 8:
		return "(" + g.expr(depth+1) + " ? " + g.expr(depth+1) + " : " + g.expr(depth+1) + ")"
	case 9:
		return fmt.Sprintf("1..%d", []int{3, 1000, 100000, 10000000}[g.next()%4])
	case 10:
		return "[" + g.expr(depth+1) + ", " + g.expr(depth+1) + "]"
	case 11:
		return "(" + g.expr(depth+1) + ")." + g.pick("sku", "n", "x", "plan")
	default:
		return g.expr(depth+1) + "[" + g.pick("0", "1", "-1", `"sku"`) + "]"
	}
}

func (g *exprGen) atom() string {
	switch g.next() % 4 {
	case 0:
		return g.pick(genLiterals...)
	case 1:
		if len(g.vars) > 0 {
			return g.pick(g.vars...)
		}
		return g.pick("#", ".sku", "#index")
	default:
		return g.pick(genPaths...)
	}
}
