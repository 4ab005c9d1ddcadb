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

func TestRunRefusesOverlongLines(t *testing.T) {
	eng, _ := engine.Compile(mustDefaults(t))
	long := `{"type":"track","x":"` + strings.Repeat("a", MaxLine) + `"}`
	_, err := Run(eng, strings.NewReader("{}\n"+long+"\n"), func(*Result) error { return nil })
	if err == nil || err.Error() != "line 2: longer than 4194304 bytes" {
		t.Errorf("err = %v", err)
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
