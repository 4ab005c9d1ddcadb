package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/expr-lang/expr"
	"github.com/tidwall/gjson"

	"github.com/intercom-actions/intercom-actions/engine/action"
	"github.com/intercom-actions/intercom-actions/engine/internal/event"
	"github.com/intercom-actions/intercom-actions/rules"
)

// realistic loads the 1–2 KB analytics.js-style events used by the benchmarks.
func realistic(b *testing.B, kind string) []byte {
	b.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "events", "realistic", kind+".json"))
	if err != nil {
		b.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		b.Fatal(err)
	}
	return compact.Bytes()
}

func benchEngine(b *testing.B, set *rules.Set, kinds ...string) {
	eng, err := Compile(set)
	if err != nil {
		b.Fatal(err)
	}
	for _, kind := range kinds {
		ev := realistic(b, kind)
		b.Run(kind, func(b *testing.B) {
			if _, err := eng.Evaluate(ev); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(ev)))
			b.ReportAllocs()
			for b.Loop() {
				eng.Evaluate(ev)
			}
		})
	}
}

// BenchmarkEvaluate measures the default rules (Segment's presets) on
// realistic events: each event is checked against all three rules and
// mapped by the one that matches.
func BenchmarkEvaluate(b *testing.B) {
	set, err := rules.ParseAll(rules.Defaults()...)
	if err != nil {
		b.Fatal(err)
	}
	benchEngine(b, set, "track", "identify", "group")
}

// ruleSet builds n rules of realistic shapes: most are track rules keyed on
// the event name and a property, as a real mapping grows.
func ruleSet(b *testing.B, n int) *rules.Set {
	var src strings.Builder
	src.WriteString("rules:\n")
	for i := 0; i < n; i++ {
		switch i % 5 {
		case 0:
			fmt.Fprintf(&src, "  - name: r%d\n    action: track_event\n    trigger: type == \"track\" && event == \"Event %d\"\n", i, i)
		case 1:
			fmt.Fprintf(&src, "  - name: r%d\n    action: track_event\n    trigger: type == \"track\" && properties.plan == \"plan-%d\"\n    fields:\n      event_name: {template: \"{{event}} ({{properties.plan}})\"}\n", i, i)
		case 2:
			fmt.Fprintf(&src, "  - name: r%d\n    action: identify_contact\n    trigger: type == \"identify\" && traits.plan in [\"a%d\", \"b%d\"]\n    fields:\n      role: {value: user}\n      custom_attributes: traits\n", i, i, i)
		case 3:
			fmt.Fprintf(&src, "  - name: r%d\n    action: identify_company\n    trigger: type == \"group\" && traits.employees > %d\n", i, 1000000+i)
		case 4:
			fmt.Fprintf(&src, "  - name: r%d\n    action: track_event\n    trigger: type == \"track\" && context.library.name == \"lib-%d\"\n", i, i)
		}
	}
	set, err := rules.Parse("bench.yaml", []byte(src.String()))
	if err != nil {
		b.Fatal(err)
	}
	// Keep the defaults too, so one rule per event type matches.
	def, _ := rules.ParseAll(rules.Defaults()...)
	set.Rules = append(set.Rules, def.Rules...)
	return set
}

// BenchmarkEvaluateRules shows how cost grows with the number of rules.
func BenchmarkEvaluateRules(b *testing.B) {
	for _, n := range []int{10, 25, 50} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			benchEngine(b, ruleSet(b, n), "track")
		})
	}
}

// BenchmarkTrigger compares the two ways of running a trigger: gjson
// lookups behind expr (what the engine does) against unmarshalling the
// event into maps for expr's environment.
func BenchmarkTrigger(b *testing.B) {
	const src = `type == "track" && properties.plan == "pro" && context.library.name != "x"`
	ev := realistic(b, "track")
	b.Run("gjson", func(b *testing.B) {
		t, err := compileTrigger(src)
		if err != nil {
			b.Fatal(err)
		}
		var doc event.Doc
		b.SetBytes(int64(len(ev)))
		b.ReportAllocs()
		for b.Loop() {
			if err := doc.Reset(ev); err != nil {
				b.Fatal(err)
			}
			if _, err := t.eval(&doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unmarshal", func(b *testing.B) {
		// "type" is also an expr builtin; $env reaches the event's key.
		program, err := expr.Compile(strings.Replace(src, "type ==", `$env["type"] ==`, 1), expr.AsBool())
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(ev)))
		b.ReportAllocs()
		for b.Loop() {
			var env map[string]any
			if err := json.Unmarshal(ev, &env); err != nil {
				b.Fatal(err)
			}
			if _, err := expr.Run(program, env); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// sharedWorkload is the shared benchmark workload: n events from
// ../shared/bench/gen_events.py (70% track, 20% identify, 10% group,
// about 1.07 KB each; the same n gives the same bytes). It skips when the
// generator or python3 is not there.
func sharedWorkload(b *testing.B, n int) [][]byte {
	b.Helper()
	gen := filepath.Join("..", "..", "shared", "bench", "gen_events.py")
	if _, err := os.Stat(gen); err != nil {
		b.Skipf("no shared workload generator (%v)", err)
	}
	out, err := exec.Command("python3", gen, fmt.Sprint(n)).Output()
	if err != nil {
		b.Skipf("gen_events.py: %v", err)
	}
	return bytes.Split(bytes.TrimSpace(out), []byte("\n"))
}

// BenchmarkEvaluateWorkload runs the default rules over the shared
// workload, next to gjson.ValidBytes over the same bytes: the floor any
// evaluation that validates the whole event stands on.
func BenchmarkEvaluateWorkload(b *testing.B) {
	events := sharedWorkload(b, 2000)
	var size int64
	for _, ev := range events {
		size += int64(len(ev))
	}
	eng := defaultEngine(b)
	b.Run("Evaluate", func(b *testing.B) {
		b.SetBytes(size / int64(len(events)))
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := eng.Evaluate(events[i%len(events)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("EvaluateNoCopy", func(b *testing.B) {
		b.SetBytes(size / int64(len(events)))
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := eng.EvaluateNoCopy(events[i%len(events)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("EvaluateIn", func(b *testing.B) { // an arena reset every 64 events, as the planner's batches
		b.SetBytes(size / int64(len(events)))
		b.ReportAllocs()
		var mem action.Arena
		i := 0
		for b.Loop() {
			if i%64 == 0 {
				mem.Reset()
			}
			if _, err := eng.EvaluateIn(&mem, events[i%len(events)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("gjson.ValidBytes", func(b *testing.B) {
		b.SetBytes(size / int64(len(events)))
		i := 0
		for b.Loop() {
			gjson.ValidBytes(events[i%len(events)])
			i++
		}
	})
}
