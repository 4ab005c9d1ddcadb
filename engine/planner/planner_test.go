package planner

import (
	"bytes"
	"strings"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/rules"
	"github.com/intercom-actions/intercom-actions/rules/defaults"
)

func TestRunAccountsForEveryLine(t *testing.T) {
	set, err := defaults.Load()
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
	if want := (Summary{Events: 3, Actions: 2, BadEvents: 1}); sum != want {
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
	set, err := defaults.Load()
	if err != nil {
		t.Fatal(err)
	}
	return set
}
