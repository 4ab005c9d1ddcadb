package engine

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/internal/event"
)

func TestTriggers(t *testing.T) {
	doc, err := event.Parse([]byte(`{"type":"track","event":"Order Completed","userId":"u1",
		"properties":{"plan":"pro","count":3,"price":9.5,"items":[{"sku":"a"},{"sku":"b"}],"a.b":"dotted","tags":["x","y"]},
		"context":{"library":{"name":"analytics.js"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		src  string
		want bool
	}{
		{`type == "track"`, true},
		{`type == "identify"`, false},
		{`properties.plan == "pro" && properties.count == 3`, true},
		{`properties.count > 2 && properties.price < 10`, true},
		{`properties.items[1].sku == "b"`, true},
		{`properties["a.b"] == "dotted"`, true},
		{`len(properties.items) == 2`, true},
		{`"x" in properties.tags`, true},
		{`event in ["Order Completed", "Signed Up"]`, true},
		{`context.library.name startsWith "analytics"`, true},
		{`properties.missing == nil`, true},
		{`properties?.missing?.deeper == nil`, true},
		{`let n = properties.count; n * 2 == 6`, true},
		{`all(properties.items, .sku != "")`, true},
		{`any(properties.items, #.sku == "b")`, true},
		{`!(userId == nil) || false`, true},
		{`lower(event) == "order completed"`, true},
		{`properties.missing > 100`, false},
		{`properties.missing <= 100 || properties.count >= 3`, true},
		{`1 < properties.count`, true},
	} {
		tr, err := compileTrigger(tc.src)
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		got, err := tr.eval(doc)
		if err != nil || got != tc.want {
			t.Errorf("%s = %v, %v; want %v", tc.src, got, err, tc.want)
		}
	}
}

func TestTriggerRuntimeError(t *testing.T) {
	doc, _ := event.Parse([]byte(`{"type":"track","properties":{"count":"three"}}`))
	tr, err := compileTrigger(`properties.count > 3`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.eval(doc)
	if err == nil || !strings.HasPrefix(err.Error(), "invalid operation: string > int") {
		t.Errorf("error = %v", err)
	}
}

// TestTriggerCompileErrors: what would silently match nothing, or fail on
// every event, is refused when the rules are checked, with a hint, at the
// offset of the mistake in the trigger.
func TestTriggerCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want string // "@offset message; ..."
	}{
		{`propertes.plan == "pro"`, `@0 unknown name propertes (did you mean "properties"?)`},
		{`userid == "u-1"`, `@0 unknown name userid (did you mean "userId"?)`},
		{`properties.plan == pro`, `@19 unknown name pro: text goes in quotes (did you mean "pro"?)`},
		{`event in ["Signed Up", Trial]`, `@23 unknown name Trial: text goes in quotes (did you mean "Trial"?)`},
		{`plan_name == "pro"`, `@0 unknown name plan_name: a Segment event has no such field (write $env["plan_name"] for a custom top-level key)`},
		{`pro`, `@0 unknown name pro: a trigger is a condition that compares event values, e.g. properties.plan == "pro" (quotes around a whole YAML value are not part of it)`},
		{`event == Signed Up`, `@9 unexpected Up after Signed: text of several words goes in quotes ("Signed Up")`},
		{`properties.plan`, `@-1 properties.plan is a value, not a condition: compare it, e.g. properties.plan == "pro" or properties.plan != nil`},
		{`properties.beta && type == "track"`, `@0 properties.beta is a value, not a condition: compare it, e.g. properties.beta == true or properties.beta != nil`},
		{`!context.active`, `@1 context.active is a value, not a condition: compare it, e.g. context.active == true or context.active != nil`},
		{`"pro"`, `@-1 must be a condition (true or false), but it gives text`},
		{`properties.plan ?? false`, `@-1 must be a condition (true or false), but it gives a value: compare it, e.g. ... == true`},
		{`type = "track"`, `@5 unexpected "=": compare with ==, not =`},
		{`type === "track"`, `@7 unexpected "=": compare with == (expr has no ===)`},
		{`type == "track" AND event == "x"`, `@16 unexpected AND: write && (or and, in lower case)`},
		{`type == "track" OR event == "x"`, `@16 unexpected OR: write || (or or, in lower case)`},
		{`type == "track" & event == "x"`, `@16 unexpected "&": write && (or and)`},
		{`type == "track" | event == "x"`, `@16 "|" passes a value to a function; for "or" write || (or or)`},
		{`properties.n <> 1`, `@13 unexpected "<>": write != for "not equal"`},
		{`type == “track”`, `@8 unrecognized character: U+201C '“' (a typographic quote: write " or ')`},
		{`properties.plan == "pro'`, `@19 this text is never closed: end it with ", not ' (a text ends with the quote it starts with)`},
		{`type == "identify" &&`, `@20 the trigger ends after "&&": something must follow it`},
		{`(type == "track" || type == "page"`, `@0 this "(" is never closed`},
		{`len(repeat(repeat("ab", 400000), 400000)) > 0`, `@4 repeat() cannot be used in a trigger: it can build text of any size`},
		{`now() > date("2024-01-01")`, `@0 now() cannot be used in a trigger: a trigger must give the same answer for the same event; compare with a fixed date instead`},
		{`toBase64(userId) == "x"`, `@0 toBase64() cannot be used in a trigger: a trigger is a condition, and may call only ` + strings.Join(triggerFunctions, ", ")},
		{`lowr(event) == "x"`, `@0 unknown function lowr() (did you mean "lower"?)`},
		{`__get($env, 1) == 1`, `@0 unknown function __get() (did you mean "get"?); @6 $env takes a key: $env["my_key"] is the event's top-level key "my_key"`},
		{``, `@-1 empty trigger`},
		// Several slips: each at its offset in the source as written (in
		// runes: "é" is one), with the hint it gets alone.
		{`event == "é" AND type = "x" OR trait.plan === "p"`, `@13 unexpected AND: write && (or and, in lower case); @22 unexpected "=": compare with ==, not =; @28 unexpected OR: write || (or or, in lower case); @31 unknown name trait (did you mean "traits"?); @44 unexpected "=": compare with == (expr has no ===)`},
		{`type = “track” AND event == ‘x’`, `@5 unexpected "=": compare with ==, not =; @7 unrecognized character: U+201C '“' (a typographic quote: write " or '); @15 unexpected AND: write && (or and, in lower case)`},
		{`type = "a" && event == "b`, `@5 unexpected "=": compare with ==, not =; @23 this text is never closed: end it with "`},
		{`type == "a" – event`, `@12 unrecognized character: U+2013 '–'`},
	} {
		_, err := compileTrigger(tc.src)
		var errs triggerErrors
		if !errors.As(err, &errs) {
			t.Errorf("%s: error %v, want %s", tc.src, err, tc.want)
			continue
		}
		var got []string
		for _, e := range errs {
			got = append(got, fmt.Sprintf("@%d %s", e.offset, e.msg))
		}
		if g := strings.Join(got, "; "); g != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.src, g, tc.want)
		}
	}
}

// TestCustomTopLevelKeys: $env["key"] reaches a top-level key that is not
// a Segment field, with member chains folded into the lookup as usual.
func TestCustomTopLevelKeys(t *testing.T) {
	doc, _ := event.Parse([]byte(`{"type":"track","tenant":{"id":"t-1","tier":2},"my.key":"dotted"}`))
	for _, src := range []string{
		`$env["tenant"].id == "t-1"`,
		`$env.tenant.tier > 1`,
		`$env["my.key"] == "dotted"`,
		`$env["missing"] == nil`,
	} {
		tr, err := compileTrigger(src)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if got, err := tr.eval(doc); !got || err != nil {
			t.Errorf("%s = %v, %v; want true", src, got, err)
		}
	}
}

// TestRunawayTriggersStop runs the triggers that used to kill or hang the
// process: each now stops with a budget error on the event, having
// allocated a bounded amount of memory.
func TestRunawayTriggersStop(t *testing.T) {
	big := strings.Repeat("ab", 20_000) // a 40 KB text in the event
	doc, err := event.Parse([]byte(`{"type":"track","properties":{"text":"` + big + `","items":[1,2,3]}}`))
	if err != nil {
		t.Fatal(err)
	}
	var doubling strings.Builder
	doubling.WriteString("let a0 = properties.text; ")
	for i := 1; i <= 20; i++ { // 40 KB doubled 20 times: 40 GB
		fmt.Fprintf(&doubling, "let a%d = a%d + a%d; ", i, i-1, i-1)
	}
	doubling.WriteString("len(a20) > 0")
	for _, tc := range []struct{ src, want string }{
		{doubling.String(), "stopped: it read or built more than 32 MiB of data (the most one evaluation of a trigger may)"},
		{`any(1..1000, any(1..1000, upper(properties.text) == ""))`, "stopped: it read or built more than 32 MiB of data (the most one evaluation of a trigger may)"},
		{`let t = properties.text; any(1..1000, any(1..1000, t contains "zz"))`, "stopped: it read or built more than 32 MiB of data (the most one evaluation of a trigger may)"},
		{`any(1..1000, any(1..1000, any(properties.items, # == 4)))`, "stopped: it ran loops for more than 100000 steps (the most one evaluation of a trigger may)"},
		{`len(1..100000000) > 0`, "stopped: it built lists or maps of more than 1000000 elements (the most one evaluation of a trigger may)"},
	} {
		tr, err := compileTrigger(tc.src)
		if err != nil {
			t.Errorf("%.60s: %v", tc.src, err)
			continue
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		got, err := tr.eval(doc)
		runtime.ReadMemStats(&after)
		if got || err == nil || firstLine(err) != tc.want {
			t.Errorf("%.60s = %v, %v; want %s", tc.src, got, err, tc.want)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 256<<20 {
			t.Errorf("%.60s allocated %d MiB", tc.src, n>>20)
		}
	}
}

func TestTypeGuard(t *testing.T) {
	for _, tc := range []struct {
		src   string
		types string
		exact bool
	}{
		{`type == "track"`, "track", true},
		{`type in ["track", "page"]`, "track,page", true},
		{`type == "track" && event == "x"`, "track", false},
		{`event == "x" && type == "track"`, "track", false},
		{`type == "track" || event == "x"`, "", false},
		{`event == "x"`, "", false},
	} {
		tr, err := compileTrigger(tc.src)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(tr.types, ","); got != tc.types || tr.exact != tc.exact {
			t.Errorf("%s: types %q exact %v; want %q %v", tc.src, got, tr.exact, tc.types, tc.exact)
		}
	}
}

// TestJSONWords checks that expr's Go type names become JSON words where
// a message writes a type, and nowhere else.
func TestJSONWords(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"builtin any takes only array (got string)", "builtin any takes only array (got text)"},
		{"too many arguments to call int", "too many arguments to call int"},
		{"invalid operation: string > float64 (1:37)", "invalid operation: text > number (1:37)"},
		{"invalid operation: int(a string or any int) (1:20)", "invalid operation: int(a string or any int) (1:20)"},
		{"invalid operation: int(bool) (1:20)", "invalid operation: int(boolean) (1:20)"},
		{"invalid operation: + (mismatched types string and int)", "invalid operation: + (mismatched types text and number)"},
		{"non-bool expression (type map[string]interface {}) used as condition", "non-boolean expression (type object) used as condition"},
		{"cannot use []interface {} as argument (type string) to call lower ", "cannot use list as argument (type text) to call lower "},
		{`cannot fetch string from interface {} (1:3)`, `cannot fetch string from value (1:3)`},
		{`operator "in" not defined on int64`, `operator "in" not defined on number`},
		{"type bool has no field any", "type boolean has no field any"},
		{`invalid date string`, `invalid date string`},
	} {
		if got := jsonWords(tc.in); got != tc.want {
			t.Errorf("jsonWords(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}
