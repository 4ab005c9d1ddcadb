package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/rules"
)

func defaultEngine(t testing.TB) *Engine {
	t.Helper()
	set, err := rules.ParseAll(rules.Defaults()...)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

func TestEvaluateErrors(t *testing.T) {
	eng := defaultEngine(t)
	for _, tc := range []struct{ in, want string }{
		{`{"userId":"u1"}`, `invalid event: no "type" (expected one of identify, track, group, page, screen, alias)`},
		{`{"type":7}`, `invalid event: "type" is 7, not a string`},
		{`{"type":"Track"}`, `invalid event: unknown type "Track" (expected one of identify, track, group, page, screen, alias)`},
		{`[]`, `invalid event: a JSON array, not an object`},
		{`{`, `invalid event: not valid JSON: unexpected end of JSON input (at byte 1)`},
	} {
		actions, err := eng.Evaluate([]byte(tc.in))
		var ee *EventError
		if !errors.As(err, &ee) || err.Error() != tc.want || actions != nil {
			t.Errorf("Evaluate(%s) = %v, %v; want EventError %q", tc.in, actions, err, tc.want)
		}
	}
}

func TestRuleErrorDoesNotStopOtherRules(t *testing.T) {
	set, err := rules.Parse("r.yaml", []byte(`rules:
  - name: Broken
    action: track_event
    trigger: type == "track" && properties.count > 3
  - name: Fine
    action: track_event
`))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	actions, err := eng.Evaluate([]byte(`{"type":"track","event":"E","userId":"u","timestamp":1700000000,"properties":{"count":"three"}}`))
	var re RuleErrors
	if !errors.As(err, &re) || len(re) != 1 || re[0].Rule != "Broken" || err.Error() != `rule "Broken": trigger: invalid operation: text > number (1:37)` {
		t.Errorf("error = %v", err)
	}
	if len(actions) != 1 || actions[0].Rule != "Fine" {
		t.Errorf("actions = %+v, want the Fine rule's", actions)
	}
}

// TestEvaluateConcurrently runs the realistic events from many goroutines
// (under -race in CI) and checks every result equals the sequential one.
func TestEvaluateConcurrently(t *testing.T) {
	eng := defaultEngine(t)
	var events [][]byte
	for _, kind := range []string{"track", "identify", "group"} {
		raw, err := os.ReadFile(filepath.Join("..", "testdata", "events", "realistic", kind+".json"))
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, raw)
	}
	want := make([]string, len(events))
	for i, ev := range events {
		actions, err := eng.Evaluate(ev)
		if err != nil || len(actions) != 1 {
			t.Fatalf("event %d: %v, %d actions", i, err, len(actions))
		}
		b, _ := json.Marshal(actions)
		want[i] = string(b)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 200; n++ {
				i := (g + n) % len(events)
				actions, err := eng.Evaluate(events[i])
				b, _ := json.Marshal(actions)
				if err != nil || string(b) != want[i] {
					t.Errorf("goroutine %d: event %d gave %s, %v", g, i, b, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestEvaluateCallerMayReuseTheEvent: Evaluate's actions own what they
// keep, so the caller may overwrite its buffer once Evaluate returns (the
// actions equal those planned from an untouched copy). The events cover
// each default rule, escaped strings and a dropped-value warning.
func TestEvaluateCallerMayReuseTheEvent(t *testing.T) {
	eng := defaultEngine(t)
	events := []string{
		`{"type":"identify","userId":"u\"1","traits":{"email":"a@example.com","name":"Ann","plan":"pro","tags":["x"],"seen":true}}`,
		`{"type":"group","userId":"u1","groupId":"g1","traits":{"name":"Acme","plan":"team","employees":12,"tier":"gold"}}`,
		`{"type":"track","userId":"u1","event":"Order.Done","timestamp":"2024-01-01T00:00:00Z","properties":{"revenue":9.5,"currency":"eur","sku":"s-1","variant":{"color":"red"},"note":"caf\u00e9"}}`,
	}
	for _, kind := range []string{"track", "identify", "group"} {
		raw, err := os.ReadFile(filepath.Join("..", "testdata", "events", "realistic", kind+".json"))
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, string(raw))
	}
	for _, ev := range events {
		want, err := eng.EvaluateNoCopy([]byte(ev))
		if err != nil || len(want) != 1 {
			t.Fatalf("%s: %v, %d actions", ev, err, len(want))
		}
		wantJSON, _ := json.Marshal(want)

		buf := []byte(ev)
		got, err := eng.Evaluate(buf)
		if err != nil {
			t.Fatal(err)
		}
		for i := range buf {
			buf[i] = '#'
		}
		if gotJSON, _ := json.Marshal(got); string(gotJSON) != string(wantJSON) {
			t.Errorf("after the caller overwrote its buffer:\n got %s\nwant %s", gotJSON, wantJSON)
		}
	}
}

// arenaEvents cover every field type of the default rules, escaped
// strings, warnings, a revenue and more custom attributes than an arena
// chunk holds.
func arenaEvents(t *testing.T) []string {
	many := make([]string, 300)
	for i := range many {
		many[i] = fmt.Sprintf(`"k%d":%d`, i, i)
	}
	events := []string{
		`{"type":"identify","userId":"u\"1","traits":{"email":"a@example.com","name":"Ann","plan":"pro","tags":["x"],"seen":true,"createdAt":"2024-01-01T00:00:00Z","unsubscribed":true}}`,
		`{"type":"identify","userId":"u2","traits":{"email":"b@example.com",` + strings.Join(many, ",") + `}}`,
		`{"type":"group","userId":"u1","groupId":"g1","traits":{"name":"Acme","plan":"team","employees":12,"tier":"gold","createdAt":1700000000}}`,
		`{"type":"track","userId":"u1","event":"Order.Done","timestamp":"2024-01-01T00:00:00Z","properties":{"revenue":9.5,"currency":"eur","sku":"s-1","variant":{"color":"red"},"note":"caf\u00e9"}}`,
		`{"type":"track","userId":"u3","event":"Viewed","timestamp":"2024-01-02T00:00:00Z","properties":{"variant":{"color":"blue"},"size":"m"}}`,
		`{"type":"page","userId":"u3"}`,
		`{"type":"track","event":"no user"}`,
	}
	for _, kind := range []string{"track", "identify", "group"} {
		raw, err := os.ReadFile(filepath.Join("..", "testdata", "events", "realistic", kind+".json"))
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, string(raw))
	}
	return events
}

// TestEvaluateInReusesItsArena: actions planned into an arena are those
// planned on the heap, while later events are planned into the same arena,
// and after Reset small events planned where big ones were keep nothing of
// them.
func TestEvaluateInReusesItsArena(t *testing.T) {
	eng := defaultEngine(t)
	events := arenaEvents(t)
	want := make([]string, len(events))
	for i, ev := range events {
		acts, err := eng.EvaluateNoCopy([]byte(ev))
		got, _ := json.Marshal(acts)
		want[i] = fmt.Sprintf("%s %v", got, err)
	}
	var mem action.Arena
	for round := range 3 {
		order := make([]int, len(events))
		for i := range order {
			order[i] = i
		}
		if round > 0 { // big events were planned first: now the small ones are
			slices.Reverse(order)
		}
		planned := make([][]action.Action, len(order))
		errs := make([]error, len(order))
		for k, i := range order {
			planned[k], errs[k] = eng.EvaluateIn(&mem, []byte(events[i]))
		}
		for k, i := range order {
			got, _ := json.Marshal(planned[k])
			if s := fmt.Sprintf("%s %v", got, errs[k]); s != want[i] {
				t.Errorf("round %d, event %d:\n got %s\nwant %s", round, i, s, want[i])
			}
		}
		mem.Reset()
	}
}

// TestEvaluateInAllocatesNothingOnceGrown: with an arena that has grown,
// planning an identify, a group, or a track whose dropped key was dropped
// before, allocates nothing.
func TestEvaluateInAllocatesNothingOnceGrown(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	eng := defaultEngine(t)
	var mem action.Arena
	events := arenaEvents(t)
	for _, ev := range []string{events[len(events)-2], events[len(events)-1], events[4]} {
		raw := []byte(ev)
		if n := testing.AllocsPerRun(100, func() {
			mem.Reset()
			if _, err := eng.EvaluateIn(&mem, raw); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%.60s...: %v allocations per event, want none", ev, n)
		}
	}
}
