package planner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/rules"
)

func TestRunAccountsForEveryLine(t *testing.T) {
	set, err := rules.ParseAll(rules.Defaults()...)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	in := `{"type":"track","event":"E","userId":"u1","timestamp":1700000000,"properties":{"a":1}}

{"type":"page"}
{"type":"track","userId":"u1","timestamp":1700000000}
oops
`
	var out bytes.Buffer
	sum, err := Run(eng, strings.NewReader(in), func(r *Result) error { return WriteJSON(&out, r) })
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{Events: 4, Actions: 1, Skipped: 1, BadEvents: 1, RuleErrors: 1}
	if sum != want || !sum.Failed() {
		t.Errorf("summary %+v, want %+v", sum, want)
	}
	if got := sum.String(); got != "4 events: 1 actions, 1 skipped (no rule matched), 1 bad events, 1 rule errors" {
		t.Errorf("String() = %q", got)
	}
	wantOut := `{"line":1,"rule":"Track Event","action":"track_event","fields":{"created_at":1700000000,"event_name":"E","metadata":{"a":1},"user_id":"u1"}}` + "\n"
	if out.String() != wantOut {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), wantOut)
	}
}

// TestRunGoesOnAfterAnOverlongLine: a 5 MB line is a bad event, reported
// with its length, and the lines after it are planned.
func TestRunGoesOnAfterAnOverlongLine(t *testing.T) {
	eng, err := engine.Compile(mustDefaults(t))
	if err != nil {
		t.Fatal(err)
	}
	head, tail := `{"type":"track","event":"E","userId":"u1","properties":{"x":"`, `"}}`
	long := head + strings.Repeat("a", 5<<20-len(head)-len(tail)) + tail
	good := `{"type":"track","event":"E","userId":"u1","timestamp":1700000000}`
	var out bytes.Buffer
	sum, err := Run(eng, strings.NewReader(good+"\n"+long+"\n\n"+good+"\n"), func(r *Result) error {
		if r.Line == 2 && !bytes.Equal(r.Event, []byte(long[:1024])) {
			t.Errorf("line 2 came with %d bytes, want the line's first KiB", len(r.Event))
		}
		return WriteReadable(&out, r)
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Summary{Events: 3, Actions: 2, BadEvents: 1, SameSecond: 1}); sum != want { // the two good lines are one event to Intercom
		t.Errorf("summary %+v, want %+v", sum, want)
	}
	got := out.String()
	if !strings.Contains(got, "error: line 2: invalid event: line is 5242880 bytes, longer than the 4194304-byte limit\n") ||
		strings.Count(got, `"line": 1,`) != 1 || strings.Count(got, `"line": 4,`) != 1 {
		t.Errorf("output:\n%s", got)
	}
}

func mustDefaults(t *testing.T) *rules.Set {
	t.Helper()
	set, err := rules.ParseAll(rules.Defaults()...)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// TestAppendJSONIsWhatEncodingJSONWrites: a plan line holds the bytes
// encoding/json writes for the same values (HTML unescaped, compact):
// characters that need escaping, a rich metadata object written with
// spaces, and warnings.
func TestAppendJSONIsWhatEncodingJSONWrites(t *testing.T) {
	eng, _ := engine.Compile(mustDefaults(t))
	ev := "{\"type\":\"track\",\"event\":\"<b>Tom & Jerry</b>\",\"userId\":\"u\\u00e9\\n\\u2028\",\"timestamp\":1700000000," +
		"\"properties\":{\"link\":{ \"url\" : \"https://x.test/?a=1&b=2\",\t \"value\": \"x\" },\"n\":1.50,\"nested\":{\"a\":1}}}"
	var out bytes.Buffer
	if _, err := Run(eng, strings.NewReader(ev+"\n"), func(r *Result) error { return WriteJSON(&out, r) }); err != nil {
		t.Fatal(err)
	}
	want := `{"line":1,"rule":"Track Event","action":"track_event","fields":{"created_at":1700000000,"event_name":"<b>Tom & Jerry</b>",` +
		`"metadata":{"link":{"url":"https://x.test/?a=1&b=2","value":"x"},"n":1.50},"user_id":"u` + "é\\n\\u2028" + `"},` +
		`"warnings":["metadata: dropped \"nested\" (nested object; Intercom takes only flat values)"]}` + "\n"
	if out.String() != want {
		t.Errorf("got  %s\nwant %s", out.String(), want)
	}
	var check bytes.Buffer
	if err := json.Compact(&check, out.Bytes()); err != nil || check.String() != strings.TrimSuffix(want, "\n") {
		t.Errorf("not compact, valid JSON: %v", err)
	}
}

// TestRunWithKeepsOrderAndStops: thousands of lines through 4 workers come
// back in input order with their rendered output, and an error from fn
// stops the run at once, leaving no goroutine behind.
func TestRunWithKeepsOrderAndStops(t *testing.T) {
	eng, _ := engine.Compile(mustDefaults(t))
	var in strings.Builder
	for i := 1; i <= 5000; i++ {
		if i%7 == 0 {
			in.WriteString("\n") // a blank line keeps its number
			continue
		}
		fmt.Fprintf(&in, `{"type":"track","event":"E%d","userId":"u","timestamp":1700000000}`+"\n", i)
	}
	next := 1
	sum, err := RunWith(eng, strings.NewReader(in.String()), Options{Workers: 4, Render: AppendJSON}, func(r *Result) error {
		if next%7 == 0 {
			next++
		}
		want := fmt.Sprintf(`{"line":%d,"rule":"Track Event","action":"track_event","fields":{"created_at":1700000000,"event_name":"E%d","user_id":"u"}}`+"\n", next, next)
		if r.Line != next || string(r.Output) != want {
			t.Fatalf("got line %d %q, want line %d %q", r.Line, r.Output, next, want)
		}
		next++
		return nil
	})
	if err != nil || sum.Events != 5000-5000/7 || sum.Actions != sum.Events {
		t.Fatalf("summary %+v, %v", sum, err)
	}

	before := runtime.NumGoroutine()
	stopErr := errors.New("enough")
	seen := 0
	_, err = RunWith(eng, strings.NewReader(in.String()), Options{Workers: 4}, func(*Result) error {
		if seen++; seen == 100 {
			return stopErr
		}
		return nil
	})
	if err != stopErr || seen != 100 {
		t.Fatalf("err %v after %d results, want %v after 100", err, seen, stopErr)
	}
	for deadline := time.Now().Add(30 * time.Second); runtime.NumGoroutine() > before && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines left behind", n-before)
	}
}

// TestRunWithMatchesEvaluatingEachLineAlone: batches, their buffers and
// their actions' arenas are reused through a run; every line's output is
// still what planning that line alone gives. The events differ in kind,
// size and fields, so a batch's memory holds other events' before it.
func TestRunWithMatchesEvaluatingEachLineAlone(t *testing.T) {
	eng, _ := engine.Compile(mustDefaults(t))
	var lines []string
	kinds := rand.New(rand.NewPCG(1, 2)) // so that a batch's slots held other kinds before
	for i := range 3000 {
		switch kinds.IntN(5) {
		case 0:
			lines = append(lines, fmt.Sprintf(`{"type":"identify","userId":"u%d","traits":{"email":"u%d@example.com","name":"User %d","plan":"p%d","createdAt":%d,"tags":["a","b"]}}`, i, i, i, i%3, 1700000000+i))
		case 1:
			lines = append(lines, fmt.Sprintf(`{"type":"group","userId":"u%d","groupId":"g%d","traits":{"name":"Co %d","employees":%d}}`, i, i/7, i/7, i))
		case 2:
			lines = append(lines, fmt.Sprintf(`{"type":"track","userId":"u%d","event":"Bought","timestamp":"2024-03-01T10:00:%02dZ","properties":{"revenue":%d.5,"currency":"eur","sku":"s%d","variant":{"c":1}}}`, i, i%60, i, i))
		case 3:
			lines = append(lines, fmt.Sprintf(`{"type":"track","userId":"u%d","event":"Viewed %d","timestamp":%d}`, i, i, 1700000000+i))
		default:
			lines = append(lines, fmt.Sprintf(`{"type":"track","event":"nobody %d"}`, i)) // a rule error
		}
	}
	want := make([]string, len(lines))
	for i, l := range lines {
		acts, err := eng.EvaluateNoCopy([]byte(l))
		want[i] = string(AppendJSON(nil, &Result{Line: i + 1, Actions: acts, Err: err})) + fmt.Sprint(err)
	}
	n := 0
	_, err := RunWith(eng, strings.NewReader(strings.Join(lines, "\n")), Options{Workers: 2, Render: AppendJSON}, func(r *Result) error {
		if got := string(r.Output) + fmt.Sprint(r.Err); r.Line != n+1 || got != want[n] {
			t.Fatalf("line %d:\n got %s\nwant %s", r.Line, got, want[n])
		}
		n++
		return nil
	})
	if err != nil || n != len(lines) {
		t.Fatalf("%d lines, %v", n, err)
	}
}
