package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/intercom-actions/intercom-actions/rules"
)

const (
	trackSignedUp = `{"type":"track","event":"Signed Up","userId":"u1","timestamp":"2024-01-01T00:00:00Z","properties":{"plan":"pro"}}`
	// proOnly replaces the default Track Event rule and adds one.
	proOnly = `rules:
  - name: Track Event
    action: track_event
    trigger: type == "track" && properties.plan == "pro"
  - name: Page Views
    action: track_event
    trigger: type == "page"
    fields:
      event_name: {template: "Viewed {{name}}"}
`
)

// TestFlagsAfterFileNames: `plan events.ndjson --rules x.yaml` used to plan
// with the defaults and then fail to open a file named --rules.
func TestFlagsAfterFileNames(t *testing.T) {
	events := writeFile(t, t.TempDir(), "events.ndjson", trackSignedUp+"\n")
	rulesFile := writeFile(t, t.TempDir(), "r.yaml", "rules:\n  - name: Mine\n    action: track_event\n")
	code, out, errOut := runCLI(t, "", "plan", events, "--rules", rulesFile)
	want := `{"line":1,"rule":"Mine","action":"track_event","fields":{"created_at":1704067200,"event_name":"Signed Up","metadata":{"plan":"pro"},"user_id":"u1"}}` + "\n"
	if code != 0 || out != want {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant stdout:\n%s", code, out, errOut, want)
	}
	// After "--", everything is a file name, even what looks like a flag.
	code, _, errOut = runCLI(t, "", "plan", "--", "--rules")
	if code != 1 || !strings.Contains(errOut, "plan: open --rules: no such file or directory") {
		t.Errorf("after --: exit %d, stderr:\n%s", code, errOut)
	}
	// An unknown flag after a file name is a usage error before any work.
	code, out, errOut = runCLI(t, trackSignedUp, "plan", events, "--prety")
	if code != 2 || out != "" || errOut != "intercom-actions plan: unknown flag --prety (did you mean --pretty?)\nRun 'intercom-actions plan --help' for its flags.\n" {
		t.Errorf("bad flag: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
}

// TestPlanPrettyIsAJSONStream: every line planned, skipped or failed is a
// JSON object in the --pretty output, which a JSON decoder (or jq) reads
// whole.
func TestPlanPrettyIsAJSONStream(t *testing.T) {
	events := trackSignedUp + "\n" + `{"type":"page","name":"Home"}` + "\n" + "not json\n" +
		`{"type":"track","userId":"u1","timestamp":"2024-01-01T00:00:00Z"}` + "\n"
	code, out, _ := runCLI(t, events, "plan", "--pretty")
	want := `{
  "line": 1,
  "rule": "Track Event",
  "action": "track_event",
  "fields": {
    "created_at": 1704067200,
    "event_name": "Signed Up",
    "metadata": {
      "plan": "pro"
    },
    "user_id": "u1"
  }
}
{
  "line": 2,
  "skip": "no rule matched"
}
{
  "line": 3,
  "error": "invalid event: not valid JSON: invalid character 'o' in literal null (expecting 'u') (at byte 2)"
}
{
  "line": 4,
  "rule": "Track Event",
  "error": "field event_name: required, but event is missing or empty"
}
`
	if code != 1 || out != want {
		t.Errorf("exit %d\nstdout:\n%s\nwant:\n%s", code, out, want)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	n := 0
	for {
		var v map[string]any
		if err := dec.Decode(&v); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("object %d: %v", n+1, err)
		}
		n++
	}
	if n != 4 {
		t.Errorf("%d JSON objects, want 4", n)
	}
}

// TestRulesWithDefaults: --with-defaults layers the --rules files on the
// embedded defaults: a rule named like a default one replaces it in its
// place, the others are added.
func TestRulesWithDefaults(t *testing.T) {
	rulesFile := writeFile(t, t.TempDir(), "pro.yaml", proOnly)
	code, out, errOut := runCLI(t, "", "check", "--with-defaults", rulesFile)
	want := `ok: 4 rules (4 enabled)
layered on the defaults; replaced: Track Event
  Identify Contact             identify_contact  when type == "identify"
  Identify Company             identify_company  when type == "group"
  Track Event                  track_event       when type == "track" && properties.plan == "pro"
  Page Views                   track_event       when type == "page"
`
	if code != 0 || out != want {
		t.Errorf("check: exit %d\nstdout:\n%s\nstderr:\n%s\nwant:\n%s", code, out, errOut, want)
	}

	events := strings.Join([]string{
		`{"type":"identify","userId":"u1","traits":{"email":"a@example.com"}}`,
		`{"type":"track","event":"Signed Up","userId":"u1","timestamp":"2024-01-01T00:00:00Z","properties":{"plan":"free"}}`,
		`{"type":"page","name":"Home","userId":"u1","timestamp":"2024-01-01T00:00:00Z"}`,
	}, "\n") + "\n"
	code, out, errOut = runCLI(t, events, "plan", "--rules", rulesFile, "--with-defaults")
	wantPlan := `{"line":1,"rule":"Identify Contact","action":"identify_contact","fields":{"email":"a@example.com","external_id":"u1","role":"user"}}
{"line":3,"rule":"Page Views","action":"track_event","fields":{"created_at":1704067200,"event_name":"Viewed Home","user_id":"u1"}}
`
	if code != 0 || out != wantPlan {
		t.Errorf("plan: exit %d\nstdout:\n%s\nstderr:\n%s\nwant:\n%s", code, out, errOut, wantPlan)
	}
	// Without --with-defaults the file replaces the defaults: no identify.
	code, out, _ = runCLI(t, events, "plan", "--rules", rulesFile)
	if code != 0 || strings.Contains(out, "Identify Contact") {
		t.Errorf("plan without --with-defaults: exit %d\n%s", code, out)
	}
}

// TestDefaultsCommand prints the embedded rule file as it is, which check
// then accepts: the way to start one's own rules from an installed binary.
func TestDefaultsCommand(t *testing.T) {
	code, out, errOut := runCLI(t, "", "defaults")
	var want []byte
	for _, src := range rules.Defaults() {
		if src.Name == "segment.yaml" {
			want = src.Data
		}
	}
	if want == nil {
		t.Fatal("no embedded segment.yaml")
	}
	if code != 0 || out != string(want) || errOut != "" {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
	saved := writeFile(t, t.TempDir(), "rules.yaml", out)
	if code, out, errOut := runCLI(t, "", "check", saved); code != 0 || !strings.HasPrefix(out, "ok: 3 rules (3 enabled)\n") {
		t.Errorf("check of the printed defaults: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "", "defaults", "extra"); code != 2 || errOut != "defaults: takes no arguments (see defaults --help)\n" {
		t.Errorf("defaults extra: exit %d, stderr %q", code, errOut)
	}
}

func TestVersion(t *testing.T) {
	suffix := " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	info := func(v string, settings ...debug.BuildSetting) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			return &debug.BuildInfo{Main: debug.Module{Version: v}, Settings: settings}, true
		}
	}
	for _, tc := range []struct {
		read func() (*debug.BuildInfo, bool)
		want string
	}{
		{info("v1.2.0", debug.BuildSetting{Key: "vcs.revision", Value: "4d9fc48aa1b2c3d4e5f6"},
			debug.BuildSetting{Key: "vcs.time", Value: "2024-03-01T12:00:00Z"}),
			"intercom-actions v1.2.0 (commit 4d9fc48aa1b2, 2024-03-01T12:00:00Z)" + suffix},
		{info("(devel)", debug.BuildSetting{Key: "vcs.revision", Value: "abc"}, debug.BuildSetting{Key: "vcs.modified", Value: "true"}),
			"intercom-actions (devel) (commit abc, with local changes)" + suffix},
		{info("(devel)"), "intercom-actions (devel)" + suffix},
		{func() (*debug.BuildInfo, bool) { return nil, false }, "intercom-actions (unknown)" + suffix},
	} {
		if got := versionLine(tc.read); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
	code, out, _ := runCLI(t, "", "version")
	code2, out2, _ := runCLI(t, "", "--version")
	if code != 0 || code2 != 0 || !strings.HasPrefix(out, "intercom-actions ") || !strings.HasSuffix(out, suffix+"\n") || out != out2 {
		t.Errorf("version: exit %d %q; --version: exit %d %q", code, out, code2, out2)
	}
}

// TestBadFlagValuesAreRefused: values that cannot work are usage errors
// (exit 2, a short message naming the flag and pointing to --help, not
// the whole usage) before any work is done.
func TestBadFlagValuesAreRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"send", "--concurrency", "0", "events.ndjson"}, `intercom-actions send: invalid value "0" for --concurrency: must be at least 1`},
		{[]string{"send", "--concurrency", "lots"}, `intercom-actions send: invalid value "lots" for --concurrency: not a whole number`},
		{[]string{"send", "--contact-wait", "-5s"}, `intercom-actions send: invalid value "-5s" for --contact-wait: must not be negative`},
		{[]string{"send", "--contact-wait", "30"}, `intercom-actions send: invalid value "30" for --contact-wait: not a duration (such as 30s, 5m or 1h)`},
		{[]string{"serve", "--concurrency", "0"}, `intercom-actions serve: invalid value "0" for --concurrency: must be at least 1`},
		{[]string{"serve", "--shutdown-timeout", "-1s"}, `intercom-actions serve: invalid value "-1s" for --shutdown-timeout: must not be negative`},
		{[]string{"simulate", "--error-rate", "5"}, `intercom-actions simulate: invalid value "5" for --error-rate: must be a fraction from 0 to 1, such as 0.05`},
		{[]string{"simulate", "--rate-limit", "-1"}, `intercom-actions simulate: invalid value "-1" for --rate-limit: must be at least 0`},
		{[]string{"simulate", "--window", "0s"}, `intercom-actions simulate: invalid value "0s" for --window: must be at least 1ms`},
	} {
		code, out, errOut := runCLI(t, "", tc.args...)
		want := tc.want + "\nRun 'intercom-actions " + tc.args[0] + " --help' for its flags.\n"
		if code != 2 || out != "" || errOut != want {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%.300s", tc.args, code, out, errOut)
		}
	}
}

func TestHelpOfNewCommands(t *testing.T) {
	for _, cmd := range []string{"defaults", "version"} {
		code, out, errOut := runCLI(t, "", cmd, "--help")
		if code != 0 || !strings.HasPrefix(out, "Usage: intercom-actions "+cmd) || errOut != "" {
			t.Errorf("%s --help: exit %d, stdout:\n%s\nstderr:\n%s", cmd, code, out, errOut)
		}
	}
	var b bytes.Buffer
	usage(&b)
	for _, line := range []string{"  defaults   print the embedded default rules", "  version    print the version"} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("usage lacks %q:\n%s", line, b.String())
		}
	}
}

// TestFlagMistakesAreShort: a mistyped flag gets one line naming it, the
// closest flag the command has, and where its flags are listed; not the
// whole usage.
func TestFlagMistakesAreShort(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"send", "--concurrent", "3"}, "intercom-actions send: unknown flag --concurrent (did you mean --concurrency?)"},
		{[]string{"plan", "--rule", "r.yaml"}, "intercom-actions plan: unknown flag --rule (did you mean --rules?)"},
		{[]string{"check", "--rules", "r.yaml"}, "intercom-actions check: unknown flag --rules (the rule files are this command's arguments)"},
		{[]string{"plan", "--xyzzy"}, "intercom-actions plan: unknown flag --xyzzy"},
		{[]string{"plan", "--rules"}, "intercom-actions plan: --rules needs a value (--rules VALUE or --rules=VALUE)"},
		{[]string{"plan", "--pretty=maybe"}, `intercom-actions plan: invalid value "maybe" for --pretty: expected true or false (--pretty alone is true)`},
	} {
		code, out, errOut := runCLI(t, "", tc.args...)
		want := tc.want + "\nRun 'intercom-actions " + tc.args[0] + " --help' for its flags.\n"
		if code != 2 || out != "" || errOut != want {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s\nwant:\n%s", tc.args, code, out, errOut, want)
		}
	}
	code, out, errOut := runCLI(t, "", "sned")
	if want := "intercom-actions: unknown command \"sned\" (did you mean \"send\"?)\nRun 'intercom-actions --help' for the commands.\n"; code != 2 || out != "" || errOut != want {
		t.Errorf("sned: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
}

// TestCheckAndPlanWarnOfMetadataLimit: rules that can give Intercom more
// than 10 metadata keys without keep load, with a warning from check and
// from plan on standard error; the events are planned as ever.
func TestCheckAndPlanWarnOfMetadataLimit(t *testing.T) {
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "r.yaml")
	src := "rules:\n  - name: Track Event\n    action: track_event\n    fields:\n      metadata: {path: properties, flatten: \"_\"}\n"
	if err := os.WriteFile(rulesFile, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	warning := rulesFile + `:5:24: rule "Track Event": field "metadata": warning: flatten can make more than 10 keys of properties: Intercom keeps the first 10 of an event; name those that matter most with keep: [...]` + "\n"
	code, out, errOut := runCLI(t, "", "check", rulesFile)
	if code != 0 || errOut != warning || !strings.HasPrefix(out, "ok: 1 rules (1 enabled)\n") {
		t.Errorf("check: exit %d\nstdout:\n%s\nstderr:\n%s\nwant stderr:\n%s", code, out, errOut, warning)
	}
	code, out, errOut = runCLI(t, trackSignedUp+"\n", "plan", "--rules", rulesFile)
	if code != 0 || !strings.HasPrefix(errOut, "plan: "+warning) || !strings.Contains(out, `"metadata":{"plan":"pro"}`) {
		t.Errorf("plan: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}
