package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the command line in-process and returns its exit code and output.
func runCLI(t testing.TB, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func chdirRoot(t *testing.T) {
	t.Helper()
	t.Chdir(filepath.Join("..", ".."))
}

func TestCheckDefaults(t *testing.T) {
	chdirRoot(t)
	code, out, errOut := runCLI(t, "", "check", "rules/defaults")
	want := `ok: 3 rules (3 enabled)
  Identify Contact             identify_contact  when type == "identify"
  Identify Company             identify_company  when type == "group"
  Track Event                  track_event       when type == "track"
`
	if code != 0 || out != want || errOut != "" {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant stdout:\n%s", code, out, errOut, want)
	}
}

func TestCheckReportsAllErrors(t *testing.T) {
	chdirRoot(t)
	code, out, errOut := runCLI(t, "", "check", "testdata/rules/three-mistakes.yaml")
	want := `testdata/rules/three-mistakes.yaml:5:34: rule "Identify Contact": trigger: the trigger ends after "&&": something must follow it
testdata/rules/three-mistakes.yaml:13:7: rule "Track Event": field "event_nme": track_event has no such field (did you mean "event_name"?)
testdata/rules/three-mistakes.yaml:19:21: rule "Identify Company": field "size": expected a whole number, got the string "lots"
3 error(s)
`
	if code != 1 || out != "" || errOut != want {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant stderr:\n%s", code, out, errOut, want)
	}
}

func TestPlanReportsBadLinesAndSummary(t *testing.T) {
	events := `{"type":"track","event":"Signed Up","userId":"u1","timestamp":"2024-01-01T00:00:00Z","properties":{"plan":"pro"}}

not json
{"type":"page","name":"Home"}
{"type":"track","userId":"u1","timestamp":"2024-01-01T00:00:00Z"}
`
	code, out, errOut := runCLI(t, events, "plan")
	wantOut := `{"line":1,"rule":"Track Event","action":"track_event","fields":{"created_at":1704067200,"event_name":"Signed Up","metadata":{"plan":"pro"},"user_id":"u1"}}
`
	wantErrPrefix := `stdin:3: invalid event: not valid JSON: invalid character 'o' in literal null (expecting 'u') (at byte 2)
stdin:5: rule "Track Event": field event_name: required, but event is missing or empty
plan: 4 events: 1 actions, 1 skipped (no rule matched), 1 bad events, 1 rule errors in `
	if code != 1 || out != wantOut || !strings.HasPrefix(errOut, wantErrPrefix) {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant stdout:\n%s\nwant stderr prefix:\n%s", code, out, errOut, wantOut, wantErrPrefix)
	}
}

// TestPlanGoesOnAfterAnOverlongLine: a 5 MB line is reported as a bad event
// with its length, and the events after it are still planned.
func TestPlanGoesOnAfterAnOverlongLine(t *testing.T) {
	head, tail := `{"type":"track","event":"Huge","userId":"u1","properties":{"x":"`, `"}}`
	long := head + strings.Repeat("a", 5<<20-len(head)-len(tail)) + tail
	events := `{"type":"track","event":"A","userId":"u1","timestamp":"2024-01-01T00:00:00Z"}
` + long + `

{"type":"track","event":"B","userId":"u1","timestamp":"2024-01-01T00:00:00Z"}
`
	code, out, errOut := runCLI(t, events, "plan")
	wantOut := `{"line":1,"rule":"Track Event","action":"track_event","fields":{"created_at":1704067200,"event_name":"A","user_id":"u1"}}
{"line":4,"rule":"Track Event","action":"track_event","fields":{"created_at":1704067200,"event_name":"B","user_id":"u1"}}
`
	wantErrPrefix := `stdin:2: invalid event: line is 5242880 bytes, longer than the 4194304-byte limit
plan: 3 events: 2 actions, 0 skipped (no rule matched), 1 bad events, 0 rule errors in `
	if code != 1 || out != wantOut || !strings.HasPrefix(errOut, wantErrPrefix) {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%.500s\nwant stdout:\n%s\nwant stderr prefix:\n%s", code, out, errOut, wantOut, wantErrPrefix)
	}
}

func TestPlanSampleEventsIsClean(t *testing.T) {
	chdirRoot(t)
	code, out, errOut := runCLI(t, "", "plan", "testdata/events/sample.ndjson")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut)
	}
	if n := strings.Count(out, "\n"); n < 8 {
		t.Errorf("planned %d actions for the sample events, want at least 8:\n%s", n, out)
	}
}

func TestTestCommandRunsGoldenCasesAndShowsDiff(t *testing.T) {
	chdirRoot(t)
	code, out, _ := runCLI(t, "", "test", "testdata/cases")
	if code != 0 || !strings.Contains(out, " failed") || !strings.HasSuffix(out, " 0 failed\n") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}

	// A case whose want is wrong fails with a readable diff.
	dir := t.TempDir()
	c := filepath.Join(dir, "wrong.txtar")
	src := "-- events.ndjson --\n{\"type\":\"page\"}\n-- want --\nskip: line 2: no rule matched\n"
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, "", "test", c)
	want := "FAIL " + c + `
    --- want
    +++ got
    @@ line 1
    - skip: line 2: no rule matched
    + skip: line 1: no rule matched
    + summary: 1 events: 0 actions, 1 skipped (no rule matched), 0 bad events, 0 rule errors
1 cases: 0 passed, 1 failed
`
	if code != 1 || out != want {
		t.Errorf("exit %d, output:\n%s\nwant:\n%s", code, out, want)
	}

	// -update rewrites it, and then it passes.
	if code, out, _ = runCLI(t, "", "test", "-update", c); code != 0 || out != "updated "+c+"\n1 cases: 1 passed, 0 failed, 1 updated\n" {
		t.Errorf("update: exit %d, output:\n%s", code, out)
	}
	if code, _, _ = runCLI(t, "", "test", c); code != 0 {
		t.Errorf("after update the case still fails")
	}
}

func TestHelp(t *testing.T) {
	for _, cmd := range []string{"check", "plan", "test", "send", "simulate", "delete"} {
		code, out, errOut := runCLI(t, "", cmd, "--help")
		if code != 0 || !strings.HasPrefix(out, "Usage: intercom-actions "+cmd) || !strings.Contains(out, "Flags:") || errOut != "" {
			t.Errorf("%s --help: exit %d, stdout:\n%s\nstderr:\n%s", cmd, code, out, errOut)
		}
	}
	if code, _, errOut := runCLI(t, "", "plan", "--nope"); code != 2 || errOut != "intercom-actions plan: unknown flag --nope\nRun 'intercom-actions plan --help' for its flags.\n" {
		t.Errorf("bad flag: exit %d, stderr:\n%s", code, errOut)
	}
	code, out, _ := runCLI(t, "", "--help")
	if code != 0 || !strings.Contains(out, "plan       show the Intercom actions events would cause (no network)") {
		t.Errorf("--help: exit %d, output:\n%s", code, out)
	}
	if code, _, errOut := runCLI(t, "", "frobnicate"); code != 2 || !strings.HasPrefix(errOut, `intercom-actions: unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, stderr %s", code, errOut)
	}
	// A typo of a command gets the command it was meant to be, not the list.
	want := "intercom-actions: unknown command \"sned\" (did you mean \"send\"?)\nRun 'intercom-actions --help' for the commands.\n"
	if code, _, errOut := runCLI(t, "", "sned"); code != 2 || errOut != want {
		t.Errorf("a typo: exit %d, stderr %q, want %q", code, errOut, want)
	}
}
